"""Benchmark: loading and checking the whole procedure catalogue.

Run from the repository root::

    .venv/bin/python bench/load.py           # full run (about 10 s)
    .venv/bin/python bench/load.py --quick   # smoke mode

Times ``servflow.procedures.load_catalogue(["procedures"])`` (YAML with positions, pydantic
models, static checks, cross-file checks) and ``Engine.from_directory("procedures")`` (the
same plus compiling every procedure: expressions, lookup tables, calendars), and then each
file alone. First in fresh processes, as a host starts: with the loader's disk cache off,
with an empty cache (the load fills it) and with the cache an earlier process filled;
then again in the same process, with the cache and without it, in turns. The cache is a
temporary folder of the run's own. Ends with issue 12's target and a verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from time import perf_counter_ns, process_time_ns
from typing import Any

from servflow import Engine
from servflow.procedures import cache, load_catalogue, load_file

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


# A fresh process: import servflow, then time the first load of the catalogue (the loader's
# own modules are imported by it, as in a host's first load), and print it as JSON.
_CHILD = """
import json, sys, time
began = time.perf_counter()
import servflow
imported = time.perf_counter()
what, folder = sys.argv[1], sys.argv[2]
if what == "load_catalogue":
    from servflow.procedures import load_catalogue
    started = time.perf_counter()
    load_catalogue([folder])
else:
    started = time.perf_counter()
    servflow.Engine.from_directory(folder)
print(json.dumps({"import_ms": (imported - began) * 1e3, "ms": (time.perf_counter() - started) * 1e3}))
"""


def fresh_process(what: str, directory: Path, cache_env: str) -> tuple[float, float]:
    """(import ms, first ``what`` ms) in a new interpreter with ``SERVFLOW_CACHE=cache_env``."""
    env = {**os.environ, cache.ENV: cache_env}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, what, str(directory)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = json.loads(out)
    return figures["import_ms"], figures["ms"]


def interleaved(
    variants: dict[str, Callable[[], Any]], count: int
) -> dict[str, tuple[float, float, float]]:
    """Median, min (wall) and median CPU ms of each variant, run in turns ``count`` times."""
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():
        fn()  # warm-up
    for _ in range(count):
        for name, fn in variants.items():
            start, start_cpu = perf_counter_ns(), process_time_ns()
            fn()
            wall[name].append((perf_counter_ns() - start) / 1e6)
            cpu[name].append((process_time_ns() - start_cpu) / 1e6)
    return {
        name: (statistics.median(wall[name]), min(wall[name]), statistics.median(cpu[name]))
        for name in variants
    }


def _with_cache(setting: str, fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        before = os.environ.get(cache.ENV)
        os.environ[cache.ENV] = setting
        try:
            return fn()
        finally:
            if before is None:
                del os.environ[cache.ENV]
            else:
                os.environ[cache.ENV] = before

    return run


TARGET_MS = 50.0


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: a few repetitions")
    args = parser.parse_args(argv)
    count = 2 if args.quick else 9
    processes = 1 if args.quick else 3
    directory = fire.PROCEDURES

    fire.header("loading and checking the catalogue (procedures/)")
    with tempfile.TemporaryDirectory() as folder:
        return _measure(directory, folder, count, processes)


def _measure(directory: Path, folder: str, count: int, processes: int) -> dict[str, float]:
    on = _with_cache(folder, lambda: None)
    on()
    catalogue = _with_cache(folder, lambda: load_catalogue([directory]))()
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

    # The first load in a fresh process: without the cache, with an empty cache (which the
    # load fills), and with the cache filled by an earlier process.
    first: dict[str, dict[str, list[float]]] = {}
    imports: list[float] = []
    for what in ("load_catalogue", "from_directory"):
        first[what] = {"off": [], "empty": [], "filled": []}
        for _ in range(processes):
            with tempfile.TemporaryDirectory() as empty:
                for mode, setting in (("off", "off"), ("empty", empty), ("filled", empty)):
                    took_import, took = fresh_process(what, directory, setting)
                    first[what][mode].append(took)
                    imports.append(took_import)
    print(
        f"-- the first load in a fresh process (median of {processes}; `import servflow` "
        f"took {statistics.median(imports):.1f} ms before it)"
    )
    if sys.dont_write_bytecode:
        # Inherited by the children: without bytecode, each compiles the loader's modules
        # from source inside its timing, which a host whose imports are cached does not.
        print(
            "   PYTHONDONTWRITEBYTECODE is set: each fresh process compiles servflow's modules "
            "from source; unset it for a host's figures"
        )
    fire.table(
        [
            [f"{what} ({mode})", statistics.median(times)]
            for what, modes in first.items()
            for mode, times in modes.items()
        ],
        ("what (cache)", "ms"),
    )

    whole = interleaved(
        {
            "load_catalogue (cache off)": _with_cache("off", lambda: load_catalogue([directory])),
            "load_catalogue (cache)": _with_cache(folder, lambda: load_catalogue([directory])),
            "Engine.from_directory (cache off)": _with_cache(
                "off", lambda: Engine.from_directory(directory)
            ),
            "Engine.from_directory (cache)": _with_cache(
                folder, lambda: Engine.from_directory(directory)
            ),
        },
        count,
    )
    per_file = {
        Path(name).name: runs(_with_cache("off", partial(load_file, name)), count) for name in files
    }
    head = ("what", "median ms", "min ms", "cpu median ms")
    print(f"-- the whole catalogue, again in the same process ({count} runs each, in turns)")
    fire.table([[name, *row] for name, row in whole.items()], head)
    print("-- load_file without the cache, one file at a time (parse, model, checks)")
    fire.table(
        [[name, *row] for name, row in per_file.items()],
        ("what", "first ms", "median ms", "min ms", "cpu median ms"),
    )

    results: dict[str, float] = {
        "load_catalogue_ms": whole["load_catalogue (cache)"][0],
        "load_catalogue_uncached_ms": whole["load_catalogue (cache off)"][0],
        "from_directory_ms": whole["Engine.from_directory (cache)"][0],
        "from_directory_uncached_ms": whole["Engine.from_directory (cache off)"][0],
        "files": float(len(files)),
    }
    for what, modes in first.items():
        for mode, times in modes.items():
            results[f"{what}_first_{mode}_ms"] = statistics.median(times)
    results["load_catalogue_first_ms"] = results["load_catalogue_first_filled_ms"]
    results.update({f"file_{name}_ms": row[1] for name, row in per_file.items()})

    print(f"-- targets (issue 12): loading and checking the catalogue in under {TARGET_MS:.0f} ms")
    for key, what in (
        (
            "load_catalogue_first_filled_ms",
            "load_catalogue, first in a fresh process (cache filled)",
        ),
        ("load_catalogue_ms", "load_catalogue, again in the process (cache)"),
        (
            "from_directory_first_filled_ms",
            "Engine.from_directory, first in a fresh process (cache filled)",
        ),
        ("from_directory_ms", "Engine.from_directory, again in the process (cache)"),
    ):
        verdict = "met" if results[key] < TARGET_MS else "NOT met"
        print(f"  {what:<64} {results[key]:8.1f} ms  {verdict}")
    return results


if __name__ == "__main__":
    main()
