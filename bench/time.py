"""Benchmark: working-time arithmetic and ``Engine.advance``.

Run from the repository root::

    .venv/bin/python bench/time.py           # full run (about 10 s)
    .venv/bin/python bench/time.py --quick   # smoke mode

* ``Calendar.add`` of 3 working days across a holiday week: the ``office`` calendar of
  ``procedures/calendars.yaml`` (Asia/Shanghai, mainland holidays and make-up working
  days), starting on 2026-09-30, the eve of the National Day holiday. Timed warm (the
  calendar's per-day memo filled, as in a running host) and on a fresh ``Calendar`` (day
  memo empty; the holiday table itself is memoised per process).
* ``engine.advance(case, at=...)`` on a repair case with nothing due: a host may call it on
  every case it wakes, so it must cost under 2 % of a ``fire``.
* ``engine.advance`` on a case where three time limits have fallen due (a small procedure
  written below, counting in the ``office`` calendar): three breach events and effects.

Timing method as in ``bench/fire.py`` (median of interleaved batches, warm-up first).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from servflow import Actor, Engine
from servflow.engine.calendar import build_calendar
from servflow.engine.durations import Duration
from servflow.procedures import load_procedure

# The shared helpers live in bench/fire.py; this folder is on sys.path when a script runs
# (python bench/NAME.py), and the smoke test puts it there too.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import fire

TARGET_IDLE_ADVANCE = 0.02  # advance with nothing due < 2 % of a fire

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLIDAY_EVE = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)

# Three time limits that start together and count in the office calendar.
THREE_LIMITS = """\
servflow: 1
id: three_limits
version: 1
title: {en: Three time limits, zh-Hant: 三個時限}
calendar: office
roles:
  clerk: {title: {en: Clerk}, rank: 1}
  supervisor: {title: {en: Supervisor}, rank: 2}
fields:
  note: {type: string, title: {en: Note}}
states:
  open: {title: {en: Open}}
  done: {title: {en: Done}, final: true}
start:
  to: open
  roles: [clerk]
transitions:
  finish:
    from: open
    to: done
    roles: [clerk]
    title: {en: Finish}
time_limits:
  answer:
    title: {en: Answer}
    starts: {entered: open}
    stops: {left: open}
    within: [{limit: 1h}]
    on_breach: [{notify: supervisor, template: answer_overdue}]
  visit:
    title: {en: Visit}
    starts: {entered: open}
    stops: {left: open}
    within: [{limit: 2h}]
    on_breach: [{notify: supervisor, template: visit_overdue}]
  report:
    title: {en: Report}
    starts: {entered: open}
    stops: {left: open}
    within: [{limit: 4h}]
    on_breach: [{notify: supervisor, template: report_overdue}]
