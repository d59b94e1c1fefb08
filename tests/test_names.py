"""One name, one meaning: the public surface holds no internals, and renamed names still
work, with a deprecation warning, for the code written against them."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import servflow
import servflow.engine
from servflow._hints import did_you_mean
from servflow.model import EffectSpec

SRC = Path(servflow.__file__).resolve().parent

# The engine's own constructors and lookups: not for hosts, never in a public __all__.
INTERNALS = {"trusted", "case_event", "effect", "compiled", "_trusted", "_case_event", "_effect"}


@pytest.mark.parametrize("module", [servflow, servflow.engine], ids=lambda m: m.__name__)
def test_the_public_names_hold_no_internals(module):
    public = set(module.__all__)
    assert not public & INTERNALS
    assert not [name for name in public if name.startswith("_") and name != "__version__"]
    # Every public name is really there, and none of them is a deprecated alias.
    for name in public:
        assert getattr(module, name) is not None


def test_the_engine_values_module_exports_no_constructors():
    import servflow.engine.case as case

    assert not set(case.__all__) & INTERNALS
    assert {"Actor", "Case", "Effect", "Event", "Outcome", "TimerState"} <= set(case.__all__)


def test_the_engines_output_and_the_files_spec_have_different_names():
    assert servflow.Effect is servflow.engine.Effect
    assert servflow.Effect is not EffectSpec
    assert "Effect" not in importlib.import_module("servflow.model").__all__
    assert "EffectSpec" in importlib.import_module("servflow.procedures").__all__


@pytest.mark.parametrize("module_name", ["servflow.model", "servflow.procedures"])
def test_the_old_name_of_the_effect_spec_warns_and_still_works(module_name):
    module = importlib.import_module(module_name)
    with pytest.deprecated_call(match="EffectSpec"):
        old = module.Effect
    assert old is EffectSpec
    spec = old(notify="maintenance", template="work_order")
    assert (spec.notify, spec.template) == ("maintenance", "work_order")
    with pytest.raises(AttributeError, match="no attribute 'Efect'"):
        _ = module.Efect


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in SRC.rglob("*.py")]


def test_the_name_hint_has_one_name():
    """`did_you_mean` is the one function; no module binds it to a second name."""
    aliases = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            value = node.value if isinstance(node, ast.Assign) else None
            if isinstance(value, ast.Name) and value.id == "did_you_mean":
                aliases.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module == "servflow._hints":
                aliases.extend(
                    f"{path.name}:{node.lineno}"
                    for a in node.names
                    if a.asname is not None and a.asname != a.name
                )
            if isinstance(node, ast.FunctionDef) and node.name in ("suggest", "_suggest"):
                aliases.append(f"{path.name}:{node.lineno}")
    assert aliases == []
    assert did_you_mean("recorderd", {"recorded", "closed"}) == "; did you mean 'recorded'?"
    assert did_you_mean("zzz", {"recorded"}) == ""


def _effect() -> servflow.Effect:
    from datetime import UTC, datetime

    return servflow.Effect(
        kind="notify",
        case_id="c1",
        at=datetime(2026, 11, 23, 9, tzinfo=UTC),
        trigger="dispatch",
        recipient="maintenance",
        template="work_order",
    )


def _timer() -> servflow.engine.TimerState:
    from datetime import UTC, datetime

    return servflow.engine.TimerState(
        calendar="office",
        within="until reply_due",
        started_at=datetime(2026, 11, 23, 9, tzinfo=UTC),
        budget_seconds=3600,
    )


def test_an_effect_names_its_recipient_and_stores_it_as_target():
    effect = _effect()
    stored = effect.model_dump(mode="json")
    assert stored["target"] == "maintenance"
    assert "recipient" not in stored
    # What hosts stored (and builders that used the stored key) read back the same.
    assert servflow.Effect.model_validate(stored) == effect
    assert servflow.Effect.model_validate_json(effect.model_dump_json()) == effect


def test_a_timer_names_the_within_entry_in_force_and_stores_it_as_target():
    timer = _timer()
    stored = timer.model_dump(mode="json")
    assert stored["target"] == "until reply_due"
    assert "within" not in stored
    assert servflow.engine.TimerState.model_validate(stored) == timer


def test_effect_target_warns_and_still_works():
    effect = _effect()
    with pytest.deprecated_call(match=r"Effect\.recipient"):
        assert effect.target == "maintenance"


def test_timer_state_target_warns_and_still_works():
    timer = _timer()
    with pytest.deprecated_call(match=r"TimerState\.within"):
        assert timer.target == "until reply_due"


def test_the_engine_reads_no_deprecated_name_on_a_run():
    """A whole case (effects, timers, a breach, replay) under warnings-as-errors."""
    import warnings
    from datetime import UTC, datetime, timedelta

    from servflow import Actor

    engine = servflow.Engine.standard()
    at = datetime(2026, 11, 23, 1, tzinfo=UTC)
    clerk = Actor(id="u1", roles={"repair_reception"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = engine.start(
            "repair",
            actor=clerk,
            data={
                "resident_name": "陳大文",
                "address": "A座 1203",
                "phone": "138 0013 8000",
                "fault": "廚房水龍頭漏水",
                "appointment_at": "2026-11-23T14:00:00+08:00",
            },
            at=at,
        )
        late = engine.advance(out.case, at=at + timedelta(days=30))
        events = (*out.events, *late.events)
        assert engine.replay(events) == late.case
    assert late.effects
    assert all(e.recipient for e in (*out.effects, *late.effects))
    assert late.case.timers
    assert all(t.within for t in late.case.timers.values())


def test_a_timer_names_the_breach_actions_done_and_stores_them_as_steps_done():
    timer = _timer().model_copy(update={"actions_done": (0, 2)})
    stored = timer.model_dump(mode="json")
    assert stored["steps_done"] == [0, 2]
    assert "actions_done" not in stored
    assert servflow.engine.TimerState.model_validate(stored) == timer
    with pytest.deprecated_call(match=r"TimerState\.actions_done"):
        assert timer.steps_done == (0, 2)


def test_the_former_internal_names_are_gone_and_the_new_ones_are_not_exported():
    # The engine's modules switched to these names; the former ones went with the last
    # caller, so that no module can reach the same object by two names.
    import servflow.engine.case as case
    import servflow.engine.compiled as compiled
    import servflow.engine.limits as limits

    for module, old, new in [
        (case, "trusted", "_trusted"),
        (case, "case_event", "_case_event"),
        (case, "effect", "_effect"),
        (compiled, "CompiledStep", "CompiledBranch"),
        (limits, "BreachStep", "CompiledBreachAction"),
        (limits, "StepDue", "ActionDue"),
    ]:
        assert not hasattr(module, old), old
        assert hasattr(module, new), new
        assert old not in module.__all__
    assert not hasattr(servflow.Engine, "compiled")
    limits_of_repair = servflow.Engine.standard()._compiled("repair").limits
    assert any(limit.breach_actions for limit in limits_of_repair)
    for limit in limits_of_repair:
        assert not hasattr(limit, "steps")
