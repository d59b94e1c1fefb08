"""Benchmark: loading and checking the whole procedure catalogue.

Run from the repository root::

    .venv/bin/python bench/load.py           # full run (about 10 s)
    .venv/bin/python bench/load.py --quick   # smoke mode

Times ``servflow.procedures.load_catalogue(["procedures"])`` (YAML with positions, pydantic
models, static checks, cross-file checks) and ``Engine.from_directory("procedures")`` (the
same plus compiling every procedure: expressions, lookup tables, one ``transitions.Machine``
per procedure version, calendars), and then each file alone. The first run in a fresh
process is shown apart ("first"): it pays for lazy imports and memos; the median is over
the runs after it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from time import perf_counter_ns, process_time_ns
from typing import Any

from servflow import Engine
from servflow.procedures import load_catalogue, load_file

# The shared helpers live in bench/fire.py; this folder is on sys.path when a script runs
# (python bench/NAME.py), and the smoke test puts it there too.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import fire


def runs(fn: Callable[[], Any], count: int) -> tuple[float, float, float, float]:
    """The first run's ms, then the median, min (wall) and median CPU ms of ``count`` more."""
    start = perf_counter_ns()
    fn()
    first = (perf_counter_ns() - start) / 1e6
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(count):
        start, start_cpu = perf_counter_ns(), process_time_ns()
        fn()
        wall.append((perf_counter_ns() - start) / 1e6)
        cpu.append((process_time_ns() - start_cpu) / 1e6)
    return first, statistics.median(wall), min(wall), statistics.median(cpu)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: a few repetitions")
    args = parser.parse_args(argv)
    count = 2 if args.quick else 9
    directory = fire.PROCEDURES

    fire.header("loading and checking the catalogue (procedures/)")
    catalogue = load_catalogue([directory])
    errors = [d for d in catalogue.diagnostics if d.severity == "error"]
    files = sorted(r.file for r in catalogue.results)
    print(
        f"{len(files)} files, {len(catalogue.procedures)} procedures, "
        f"{len(catalogue.calendars)} calendars, {len(errors)} errors, "
        f"{len(catalogue.diagnostics) - len(errors)} other diagnostics"
    )
    for d in errors[:5]:
        print(f"  {d}")
    print()

    whole = {
        "load_catalogue(['procedures'])": runs(lambda: load_catalogue([directory]), count),
        "Engine.from_directory('procedures')": runs(
            lambda: Engine.from_directory(directory), count
        ),
    }
    per_file = {Path(name).name: runs(partial(load_file, name), count) for name in files}
    head = ("what", "first ms", "median ms", "min ms", "cpu median ms")
    print(f"-- the whole catalogue ({count} runs after the first)")
    fire.table([[name, *row] for name, row in whole.items()], head)
    print("-- load_file, one file at a time (parse, model, checks)")
    fire.table([[name, *row] for name, row in per_file.items()], head)

    results: dict[str, float] = {
        "load_catalogue_ms": whole["load_catalogue(['procedures'])"][1],
        "from_directory_ms": whole["Engine.from_directory('procedures')"][1],
        "load_catalogue_first_ms": whole["load_catalogue(['procedures'])"][0],
        "files": float(len(files)),
    }
    results.update({f"file_{name}_ms": row[1] for name, row in per_file.items()})
    return results


if __name__ == "__main__":
    main()