"""


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: a few repetitions")
    args = parser.parse_args(argv)
    plan = fire.QUICK if args.quick else fire.Plan(batches=15, calls=1000)
    slow_plan = fire.QUICK if args.quick else fire.Plan(batches=15, calls=500)

    fire.header("working time and advance")
    results: dict[str, float] = {}
    engine = Engine.from_directory(fire.PROCEDURES)
    office = engine.calendars["office"]
    spec = office.spec
    assert spec is not None
    three_days = Duration(working_days=3)
    due = office.add(HOLIDAY_EVE, three_days)
    print(f"office.add({HOLIDAY_EVE.isoformat()}, 3 working days) = {due.isoformat()}")
    print()

    def fresh_add() -> datetime:
        return build_calendar("office", spec).add(HOLIDAY_EVE, three_days)

    cal = fire.measure(
        {
            "Calendar.add(3 working days), warm": lambda: office.add(HOLIDAY_EVE, three_days),
            "Calendar.elapsed over the same span, warm": lambda: office.elapsed(HOLIDAY_EVE, due),
            "build_calendar + add, fresh day memo": fresh_add,
            "build_calendar alone": lambda: build_calendar("office", spec),
        },
        slow_plan,
    )
    print("-- the office calendar across the National Day week")
    fire.table(fire.timing_rows(list(cal.values())), fire.TIMING_HEAD)

    # advance with nothing due, against a fire of the same case at the same moment.
    case = fire.opened(engine)
    at = fire.T0 + timedelta(minutes=5)
    assert case.next_due is not None
    assert case.next_due > at
    tech = {"technician": "李師傅"}
    payload = case.model_dump(mode="json")
    idle = fire.measure(
        {
            "advance, nothing due": lambda: engine.advance(case, at=at),
            "engine.fire dispatch (Case object in)": lambda: engine.fire(
                case, "dispatch", actor=fire.RECEPTION, data=tech, at=at, expected_version=1
            ),
            "full fire cycle (JSON in -> fire -> JSON out)": fire.full_cycle(
                engine, payload, "dispatch", fire.RECEPTION, tech, at
            ),
        },
        plan,
    )
    print("-- advance with nothing due (repair case, next due in 19 minutes)")
    fire.table(fire.timing_rows(list(idle.values())), fire.TIMING_HEAD)
    idle_t, fire_t, cycle_t = idle.values()
    share = idle_t.median_us / fire_t.median_us
    share_cpu = idle_t.cpu_us / fire_t.cpu_us
    share_cycle = idle_t.median_us / cycle_t.median_us
    fire.table(
        [
            [
                "advance (nothing due) / engine.fire",
                f"{100 * share:.2f} %",
                f"{100 * share_cpu:.2f} %",
                f"< {100 * TARGET_IDLE_ADVANCE:g} %",
                fire.verdict(share < TARGET_IDLE_ADVANCE),
            ],
            [
                "(info) advance (nothing due) / full fire cycle",
                f"{100 * share_cycle:.2f} %",
                f"{100 * idle_t.cpu_us / cycle_t.cpu_us:.2f} %",
                "-",
                "-",
            ],
        ],
        ("ratio", "wall median", "cpu median", "target", "verdict (wall)"),
    )

    # advance with three limits due.
    proc = load_procedure(THREE_LIMITS, file="<bench three_limits>")
    three = Engine([proc], calendars=engine.calendars)
    clerk = Actor(id="k1", roles=frozenset({"clerk"}))
    opened_at = fire.T0
    case3 = three.start("three_limits", actor=clerk, at=opened_at).case
    later = opened_at + timedelta(days=1)
    outcome = three.advance(case3, at=later)
    kinds = [e.kind for e in outcome.events]
    assert kinds == ["breached"] * 3, kinds
    assert len(outcome.effects) == 3
    due3 = fire.measure(
        {
            "advance, three limits due (3 breaches, 3 effects)": lambda: three.advance(
                case3, at=later
            ),
            "advance, same case, nothing due yet": lambda: three.advance(case3, at=opened_at),
        },
        slow_plan,
    )
    print("-- advance with three limits due (office calendar, 1h/2h/4h, a day later)")
    fire.table(fire.timing_rows(list(due3.values())), fire.TIMING_HEAD)
    due_t, idle3_t = due3.values()

    results.update(
        {
            "calendar_add_warm_us": cal["Calendar.add(3 working days), warm"].median_us,
            "calendar_elapsed_warm_us": cal["Calendar.elapsed over the same span, warm"].median_us,
            "calendar_add_fresh_us": cal["build_calendar + add, fresh day memo"].median_us,
            "build_calendar_us": cal["build_calendar alone"].median_us,
            "advance_idle_us": idle_t.median_us,
            "fire_us": fire_t.median_us,
            "full_cycle_us": cycle_t.median_us,
            "advance_idle_share": share,
            "advance_three_due_us": due_t.median_us,
            "advance_three_idle_us": idle3_t.median_us,
        }
    )
    return results


if __name__ == "__main__":
    main()
