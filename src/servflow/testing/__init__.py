"""The testing kit: scenario files that tell a case's life, property tests, a pytest plugin.

``load_scenario(path)`` reads a scenario file (:mod:`servflow.testing.scenarios`);
``run_scenario(scenario, engine)`` runs it in memory and returns a
:class:`ScenarioResult` (:mod:`servflow.testing.runner`). ``servflow test`` is the same
from the command line; the format is described in ``docs/scenarios.md``.

:mod:`servflow.testing.stateful` (a hypothesis state machine per procedure) and
:mod:`servflow.testing.strategies` need hypothesis and are imported on their own, so that
scenarios run without it (``docs/testing.md``).
"""

from servflow.testing.runner import Failure, ScenarioResult, engine_for, run_scenario
from servflow.testing.scenarios import (
    Expectation,
    Scenario,
    ScenarioError,
    Step,
    load_scenario,
    load_scenario_text,
)

__all__ = [
    "Expectation",
    "Failure",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "Step",
    "engine_for",
    "load_scenario",
    "load_scenario_text",
    "run_scenario",
]
