"""The properties' monitor: each pattern means what docs/language.md says, step by step.

The precedence and response patterns are checked against an oracle written from their
definition over the whole life (every happening in order), on random lives of a small
alphabet; the expression patterns on the shipped repair procedure's own steps.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from servflow import Actor, Engine
from servflow.model import Property
from servflow.testing.properties import Monitor

TZ = ZoneInfo("Asia/Shanghai")
NINE = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
CLERK = Actor(id="c", roles={"repair_reception"})
OPENING = {
    "resident_name": "王",
    "address": "1棟",
    "phone": "12345678",
    "fault": "漏水",
    "appointment_at": "2026-11-23T14:00:00+08:00",
}
ALPHABET = ["chase", "dispatch", "notify:maintenance"]


REPAIR = Engine.standard().procedure("repair", 2)  # its callback is its own steps
CALENDARS = Engine.standard().calendars


@functools.cache
def _cached(properties: str) -> Engine:
    given = [Property.model_validate(p) for p in json.loads(properties)]
    return Engine([REPAIR.model_copy(update={"properties": given})], calendars=CALENDARS)


def _engine(*properties: dict) -> Engine:
    return _cached(json.dumps(properties))


def _monitor(*properties: dict) -> tuple[Monitor, object]:
    engine = _engine(*properties)
    opened = engine.start("repair", version=2, actor=CLERK, data=OPENING, at=NINE)
    return Monitor.of(engine._compiled("repair")), opened.case


def _run(monitor: Monitor, case: object, life: list[list[str]]) -> int | None:
    """The step (0-based) at which the monitor reports the property broken, or None."""
    for i, done in enumerate(life):
        monitor, broken = monitor.after(case, done)
        if broken:
            return i
    return None


def _precedes_oracle(first: str, then: str, life: list[list[str]]) -> int | None:
    seen = False
    for i, done in enumerate(life):
        for happening in done:
            if happening == first:
                seen = True
            elif happening == then and not seen:
                return i
    return None


def _responds_oracle(to: str, answer: str, within: int, life: list[list[str]]) -> int | None:
    # The oldest `to` not yet answered (answers come after it), and the step it came in.
    oldest: int | None = None
    for i, done in enumerate(life):
        for happening in done:
            if happening == answer:
                oldest = None
            elif happening == to and oldest is None:
                oldest = i
        if oldest is not None and i - oldest >= within:
            return i
    return None


lives = st.lists(st.lists(st.sampled_from(ALPHABET), max_size=4), max_size=8)


@settings(max_examples=200, deadline=None)
@given(life=lives, first=st.sampled_from(ALPHABET), then=st.sampled_from(ALPHABET))
def test_precedence_is_broken_exactly_when_then_comes_before_any_first(life, first, then):
    if first == then:
        return
    monitor, case = _monitor({"name": "p", "precedes": {"first": first, "then": then}})
    assert _run(monitor, case, life) == _precedes_oracle(first, then, life)


@settings(max_examples=200, deadline=None)
@given(
    life=lives,
    to=st.sampled_from(ALPHABET),
    answer=st.sampled_from(ALPHABET),
    within=st.integers(0, 3),
)
def test_bounded_response_is_broken_exactly_when_an_answer_comes_too_late(life, to, answer, within):
    if to == answer:
        return
    monitor, case = _monitor(
        {"name": "r", "responds": {"to": to, "with": answer, "within": within}}
    )
    assert _run(monitor, case, life) == _responds_oracle(to, answer, within, life)


def test_an_unbounded_response_is_judged_when_the_case_closes():
    engine = _engine({"name": "r", "responds": {"to": "dispatch", "with": "chase"}})
    cp = engine._compiled("repair")
    opened = engine.start("repair", version=2, actor=CLERK, data=OPENING, at=NINE)
    monitor, broken = Monitor.of(cp).after(opened.case, ["dispatch"])
    assert broken == []
    assert monitor.finish(opened.case) == []  # not closed: nothing to judge yet
    closed = opened.case.model_copy(update={"state": "cancelled"})
    [late] = monitor.finish(closed)
    assert (late.name, late.pattern) == ("r", "responds")
    assert "`dispatch` never followed by `chase`" in late.reason
    answered, _ = monitor.after(opened.case, ["chase"])
    assert answered.finish(closed) == []


def test_the_expression_patterns_on_a_repair_life():
    engine = _engine(
        {"name": "n", "never": "state == 'dispatched' and priority == 'urgent'"},
        {"name": "a", "always": "technician is none or state != 'recorded'"},
        {"name": "e", "eventually": "technician is not none"},
    )
    clerk = CLERK
    opened = engine.start("repair", version=2, actor=clerk, data=OPENING, at=NINE)
    monitor, broken = Monitor.of(engine._compiled("repair")).step(
        opened.case, opened.events, opened.effects
    )
    assert broken == []
    out = engine.fire(
        opened.case,
        "dispatch",
        actor=clerk,
        data={"technician": "李", "priority": "urgent"},
        at=NINE,
    )
    monitor, broken = monitor.step(out.case, out.events, out.effects)
    assert [b.name for b in broken] == ["n"]
    assert "`dispatch`" in broken[0].reason
    # Broken once, reported once.
    again = engine.fire(out.case, "chase", actor=clerk, at=NINE)
    monitor, broken = monitor.step(again.case, again.events, again.effects)
    assert broken == []
    cancelled = engine.fire(again.case, "cancel", actor=clerk, data={"cancel_reason": "x"}, at=NINE)
    monitor, broken = monitor.step(cancelled.case, cancelled.events, cancelled.effects)
    assert broken == []
    assert monitor.finish(cancelled.case) == []  # `e` held after the dispatch


def test_the_kit_state_machine_reports_a_broken_property():
    from hypothesis.stateful import run_state_machine_as_test

    from servflow.testing.stateful import procedure_machine

    engine = _engine({"name": "never dispatched", "never": "state == 'dispatched'"})
    machine = procedure_machine(engine, "repair")
    with pytest.raises(AssertionError, match="property 'never dispatched' broken"):
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=300, deadline=None, database=None, phases=[Phase.generate]
            ),
        )
