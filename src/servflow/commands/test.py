"""``servflow test [SCENARIO...]``: run scenario files and say which pass.

Each argument is a scenario file or a folder, searched recursively for YAML files that
are scenarios (files with a top-level ``scenario:`` key; procedure and calendar files
beside them are skipped). Without arguments: the ``scenarios`` folder of the procedures
folder. Prints ``PASS file (n steps)`` or a ``FAIL`` block per file, then
``N passed, M failed``. Exit 0 when every scenario passed, 1 when one failed or could not
be read, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from servflow.commands._common import add_procedures_option, default_procedures_dir
from servflow.engine import Engine
from servflow.errors import DefinitionError
from servflow.model import LANGUAGES
from servflow.procedures.source import peek_source
from servflow.render.common import DEFAULT_LANGUAGE
from servflow.testing import ScenarioError, engine_for, load_scenario, run_scenario
from servflow.testing.scenarios import Scenario

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "test",
        help="run scenario files",
        description="Run scenario files (a case's life with expectations) against the procedures. "
        "Exit 0 when all pass, 1 when any fails.",
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help="scenario files or folders (default: the scenarios folder of the procedures folder)",
    )
    add_procedures_option(parser)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print the timeline of passing scenarios too"
    )
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=DEFAULT_LANGUAGE,
        help=f"language of the titles shown beside choice values (default: {DEFAULT_LANGUAGE})",
    )


def _is_scenario(path: Path) -> bool:
    text = peek_source(path)
    return text is not None and "\nscenario:" in f"\n{text}"


def _files(args: list[str], default: Path) -> list[Path] | str:
    """The scenario files to run, or a usage error message."""
    targets = [Path(a) for a in args] or [default]
    found: list[Path] = []
    for target in targets:
        if target.is_dir():
            found.extend(
                p
                for p in sorted(target.rglob("*"))
                if p.suffix in (".yaml", ".yml") and _is_scenario(p)
            )
        elif target.exists():  # a FIFO or device too: reading it reports not-a-file
            found.append(target)
        else:
            return f"no such file or folder: {target}"
    return found


def run(args: argparse.Namespace) -> int:
    folder = default_procedures_dir(args.procedures)
    files = _files(list(args.scenarios), folder / "scenarios")
    if isinstance(files, str):
        print(f"servflow test: error: {files}", file=sys.stderr)
        return 2
    if not files:
        where = ", ".join(args.scenarios) or str(folder / "scenarios")
        print(f"no scenario files found in {where}", file=sys.stderr)
        return 1
    engines: dict[str, Engine] = {}
    passed = failed = 0
    for path in files:
        try:
            scenario = load_scenario(path)
            key = _engine_key(scenario)
            if key not in engines:
                engines[key] = engine_for(scenario, folder)
            result = run_scenario(scenario, engines[key], lang=args.lang)
        except ScenarioError as exc:
            failed += 1
            print(f"ERROR {path}: the scenario file has problems")
            _print_diagnostics(exc)
            continue
        except DefinitionError as exc:
            failed += 1
            print(f"ERROR {path}: its procedure has problems")
            _print_diagnostics(exc)
            continue
        if result.passed:
            passed += 1
            print(result.report())
            if args.verbose:
                _print_timeline(result.timeline)
        else:
            failed += 1
            print(result.report())
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def _print_diagnostics(exc: DefinitionError) -> None:
    for diagnostic in exc.diagnostics:
        print(f"  {diagnostic}")


def _print_timeline(timeline: tuple[str, ...]) -> None:
    for entry in timeline:
        print(f"    {entry}")


def _engine_key(scenario: Scenario) -> str:
    path = scenario.procedure_path
    return str(path.resolve()) if path is not None else f"id:{scenario.procedure}"
