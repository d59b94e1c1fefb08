"""The testing kit for adopters: a hypothesis state machine per procedure."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from servflow import Engine
from servflow.engine import native_modules
from servflow.procedures import load_procedure
from servflow.testing.stateful import procedure_machine

REPO = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_directory(REPO / "procedures")
FAST = settings(
    max_examples=25, stateful_step_count=15, deadline=None, suppress_health_check=list(HealthCheck)
)


@pytest.mark.parametrize(
    "procedure",
    # Every procedure of the standard catalogue, at its latest version.
    sorted({p.id for p in Engine.standard().procedures()}),
)
def test_the_seed_procedures_pass_the_machine(procedure):
    run_state_machine_as_test(procedure_machine(ENGINE, procedure), settings=FAST)


BROKEN_RULE = """\
servflow: 1
id: leaky
version: 1
title: {en: Leaky}
roles: {clerk: {title: {en: Clerk}}}
fields:
  amount: {type: integer, title: {en: Amount}}
states:
  open: {title: {en: Open}}
  done: {title: {en: Done}, final: true}
start: {to: open, roles: [clerk], accepts: [amount]}
transitions:
  finish: {from: open, to: done, roles: [clerk], accepts: [amount]}
invariants:
  - {name: small amounts only, check: "amount is none or amount < 50"}
"""


def test_a_procedure_with_rules_passes_when_the_engine_keeps_them():
    # `start` and `finish` check the invariant, so no random life can break it.
    engine = Engine([load_procedure(BROKEN_RULE)])
    run_state_machine_as_test(procedure_machine(engine, "leaky"), settings=FAST)


@pytest.mark.skipif(
    "servflow.engine.step" in native_modules(),
    reason="the compiled step calls check_invariants directly: monkeypatching the module "
    "reaches no compiled caller (the pure build's run covers this test)",
)
def test_the_machine_catches_an_engine_that_breaks_a_rule(monkeypatch):
    """If the engine ever let an invariant slip, the machine would say so."""
    from servflow.engine import step

    engine = Engine([load_procedure(BROKEN_RULE)])
    monkeypatch.setattr(step, "check_invariants", lambda *args, **kwargs: None)
    with pytest.raises((AssertionError, Flaky), match="small amounts only"):
        run_state_machine_as_test(
            procedure_machine(engine, "leaky"),
            settings=settings(FAST, max_examples=200, database=None, phases=[Phase.generate]),
        )
