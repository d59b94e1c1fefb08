"""Cases and timers share one record of the fields they set, and cases one copy of a digest.

``engine/case.py``'s ``_Compact`` lets a case, timer or cycle record that was given every
field use the one ``model_fields_set`` its class shares (a timer's own set took 2.2 KB).
What a host can see must not change: the fields set are the fields given, a case given
fewer keeps its own record, ``model_copy`` leaves the shared set alone, and every saved
case reads back and dumps exactly as it was written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow import Case
from servflow.engine.case import TimerState
from tests.saved_cases import SAVED
from tests.strategies import lives
from tests.test_engine_properties import ENGINE, _live


def _saved_cases() -> list[dict[str, Any]]:
    runs = json.loads(SAVED.read_text(encoding="utf-8"))["runs"]
    return [step["case"] for run in runs.values() for step in run["steps"] if step.get("case")]


def test_every_saved_case_reads_back_and_dumps_as_written() -> None:
    cases = _saved_cases()
    assert len(cases) > 40
    for stored in cases:
        case = Case.model_validate(stored)
        assert case.model_fields_set == set(stored)
        assert case.model_dump(mode="json") == stored
        again = Case.model_validate_json(json.dumps(stored).encode())
        assert again == case
        for timer in case.timers.values():
            assert timer.model_fields_set == set(TimerState.model_fields)


def test_a_case_given_fewer_fields_keeps_its_own_record() -> None:
    stored = _saved_cases()[0]
    fewer = {k: v for k, v in stored.items() if k not in ("next_due", "escalation_level")}
    case = Case.model_validate(fewer)
    assert case.model_fields_set == set(fewer)
    assert Case.model_validate(stored).model_fields_set == set(stored)
    assert "next_due" not in case.model_dump(exclude_unset=True)


def test_model_copy_leaves_the_shared_record_alone() -> None:
    stored = _saved_cases()[0]
    case = Case.model_validate({**stored, "parent": None})
    shared = case.__pydantic_fields_set__
    copied = case.model_copy(update={"state": "elsewhere"})
    assert copied.state == "elsewhere"
    assert case.__pydantic_fields_set__ == set(Case.model_fields)
    assert Case.model_validate({**stored, "parent": None}).__pydantic_fields_set__ is shared
    assert Case.model_validate(stored).model_fields_set == set(stored)


def test_cases_read_from_json_keep_one_copy_of_a_digest() -> None:
    stored = _saved_cases()[0]
    text = json.dumps(stored)
    first, second = Case.model_validate_json(text), Case.model_validate_json(text)
    assert len(first.digest) > 64  # longer than pydantic's own cache of short strings takes
    assert first.digest is second.digest
    assert first.model_dump_json() == second.model_dump_json()
    assert first.model_dump(mode="json") == stored


@pytest.mark.parametrize("proc_id", ["repair", "complaint", "renovation"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cases_of_random_lives_read_back_as_the_engine_built_them(
    proc_id: str, data: st.DataObject
) -> None:
    """The engine's cases (built without validation, sharing the record of fields set)
    and the same cases read back from their JSON are equal and dump alike."""
    life = data.draw(lives(ENGINE.procedure(proc_id), max_steps=10))
    case, _ = _live(proc_id, life)
    dumped = case.model_dump(mode="json")
    for again in (Case.model_validate(dumped), Case.model_validate_json(json.dumps(dumped))):
        assert again == case
        assert again.model_dump(mode="json") == dumped
        assert again.model_fields_set == set(dumped)
        assert again.model_dump_json() == case.model_dump_json()
        for name, timer in again.timers.items():
            assert timer.model_fields_set == case.timers[name].model_fields_set
