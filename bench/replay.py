"""Benchmark: ``Engine.replay`` (and ``Engine.verify``) over audit logs of repair cases.

Run from the repository root::

    .venv/bin/python bench/replay.py           # full run (about 20 s)
    .venv/bin/python bench/replay.py --quick   # smoke mode

Replay is what an auditor, a store check or a migration runs over every stored log, so
its cost is counted per event. Three logs of ``procedures/repair.v2.yaml``:

* **chases**: a case dispatched, then chased and reprioritised until it has 200 events
  (people's steps; every reprioritise re-plans a running clock);
* **rework**: 10 unsatisfied callbacks, each closing and reopening the clocks (cycles
  kept in the timers);
* **clocks**: a case left alone for days and advanced hour by hour, so that the log is
  mostly warnings, breaches and their follow-up steps, with people's steps in between.

Each is timed as Event objects in (``engine.replay(events)``) and as the host holds them,
JSON dicts in (``Event.model_validate`` of each, then ``replay``). ``engine.verify`` is
timed on the first log. Timing method as in ``bench/fire.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from servflow import Engine, Event

# The shared helpers live in bench/fire.py (see bench/time.py).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import fire

LOG_EVENTS = 200
# Targets of issue 12: replay speed on repair logs, and a long log rebuilt in one go.
TARGET_EVENTS_PER_S = 50_000
LONG_LOG_EVENTS = 1_000
TARGET_LONG_LOG_MS = 20.0


class _Player:
    """Plays a repair case and keeps its audit log."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        out = engine.start("repair", actor=fire.RECEPTION, data=fire.OPENING, at=fire.T0)
        self.case, self.log = out.case, list(out.events)

    def fire(self, trigger: str, actor: Any, minutes: float, **data: Any) -> None:
        at = self.case.updated_at + timedelta(minutes=minutes)
        out = self.engine.fire(self.case, trigger, actor=actor, data=data, at=at)
        self.case = out.case
        self.log.extend(out.events)

    def advance(self, minutes: float) -> None:
        out = self.engine.advance(self.case, at=self.case.updated_at + timedelta(minutes=minutes))
        self.case = out.case
        self.log.extend(out.events)


def chases(engine: Engine, events: int = LOG_EVENTS) -> list[Event]:
    p = _Player(engine)
    p.fire("dispatch", fire.RECEPTION, 1, technician="李師傅")
    rounds = [None, "urgent", None, "normal"]
    i = 0
    while len(p.log) < events:
        priority = rounds[i % 4]
        i += 1
        if priority is None:
            p.fire("chase", fire.RECEPTION, 1 / 60)
        else:
            p.fire("reprioritise", fire.RECEPTION, 1 / 60, priority=priority)
    return p.log


def rework(engine: Engine) -> list[Event]:
    p = _Player(engine)
    p.fire("dispatch", fire.RECEPTION, 1, technician="李師傅")
    for _ in range(10):
        at = p.case.updated_at + timedelta(minutes=1)
        p.fire(
            "complete",
            fire.RECEPTION,
            1,
            work_order_no="WO-2026-0602-17",
            completed_at=at.isoformat(),
        )
        p.fire("designate_callback", fire.SUPERVISOR, 1, callback_officer=fire.CALLBACK.id)
        p.fire("callback", fire.CALLBACK, 1, satisfied=False, callback_notes="Still dripping")
    return p.log


def clocks(engine: Engine) -> list[Event]:
    p = _Player(engine)
    p.fire("reprioritise", fire.RECEPTION, 1, priority="emergency")
    p.advance(60)
    p.fire("dispatch", fire.RECEPTION, 1, technician="李師傅")
    for _ in range(8):
        for _ in range(9):
            p.advance(60)
        at = p.case.updated_at + timedelta(minutes=1)
        p.fire(
            "complete",
            fire.RECEPTION,
            1,
            work_order_no="WO-2026-0602-17",
            completed_at=at.isoformat(),
        )
        p.fire("designate_callback", fire.SUPERVISOR, 1, callback_officer=fire.CALLBACK.id)
        p.advance(4 * 24 * 60)
        p.fire("callback", fire.CALLBACK, 1, satisfied=False, callback_notes="Still dripping")
    return p.log


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: a few repetitions")
    args = parser.parse_args(argv)
    plan = fire.QUICK if args.quick else fire.Plan(batches=15, calls=20)

    fire.header("servflow replay (procedures/repair.v2.yaml)")
    engine = fire.repair_engine()
    logs = {"chases": chases(engine), "rework": rework(engine), "clocks": clocks(engine)}
    results: dict[str, float] = {}
    rows: list[list[object]] = []
    for name, log in logs.items():
        dumped = [e.model_dump(mode="json") for e in log]
        assert engine.replay(log) == engine.replay([Event.model_validate(d) for d in dumped])
        kinds = sorted({e.kind for e in log})
        timings = fire.measure(
            {
                "objects": lambda log=log: engine.replay(log),
                "json": lambda dumped=dumped: engine.replay(
                    [Event.model_validate(d) for d in dumped]
                ),
            },
            plan,
        )
        for variant, t in timings.items():
            per_event = t.median_us / len(log)
            rows.append(
                [
                    f"{name} ({', '.join(kinds)}), {variant}",
                    len(log),
                    per_event,
                    t.cpu_us / len(log),
                    round(1e6 / per_event),
                ]
            )
            results[f"{name}_{variant}_us_per_event"] = per_event
            results[f"{name}_{variant}_events_per_s"] = 1e6 / per_event
    verify_log = logs["chases"]
    t = fire.measure({"verify": lambda: engine.verify(verify_log)}, plan)["verify"]
    per_event = t.median_us / len(verify_log)
    rows.append(
        [
            "chases, engine.verify (a report)",
            len(verify_log),
            per_event,
            t.cpu_us / len(verify_log),
            round(1e6 / per_event),
        ]
    )
    results["chases_verify_us_per_event"] = per_event
    fire.table(rows, ("log", "events", "median us/event", "cpu us/event", "events/s"))

    long_log = chases(engine, LONG_LOG_EVENTS)
    long_plan = fire.QUICK if args.quick else fire.Plan(batches=9, calls=3)
    long_t = fire.measure({"long": lambda: engine.replay(long_log)}, long_plan)["long"]
    results["long_log_events"] = float(len(long_log))
    results["long_log_ms"] = long_t.median_us / 1000
    slowest = min(v for k, v in results.items() if k.endswith("_objects_events_per_s"))
    print("-- targets (wall-clock medians; CPU in brackets)")
    fire.table(
        [
            [
                "replay, events/s on the slowest repair log (Event objects)",
                f"{slowest:,.0f}",
                f">= {TARGET_EVENTS_PER_S:,}",
                fire.verdict(slowest >= TARGET_EVENTS_PER_S),
            ],
            [
                f"a {len(long_log):,}-event log rebuilt, ms",
                f"{long_t.median_us / 1000:.1f} ({long_t.cpu_us / 1000:.1f})",
                f"< {TARGET_LONG_LOG_MS:g}",
                fire.verdict(long_t.median_us / 1000 < TARGET_LONG_LOG_MS),
            ],
        ],
        ("target", "measured", "wanted", "verdict"),
    )
    return results


if __name__ == "__main__":
    main()
