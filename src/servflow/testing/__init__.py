"""The testing kit: scenario files that tell a case's life, and a pytest plugin.

``load_scenario(path)`` reads a scenario file (:mod:`servflow.testing.scenarios`);
``run_scenario(scenario, engine)`` runs it in memory and returns a
:class:`ScenarioResult` (:mod:`servflow.testing.runner`). ``servflow test`` is the same
from the command line; the format is described in ``docs/scenarios.md``.
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
