"""Benchmark: why servflow keeps one machine per procedure version, never one per case.

Run from the repository root::

    .venv/bin/python bench/machine_per_case.py           # full run (about 10 s)
    .venv/bin/python bench/machine_per_case.py --quick   # smoke mode

It times and weighs the two ways ``transitions`` could hold many cases of
``procedures/repair.v2.yaml``, against what servflow does:

(i)   a ``Machine`` built per case (model, states, transitions);
(ii)  one shared ``Machine`` with ``add_model`` for every case: the cost of one attach
      once 1,000 and 10,000 models are attached (``add_model`` scans the list of attached
      models, so it grows with them);
(iii) memory per model (``tracemalloc``) for both, against servflow: one compiled procedure
      shared by every case, and a case that is only data (its JSON text, the dict parsed
      from it, and the pydantic ``Case``).

Timing method as in ``bench/fire.py`` (median of interleaved batches, warm-up first).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter_ns, process_time_ns
from typing import Any

from transitions import Machine

from servflow import Case

# The shared helpers live in bench/fire.py; this folder is on sys.path when a script runs
# (python bench/NAME.py), and the smoke test puts it there too.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import fire


def attach_cost(
    machine: Machine, level: int, batches: int, per_batch: int
) -> tuple[float, float, float]:
    """``add_model`` with ``level`` models attached: median wall and CPU us per attach.

    Also returns the seconds it took to fill the machine up to ``level``.
    """
    start = perf_counter_ns()
    while len(machine.models) < level:
        machine.add_model(fire._Model())
    fill_s = (perf_counter_ns() - start) / 1e9
    gc.collect()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(batches):
        models = [fire._Model() for _ in range(per_batch)]
        start, start_cpu = perf_counter_ns(), process_time_ns()
        for model in models:
            machine.add_model(model)
        wall.append((perf_counter_ns() - start) / per_batch / 1000)
        cpu.append((process_time_ns() - start_cpu) / per_batch / 1000)
        machine.remove_model(models)  # back to `level`, untimed
    return statistics.median(wall), statistics.median(cpu), fill_s


def traced_bytes(build: Callable[[], Any]) -> tuple[int, Any]:
    """Bytes still allocated (tracemalloc) after ``build()``, and what it built."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before, kept


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: a few repetitions")
    args = parser.parse_args(argv)
    quick = args.quick
    plan = fire.QUICK if quick else fire.Plan(batches=15, calls=1000)
    levels = (0, 100, 1_000) if quick else (0, 1_000, 10_000)
    attach_batches, attach_per_batch = (3, 10) if quick else (9, 50)
    n_mem = 100 if quick else 1_000

    fire.header("one machine per procedure version vs one per case (procedures/repair.v2.yaml)")
    results: dict[str, float] = {}
    engine = fire.repair_engine()
    case = fire.opened(engine)
    payload = case.model_dump(mode="json")
    text = json.dumps(payload)
    states, trans = fire.transitions_config(engine)

    def machine_for_case() -> Machine:
        model = fire._Model()
        return Machine(
            model=model,
            states=states,
            transitions=trans,
            initial=payload["state"],
            auto_transitions=False,
        )

    # (i) What a case costs to set up before its first trigger.
    per_case = fire.measure(
        {
            "transitions: a Machine per case (model, states, transitions)": machine_for_case,
            "servflow: Case.model_validate(dict), machine shared": lambda: Case.model_validate(
                payload
            ),
            "servflow: Case.model_validate_json(text), machine shared": (
                lambda: Case.model_validate_json(text)
            ),
        },
        plan,
    )
    print("-- (i) setting a case up (before its trigger)")
    fire.table(fire.timing_rows(list(per_case.values())), fire.TIMING_HEAD)
    machine_t, validate_t, validate_json_t = per_case.values()

    # (ii) One shared machine, models attached as cases come in.
    shared = Machine(
        model=None, states=states, transitions=trans, initial="recorded", auto_transitions=False
    )
    attach = {
        level: attach_cost(shared, level, attach_batches, attach_per_batch) for level in levels
    }
    print("-- (ii) add_model to one shared machine, per attach")
    base = attach[levels[0]][0]
    fire.table(
        [
            [f"{level:,} models attached", wall, cpu, wall / base, f"{fill:.2f}"]
            for level, (wall, cpu, fill) in attach.items()
        ],
        (
            "shared machine holds",
            "median us per add_model",
            "cpu median us",
            "x the empty machine",
            "s to fill up to here",
        ),
    )
    shared.remove_model(list(shared.models))
    del shared

    # (iii) Memory: per model in transitions, per case in servflow.
    def attached_models() -> tuple[Machine, list[object]]:
        machine = Machine(
            model=None,
            states=states,
            transitions=trans,
            initial="recorded",
            auto_transitions=False,
        )
        models = [fire._Model() for _ in range(n_mem)]
        for model in models:
            machine.add_model(model)
        return machine, models

    shared_bytes, kept = traced_bytes(attached_models)
    del kept
    per_case_bytes, kept = traced_bytes(lambda: [machine_for_case() for _ in range(n_mem)])
    del kept
    engine_bytes, kept = traced_bytes(fire.repair_engine)
    del kept
    dict_bytes, kept = traced_bytes(lambda: [json.loads(text) for _ in range(n_mem)])
    del kept
    case_bytes, kept = traced_bytes(lambda: [Case.model_validate_json(text) for _ in range(n_mem)])
    del kept
    text_bytes = len(text.encode())
    # The case's own JSON (compact, UTF-8), as a host that stores model_dump_json keeps it.
    own_text = case.model_dump_json()
    own_bytes = len(own_text.encode())
    own_case_bytes, kept = traced_bytes(
        lambda: [Case.model_validate_json(own_text) for _ in range(n_mem)]
    )
    del kept
    print(f"-- (iii) memory (tracemalloc, {n_mem:,} of each kept alive)")
    fire.table(
        [
            ["transitions: model attached to one shared machine", shared_bytes / n_mem, "per case"],
            ["transitions: a Machine + model per case", per_case_bytes / n_mem, "per case"],
            ["servflow: case as JSON text (UTF-8)", float(text_bytes), "per case"],
            ["servflow: case as a dict parsed from JSON", dict_bytes / n_mem, "per case"],
            ["servflow: case as a pydantic Case", case_bytes / n_mem, "per case"],
            ["servflow: case as its own JSON (model_dump_json)", float(own_bytes), "per case"],
            ["servflow: a Case read from that JSON", own_case_bytes / n_mem, "per case"],
            ["servflow: Engine with repair compiled (+ calendars)", float(engine_bytes), "once"],
        ],
        ("what", "bytes", "paid"),
    )
    print("-- targets (issue 12)")
    fire.table(
        [
            [
                "a repair Case in memory, bytes",
                f"{own_case_bytes / n_mem:,.0f}",
                "< 3,000",
                fire.verdict(own_case_bytes / n_mem < 3000),
            ],
            [
                "its JSON (model_dump_json), bytes",
                f"{own_bytes:,}",
                "< 1,200",
                fire.verdict(own_bytes < 1200),
            ],
        ],
        ("target", "measured", "wanted", "verdict"),
    )
    results.update(
        {
            "case_own_json_bytes": float(own_bytes),
            "case_from_own_json_bytes": own_case_bytes / n_mem,
            "machine_per_case_us": machine_t.median_us,
            "case_validate_us": validate_t.median_us,
            "case_validate_json_us": validate_json_t.median_us,
            **{f"add_model_at_{level}_us": attach[level][0] for level in levels},
            "shared_model_bytes": shared_bytes / n_mem,
            "machine_per_case_bytes": per_case_bytes / n_mem,
            "case_json_bytes": float(text_bytes),
            "case_dict_bytes": dict_bytes / n_mem,
            "case_pydantic_bytes": case_bytes / n_mem,
            "engine_bytes": float(engine_bytes),
        }
    )
    return results


if __name__ == "__main__":
    main()
