"""The hostile-calendar corpus (``tests/hostile/calendars.yaml``), each case bounded.

Calendars at the edges of what dates can express, published ranges far in the past or
future, absurd overrides: each either loads with exact diagnostics or runs a time limit
to an exact answer (a due time, provisional or not) or an exact ``CalendarError``, in a
forked child with a time and a memory ceiling. Nothing else may come out: no
``OverflowError``, no hang, no memory blow-up.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from servflow import Actor, Engine
from servflow.procedures import load_procedure, load_text
from tests.bounded import run_bounded

CORPUS = Path(__file__).resolve().parent / "hostile" / "calendars.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))

TICKET = """
servflow: 1
id: ticket
version: 1
title: {en: Ticket}
calendar: c
roles:
  agent: {title: {en: Agent}}
states:
  open: {title: {en: Open}}
  closed: {title: {en: Closed}, final: true}
start: {to: open, roles: [agent]}
transitions:
  close: {from: open, to: closed, roles: [agent]}
time_limits:
  respond:
    starts: {entered: open}
    stops: {entered: closed}
    within: [{limit: 2wd}]
    warn_at: ["50%"]
    warn_notify: [agent]
"""
WEEKDAYS = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def _calendar_file(case: dict[str, Any]) -> str:
    if "file" in case:
        return str(case["file"])
    spec: dict[str, Any] = {"timezone": "Asia/Shanghai", "hours": WEEKDAYS, **case["calendar"]}
    overrides = dict(spec.get("overrides", {}))
    generated = case.get("overrides_off")
    if generated:
        first = date.fromisoformat(generated["from"])
        for offset in range(generated["days"]):
            overrides[(first + timedelta(days=offset)).isoformat()] = "off"
    if overrides:
        spec["overrides"] = overrides
    return yaml.safe_dump({"servflow": 1, "calendars": {"c": spec}}, allow_unicode=True)


def _run(case: dict[str, Any]) -> dict[str, Any]:
    """In the child: load the calendar file, and run the ticket if it loads."""
    result = load_text(_calendar_file(case), "calendars.yaml")
    if not result.ok:
        return {
            "diagnostics": [f"{d.line}:{d.column} {d.code} {d.message}" for d in result.diagnostics]
        }
    engine = Engine([load_procedure(TICKET)], calendars=result.calendars)
    start = datetime.fromisoformat(case["start"])
    timer = engine.start("ticket", actor=Actor(id="a", roles={"agent"}), at=start).case.timers[
        "respond"
    ]
    assert timer.due_at is not None
    return {"due": timer.due_at.isoformat(), "provisional": timer.provisional}


def test_the_corpus_covers_the_edges():
    names = {case["name"] for case in CASES}
    assert len(names) == len(CASES) >= 15
    assert {"raised", "due", "diagnostics"} <= {key for case in CASES for key in case["expect"]}


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_hostile_calendar(case):
    outcome = run_bounded(_run, case, seconds=10, memory_mb=256)
    expect = case["expect"]
    if "raised" in expect:
        assert (outcome.verdict, outcome.error_type, outcome.error) == (
            "raised",
            expect["raised"],
            expect["message"],
        ), str(outcome)
    else:
        assert outcome.verdict == "returned", str(outcome)
        assert outcome.value == expect, str(outcome)
