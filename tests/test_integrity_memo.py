"""The check of an incoming case remembers its answers for stored values: the same answers.

``engine/integrity.py`` remembers, per compiled procedure, what it found for each
immutable stored value (text, whole numbers, booleans) of each field, because a case's
data is checked on every step and mostly holds what the last step held. The property
below holds the remembered answer equal to the answer worked out afresh, for values seen
once, twice and in any order; the example after it shows that a value tampered in place
after a step is refused on the next one, and again on the one after (from the memo).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Actor, Engine, IntegrityError
from servflow.engine import integrity

REPO = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_directory(
    REPO / "procedures", REPO / "tests" / "hostile" / "values" / "every_type.yaml"
)
CP = ENGINE._compiled("every_type", 1)
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CLERK = Actor(id="u1", roles={"clerk"})
EMPTY: dict[str, Any] = dict.fromkeys(CP.fields)

ATOM = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["138 0000 0000", "aaaa", "a", "b", "+852 1234", "12.50", "2026-11-23"]),
    st.integers(min_value=-(10**19), max_value=10**19),
    st.booleans(),
)


def _fresh(data: dict[str, Any]) -> str | None:
    """The answer without the memo: every value checked as if never seen."""
    for name, value in data.items():
        if value is not None:
            problem = integrity._value_problem(name, integrity._facts(CP).fields[name], value)
            if problem is not None:
                return problem
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(CP.fields)), ATOM), min_size=1, max_size=6))
def test_the_remembered_answer_is_the_fresh_one(pairs: list[tuple[str, Any]]) -> None:
    for name, value in pairs * 2:  # each value seen, then seen again
        data = {**EMPTY, name: value}
        assert integrity._data_problem(CP, data) == _fresh(data)


def test_a_value_tampered_after_a_step_is_refused_every_time() -> None:
    case = ENGINE.start(
        "every_type", actor=CLERK, at=T0, case_id="c-1", data={"phone": "138 0000 0000"}
    ).case
    ENGINE.available(case, CLERK, at=T0)  # the good phone is now remembered
    case.data["phone"] = "not a phone"  # a host edits the frozen case's dict in place
    for _ in range(2):  # worked out, then remembered
        with pytest.raises(IntegrityError, match="field 'phone' holds a value"):
            ENGINE.available(case, CLERK, at=T0)


def test_the_memo_is_bounded() -> None:
    seen = integrity._facts(CP).seen
    for n in range(integrity._SEEN_LIMIT + 10):
        integrity._data_problem(CP, {**EMPTY, "note": f"note {n}"})
    assert 0 < len(seen) <= integrity._SEEN_LIMIT
