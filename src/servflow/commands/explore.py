"""``servflow explore PATH...``: find the mistakes of a procedure that no single test shows.

Each argument is a procedure file or a folder of them (with their calendar files), read
as ``servflow check`` reads it, each on its own. Each procedure is explored (:mod:`servflow.testing.explore`): stuck cases, states and branches
no life reaches, time limits that never run, are never breached or never met, and
``properties`` a life breaks, each with the shortest life that shows it; then a coverage
table. ``--write-scenarios DIR`` writes each finding as a scenario file that
``servflow test`` runs and fails for the same reason. Exit 0 when nothing but coverage
is reported, 1 when something is found (or a file has errors), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from servflow.catalogue import Engine
from servflow.procedures.load import latest_with_links, linked_procedures, load_catalogue
from servflow.testing.explore import (
    DEFAULT_LIVES,
    DEFAULT_STEPS,
    Exploration,
    explore,
    scenario_text,
)

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "explore",
        help="explore procedures for stuck cases, dead branches, limits and broken properties",
        description="Explore each procedure's reachable cases and random lives; report stuck "
        "cases, dead states and branches, time limits never started, breached or met, and "
        "broken properties. Exit 1 when anything is found.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="procedure files or folders")
    parser.add_argument(
        "--lives", type=int, default=DEFAULT_LIVES, help=f"random lives (default {DEFAULT_LIVES})"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        help=f"engine steps per procedure (default {DEFAULT_STEPS})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random lives")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--all-versions",
        action="store_true",
        help="also explore the earlier versions a catalogue keeps for running cases",
    )
    parser.add_argument(
        "--write-scenarios",
        metavar="DIR",
        type=Path,
        help="write each finding as a scenario file into DIR",
    )


def _table(result: Exploration) -> list[str]:
    cov = result.coverage
    lines = [f"  coverage of {result.procedure}:"]
    tables = (
        ("states", cov.states),
        ("branches", cov.branches),
        ("roles", cov.roles),
        ("targets", cov.targets),
    )
    for title, table in tables:
        done = [k for k, v in table.items() if v]
        missing = [k for k, v in table.items() if not v]
        line = f"    {title:<10} {len(done)}/{len(table)}"
        if missing:
            line += f"  not reached: {', '.join(missing)}"
        lines.append(line)
    for name, outcomes in cov.limits.items():
        shown = " ".join(f"{o}={'yes' if seen else 'no'}" for o, seen in outcomes.items())
        lines.append(f"    limit      {name}: {shown}")
    return lines


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")[:60] or "finding"


def run(args: argparse.Namespace) -> int:
    if args.lives < 0 or args.steps < 1:
        print(
            "servflow explore: error: --lives must be 0 or more, --steps 1 or more", file=sys.stderr
        )
        return 2
    try:
        import hypothesis  # noqa: F401  (the random lives and plain values are drawn with it)
    except ImportError:  # pragma: no cover - the test extra is installed where tests run
        print(
            "servflow explore: error: it needs hypothesis: pip install 'servflow[test]'",
            file=sys.stderr,
        )
        return 2
    for path in args.paths:
        if not Path(path).exists():
            print(f"servflow explore: error: no such file or folder: {path}", file=sys.stderr)
            return 2
    status = 0
    results: list[Exploration] = []
    # Each argument is a catalogue of its own (a folder, or a file with the calendars
    # beside it), as `servflow check` reads it: files given one by one may define the same
    # procedure (variants of one file, say) and are explored each on its own.
    for path in args.paths:
        catalogue = load_catalogue([Path(path)])
        for diagnostic in catalogue.errors:
            print(diagnostic, file=sys.stderr)
            status = 1
        linked = latest_with_links(catalogue)  # what the procedures' links open
        latest: dict[str, int] = {}
        for loaded in catalogue.results:
            if loaded.procedure is not None and loaded.ok:
                pid, version = loaded.procedure.id, loaded.procedure.version
                latest[pid] = max(version, latest.get(pid, version))
        for loaded in catalogue.results:
            proc = loaded.procedure
            if proc is None or not loaded.ok:
                continue
            if not args.all_versions and proc.version < latest[proc.id]:
                # An earlier version is kept for the cases still running on it; what an
                # analyst changes, and what new cases run, is the latest one.
                if args.format != "json":
                    print(
                        f"{loaded.file}: {proc.id}: version {proc.version} skipped "
                        f"(version {latest[proc.id]} is in the catalogue; --all-versions "
                        "explores it too)"
                    )
                continue
            # The procedures its steps open are in the engine too (the search does not
            # follow them: each is explored as a procedure of its own).
            engine = Engine(
                [proc, *linked_procedures([proc], linked)], calendars=catalogue.calendars
            )
            file = Path(loaded.file)
            result = explore(
                engine, proc.id, lives=args.lives, steps=args.steps, seed=args.seed, file=file
            )
            results.append(result)
            if result.findings:
                status = 1
            if args.write_scenarios is not None:
                args.write_scenarios.mkdir(parents=True, exist_ok=True)
                for i, finding in enumerate(result.findings, 1):
                    name = f"{file.stem}_{i:02d}_{finding.kind}_{_slug(finding.subject)}.yaml"
                    (args.write_scenarios / name).write_text(
                        scenario_text(finding, file, args.write_scenarios), encoding="utf-8"
                    )
    if args.format == "json":
        print(json.dumps([r.as_dict() for r in results], ensure_ascii=False, indent=2))
        return status
    for result in results:
        found = len(result.findings)
        search = "complete" if result.complete else "cut at the step budget"
        print(
            f"{result.file}: {result.procedure}: {found} finding{'s' if found != 1 else ''} "
            f"({result.cases} cases, {result.engine_steps} engine steps, {result.lives} random "
            f"lives, search {search}, {result.seconds:.1f}s)"
        )
        for finding in result.findings:
            print(f"  {finding.kind} {finding.subject}: {finding.message}")
            print(f"    shortest life: {len(finding.life) + (finding.last is not None)} steps")
        print("\n".join(_table(result)))
    return status
