"""The check of a timer's finished cycles: fast for the usual moment, exact for the rest.

A timer keeps a record per finished cycle, so a case reworked many times carries a long
history, and the engine checks every incoming case. ``engine/integrity.py`` answers the
usual moment (an aware datetime well inside the years servflow keeps) without building a
message, and gives any other record the full, labelled check. The property holds that
answer equal to the labelled check of every moment of every record, for histories that
mix usual moments with naive ones, non-datetimes and the first and last years; the
example shows a tampered record refused through the public API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Actor, Case, Engine, IntegrityError
from servflow.bounds import FIRST_YEAR, LAST_YEAR
from servflow.engine import integrity
from servflow.engine.case import CycleRecord

REPO = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_directory(
    REPO / "procedures" / "repair.v2.yaml", REPO / "procedures" / "calendars.yaml"
)
SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2026, 6, 2, 9, 0, tzinfo=SHANGHAI)
RECEPTION = Actor(id="u7", roles=frozenset({"repair_reception"}))
SUPERVISOR = Actor(id="s1", roles=frozenset({"cs_supervisor"}))
CALLBACK = Actor(id="c3", roles=frozenset({"callback_officer"}))
LABELS = ("started_at", "ended_at", "due_at", "breached_at")

MOMENT = st.one_of(
    st.none(),
    st.datetimes(timezones=st.sampled_from([UTC, SHANGHAI])),  # usual and edge years
    st.datetimes(),  # naive
    st.sampled_from(
        [
            datetime(FIRST_YEAR, 1, 1, tzinfo=UTC),
            datetime(LAST_YEAR, 12, 31, 23, 59, tzinfo=UTC),
            datetime(LAST_YEAR, 12, 31, 20, tzinfo=timezone(timedelta(hours=-8))),
            "2026-06-02T09:00:00+08:00",
            17,
        ]
    ),
)


def _record(moments: tuple[Any, ...]) -> CycleRecord:
    values = dict(zip(LABELS, moments, strict=True))
    return CycleRecord.model_construct(cycle=1, business_seconds=0, met=True, **values)


def _labelled(history: list[CycleRecord]) -> str | None:
    """Every moment given the full, labelled check, in order."""
    for record in history:
        for label in LABELS:
            problem = integrity._moment_problem(f"history {label}", getattr(record, label))
            if problem is not None:
                return problem
    return None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(MOMENT, MOMENT, MOMENT, MOMENT), max_size=6))
def test_the_history_check_answers_as_the_labelled_check(moments: list[tuple[Any, ...]]) -> None:
    history = [_record(m) for m in moments]
    assert integrity._history_problem(history) == _labelled(history)


def _reworked() -> Case:
    """A repair case sent back once by an unsatisfied callback: one finished cycle each."""
    case = ENGINE.start(
        "repair",
        actor=RECEPTION,
        at=T0,
        data={
            "resident_name": "王小明",
            "address": "A-1203",
            "phone": "138 0000 0000",
            "fault": "Kitchen pipe leaking",
            "appointment_at": "2026-06-02T14:00:00+08:00",
        },
    ).case
    steps: list[tuple[str, Actor, dict[str, Any]]] = [
        ("dispatch", RECEPTION, {"technician": "李師傅"}),
        (
            "complete",
            RECEPTION,
            {"work_order_no": "WO-1", "completed_at": "2026-06-02T10:00:00+08:00"},
        ),
        ("designate_callback", SUPERVISOR, {"callback_officer": CALLBACK.id}),
        ("callback", CALLBACK, {"satisfied": False, "callback_notes": "Still dripping"}),
    ]
    for n, (trigger, actor, data) in enumerate(steps, start=1):
        at = T0 + timedelta(minutes=30 * n)
        case = ENGINE.fire(case, trigger, actor=actor, data=data, at=at).case
    return case


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (datetime(2026, 6, 2, 9, 0), "must be a timezone-aware datetime"),
        ("2026-06-02", "must be a timezone-aware datetime"),
        (datetime(LAST_YEAR, 12, 31, 20, tzinfo=timezone(timedelta(hours=-8))), "must be in"),
    ],
)
def test_a_tampered_history_record_is_refused(label: str, bad: Any, message: str) -> None:
    case = _reworked()
    name, timer = next((k, t) for k, t in case.timers.items() if t.history)
    record = timer.history[0].model_copy(update={label: bad})
    timer = timer.model_copy(update={"history": (record, *timer.history[1:])})
    tampered = case.model_copy(update={"timers": {**case.timers, name: timer}})
    ENGINE.available(case, CALLBACK, at=case.updated_at)  # the untouched case is accepted
    with pytest.raises(IntegrityError, match=f"timer {name!r}: history {label} {message}"):
        ENGINE.available(tampered, CALLBACK, at=case.updated_at)
