"""Benchmark: ``store.find`` on SQLite among many open repair cases.

Run from the repository root::

    .venv/bin/python bench/queries.py                  # 10,000 open cases (about 30 s)
    .venv/bin/python bench/queries.py --cases 100000   # a larger desk
    .venv/bin/python bench/queries.py --quick          # smoke mode

The cases are real: each is opened and dispatched by the engine to one of 100
technicians (so "my queue" holds about 1 % of them) and created through the store, in a
SQLite file in a temporary folder. The questions are the ones a desk asks all day:

* **my queue**: ``assignee=("technician", me)``, dispatched, soonest deadline first,
  the first page of 50;
* **overdue**: every case with a running time limit due before a moment, first page;
* **opened today**: a day's cases, oldest first, first page, and the tenth page through
  ``after`` (keyset pagination costs the same on page 10 as on page 1).

Each figure is the median over repeated calls, in milliseconds, timed with the store's
own connection pool warm (as in a running service).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from servflow import Actor, Engine
from servflow.store import CaseQuery, SqlStore

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
CLERK = Actor(id="clerk", roles=frozenset({"repair_reception"}))
TECHNICIANS = [f"tech-{n:03d}" for n in range(100)]


def _fill(store: SqlStore, engine: Engine, count: int) -> None:
    for n in range(count):
        at = T0 + timedelta(seconds=30 * n)
        first = engine.start(
            "repair",
            actor=CLERK,
            at=at,
            case_id=f"case-{n:07d}",
            data={
                "resident_name": "王小明",
                "address": f"A-{n % 3000}",
                "phone": "138 0000 0000",
                "fault": "Kitchen pipe leaking",
                "appointment_at": at + timedelta(hours=3),
            },
        )
        if n % 10 == 0:  # a tenth still waiting to be dispatched
            store.create(first.case, first.events)
            continue
        step = engine.fire(
            first.case,
            "dispatch",
            actor=CLERK,
            data={"technician": TECHNICIANS[n % len(TECHNICIANS)]},
            at=at + timedelta(minutes=5),
        )
        store.create(step.case, [*first.events, *step.events])


def _median_ms(call: Callable[[], Any], repeat: int) -> float:
    call()  # warm the pool and the statement cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="a smoke run (seconds)")
    args = parser.parse_args(argv)
    count = 500 if args.quick else args.cases
    repeat = 5 if args.quick else 200
    engine = Engine.from_directory(ROOT / "procedures")
    with tempfile.TemporaryDirectory() as folder:
        store = SqlStore(f"sqlite:///{folder}/queue.db", assignee_fields=["technician"])
        started = time.perf_counter()
        _fill(store, engine, count)
        filled_s = time.perf_counter() - started
        me = TECHNICIANS[7]
        mine = CaseQuery(assignee=("technician", me), states="dispatched", order="due")
        overdue = CaseQuery(due_before=T0 + timedelta(hours=6), order="due")
        today = CaseQuery(opened_from=T0, opened_before=T0 + timedelta(days=1))
        page_9 = None
        after = None
        for _ in range(9):
            after = store.find(today, limit=50, after=after).next
        page_9 = after
        figures = {
            "cases": float(count),
            "fill_s": filled_s,
            "my_queue_ms": _median_ms(lambda: store.find(mine, limit=50), repeat),
            "my_queue_size": float(len(store.find(mine, limit=1000).cases)),
            "overdue_ms": _median_ms(lambda: store.find(overdue, limit=50), repeat),
            "opened_today_ms": _median_ms(lambda: store.find(today, limit=50), repeat),
            "opened_today_page_10_ms": _median_ms(
                lambda: store.find(today, limit=50, after=page_9), repeat
            ),
        }
        store.close()
    width = max(len(key) for key in figures)
    print(f"== store.find on SQLite among {count:,} open repair cases (median of {repeat}, ms)")
    for key, value in figures.items():
        print(f"  {key:<{width}}  {value:10.3f}")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
