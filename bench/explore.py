"""Benchmark: how fast exploration and the testing kit take engine steps.

Run from the repository root::

    .venv/bin/python bench/explore.py           # full run (about a minute)
    .venv/bin/python bench/explore.py --quick   # smoke mode

Two tables. First, ``servflow explore`` over each shipped procedure with the default
budget: engine steps (``start``, ``fire`` and ``advance`` calls, refusals included) per
second of wall clock and of CPU, and the seconds per procedure and for the whole
catalogue. Second, the testing kit's check that replaying the audit log rebuilds the
case, after every accepted step of random lives (the moves exploration draws): replaying
the whole log every time (as the kit did) against feeding each step's events to one
``Engine.replayer()`` (as it does now). The target: at least 2,000 engine steps per second
per core with the check on, and the whole catalogue explored in under 60 s.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from time import perf_counter, process_time

from servflow import Engine
from servflow.engine import Actor, Case
from servflow.errors import Rejected, ServflowError
from servflow.testing.explore import DEFAULT_LIVES, DEFAULT_STEPS, _Explorer, explore

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fire

PROCEDURES = ("repair", "complaint", "renovation")


def _lives(
    engine: Engine, procedure: str, lives: int, check: str, seed: int = 1
) -> tuple[int, float, float]:
    """Engine steps, wall and CPU seconds of ``lives`` random lives with the replay check
    ``check``: ``whole`` (replay the whole log after each step), ``fed`` (a replayer)."""
    x = _Explorer(engine, engine._compiled(procedure), 10**9, seed)
    rng = random.Random(seed)
    roots = x.opening()
    steps = 0
    wall, cpu = perf_counter(), process_time()
    for _ in range(lives):
        opening = x.nodes[rng.choice(roots)].life[0]
        out = engine.start(
            procedure,
            actor=Actor(id=opening.role, roles=frozenset({opening.role})),
            data=dict(opening.data),
            at=opening.at,
            case_id="bench",
        )
        steps += 1
        case: Case = out.case
        log = list(out.events)
        replayer = engine.replayer()
        replayer.feed(out.events)
        for _ in range(40):
            if case.state in x.cp.finals:
                break
            moves = x.moves(case)
            if not moves:
                break
            steps += 1
            try:
                result = x.run(case, rng.choice(moves))
            except (Rejected, ServflowError):
                continue
            if not result.events:
                continue
            case = result.case
            log.extend(result.events)
            rebuilt = engine.replay(log) if check == "whole" else replayer.feed(result.events)
            assert rebuilt == case
    return steps, perf_counter() - wall, process_time() - cpu


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: small budgets")
    args = parser.parse_args(argv)
    budget = 2_000 if args.quick else DEFAULT_STEPS
    lives = 10 if args.quick else DEFAULT_LIVES
    engine = Engine.from_directory(fire.PROCEDURES)
    results: dict[str, float] = {}

    fire.header(f"servflow explore, default budget ({budget} steps, {lives} lives per procedure)")
    rows = []
    total_wall = total_cpu = 0.0
    total_steps = 0
    for procedure in PROCEDURES:
        wall, cpu = perf_counter(), process_time()
        result = explore(engine, procedure, lives=lives, steps=budget)
        wall, cpu = perf_counter() - wall, process_time() - cpu
        total_wall, total_cpu, total_steps = (
            total_wall + wall,
            total_cpu + cpu,
            total_steps + result.engine_steps,
        )
        rows.append(
            [
                procedure,
                result.engine_steps,
                result.cases,
                "yes" if result.complete else "cut",
                len(result.findings),
                round(wall, 2),
                round(result.engine_steps / wall),
                round(result.engine_steps / cpu),
            ]
        )
        results[f"explore_{procedure}_steps_per_cpu_s"] = result.engine_steps / cpu
    rows.append(
        [
            "catalogue",
            total_steps,
            "",
            "",
            "",
            round(total_wall, 2),
            round(total_steps / total_wall),
            round(total_steps / total_cpu),
        ]
    )
    fire.table(
        rows,
        ("procedure", "steps", "cases", "search", "findings", "wall s", "steps/s", "steps/cpu s"),
    )
    results["explore_catalogue_s"] = total_wall
    results["explore_steps_per_cpu_s"] = total_steps / total_cpu
    print(f"target: the catalogue in under 60 s: {fire.verdict(total_wall < 60)}")
    print()

    fire.header("the kit's replay check after every accepted step (random lives)")
    rows = []
    for check in ("whole", "fed"):
        steps = 0
        wall = cpu = 0.0
        for procedure in PROCEDURES:
            s, w, c = _lives(engine, procedure, lives, check)
            steps, wall, cpu = steps + s, wall + w, cpu + c
        label = "replay the whole log" if check == "whole" else "Engine.replayer().feed"
        rows.append([label, steps, round(wall, 2), round(steps / wall), round(steps / cpu)])
        results[f"kit_{check}_steps_per_cpu_s"] = steps / cpu
    fire.table(rows, ("check", "steps", "wall s", "steps/s", "steps/cpu s"))
    ok = results["kit_fed_steps_per_cpu_s"] >= 2000
    print(f"target: 2,000 steps per CPU second with the check on: {fire.verdict(ok)}")
    return results


if __name__ == "__main__":
    main()
