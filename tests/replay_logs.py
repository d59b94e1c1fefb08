"""Audit logs the engine wrote, for the replay corpus and properties to tamper with.

Each log is played through the public API at fixed times, so it is the same on every run:
``repair`` (opened, dispatched, chased, completed), ``repair_late`` (the dispatch limit's
warning and breach fall due before a late dispatch), ``repair_other`` (``repair`` of
another case, for stray events), ``repair_2027`` (dispatched in January 2027, past the
``office`` calendar's published end: its events record that publication) and ``ticket`` (``tests/procedures/ticket.yaml``: two
warnings, a breach that fires ``escalate`` by itself, a delayed breach step, and a step
that follows the escalation ladder).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from servflow import Actor, Engine, Event

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TZ = ZoneInfo("Asia/Shanghai")
NINE = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a Monday
M = timedelta(minutes=1)

CLERK = Actor(id="u7", roles={"repair_reception"})
AGENT = Actor(id="a1", roles={"agent"})
HEAD = Actor(id="h1", roles={"head"})
REPAIR = {
    "resident_name": "王小明",
    "address": "A-1203",
    "phone": "138 0000 0000",
    "fault": "Kitchen pipe leaking",
    "appointment_at": "2026-11-23T12:00:00+08:00",
}


@cache
def engines() -> dict[str, Engine]:
    standard = Engine.from_directory(REPO / "procedures")
    ticket = Engine.from_directory(
        HERE / "procedures" / "ticket.yaml", REPO / "procedures" / "calendars.yaml"
    )
    return {"repair": standard, "ticket": ticket}


def _repair(case_id: str) -> list[Event]:
    engine = engines()["repair"]
    out = engine.start("repair", actor=CLERK, data=REPAIR, at=NINE, case_id=case_id)
    log = list(out.events)
    out = engine.fire(
        out.case, "dispatch", actor=CLERK, data={"technician": "李師傅"}, at=NINE + 20 * M
    )
    log += out.events
    out = engine.fire(out.case, "chase", actor=CLERK, at=NINE + 30 * M)
    log += out.events
    out = engine.fire(
        out.case,
        "complete",
        actor=CLERK,
        data={"work_order_no": "WO-1", "completed_at": "2026-11-23T11:00:00+08:00"},
        at=NINE + 120 * M,
    )
    return log + list(out.events)


def _repair_late() -> list[Event]:
    engine = engines()["repair"]
    out = engine.start("repair", actor=CLERK, data=REPAIR, at=NINE, case_id="r-1")
    log = list(out.events)
    out = engine.fire(
        out.case, "dispatch", actor=CLERK, data={"technician": "李師傅"}, at=NINE + 61 * M
    )
    return log + list(out.events)


def _repair_2027() -> list[Event]:
    engine = engines()["repair"]
    monday = datetime(2027, 1, 4, 9, 0, tzinfo=TZ)
    data = {**REPAIR, "appointment_at": "2027-01-04T12:00:00+08:00"}
    out = engine.start("repair", actor=CLERK, data=data, at=monday, case_id="r-1")
    log = list(out.events)
    out = engine.fire(out.case, "dispatch", actor=CLERK, data={"technician": "李師傅"}, at=monday)
    log += out.events
    out = engine.advance(out.case, at=monday + timedelta(days=1, hours=1))
    return log + list(out.events)


def _ticket() -> list[Event]:
    engine = engines()["ticket"]
    out = engine.start("ticket", actor=AGENT, at=NINE, case_id="t-1")
    log = list(out.events)
    out = engine.fire(out.case, "mark_urgent", actor=AGENT, data={"urgent": True}, at=NINE + M)
    log += out.events
    out = engine.advance(out.case, at=NINE + 300 * M)
    log += out.events
    out = engine.fire(out.case, "finish", actor=HEAD, at=NINE + 301 * M)
    return log + list(out.events)


@cache
def _logs() -> dict[str, tuple[Event, ...]]:
    return {
        "repair": tuple(_repair("r-1")),
        "repair_other": tuple(_repair("r-2")),
        "repair_late": tuple(_repair_late()),
        "repair_2027": tuple(_repair_2027()),
        "ticket": tuple(_ticket()),
    }


def log(name: str) -> list[Event]:
    """A fresh copy of the named log (events are frozen; the list is the caller's)."""
    return list(_logs()[name])


def engine_for(name: str) -> Engine:
    return engines()["ticket" if name.startswith("ticket") else "repair"]
