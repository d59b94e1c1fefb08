"""``servflow check [PATH...]``: every problem of procedure and calendar files, one a line.

Each line reads ``file:line:col: error|warning CODE message``, sorted by file and line,
the form editors and CI annotate. Exit status: 0 when there is no error (warnings are
allowed unless ``--strict``), 1 when there are errors, 2 for a usage error (a path that
does not exist, a folder without YAML files). ``--format json`` prints one JSON document
instead.

A file is checked together with the calendar files of its own folder (or, when its folder
has none, of the procedures folder), so that ``calendar: office`` resolves; only the
files named (or found in the folders named) are reported on. Whatever the input, the
command prints diagnostics, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from servflow.commands._common import add_procedures_option, default_procedures_dir
from servflow.errors import Diagnostic
from servflow.procedures.load import Catalogue, load_catalogue
from servflow.procedures.source import peek_source

__all__ = ["check_paths", "register", "run"]

_SUFFIXES = (".yaml", ".yml")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check procedure and calendar files; one diagnostic a line",
        description="Check procedure and calendar files and print every problem as "
        "'file:line:col: error|warning CODE message'. Exit 0 when there are no errors, "
        "1 when there are, 2 for a usage error.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or folders to check (default: the procedures folder)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="treat warnings as errors (exit 1 on any)"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default): one diagnostic a line; json: one document for editors and CI",
    )
    add_procedures_option(parser)


def _expand(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """The files to report on, and usage problems (missing paths, empty folders)."""
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            # Not only regular files: a FIFO or folder named *.yaml is reported, not skipped;
            # a dangling symlink (an editor's lock file) is, as the loader does.
            found = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.exists())
            if not found:
                problems.append(f"no .yaml files in {path}")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            problems.append(f"no such file or folder: {path}")
    unique: dict[Path, Path] = {}
    for file in files:
        unique.setdefault(_real(file), file)
    return list(unique.values()), problems


def _real(path: Path) -> Path:
    # Not Path.resolve(): on Python 3.11 it raises on a symlink loop, which is a file to
    # report (unreadable), not a reason to stop.
    return Path(os.path.realpath(path))


def _looks_like_calendars(path: Path) -> bool:
    text = peek_source(path)  # None for a device, a pipe or a huge file: never hang on one
    if text is None:
        return False
    return "\ncalendars:" in f"\n{text}" and "\nid:" not in f"\n{text}"


def _context_calendars(files: list[Path], procedures_dir: Path) -> list[Path]:
    """Calendar files the checked files may refer to, that are not checked themselves."""
    if any(_looks_like_calendars(f) for f in files):
        return []  # the files bring calendars of their own; mixing would duplicate names
    checked = {_real(f) for f in files}
    context: dict[Path, Path] = {}
    for folder in sorted({_real(f).parent for f in files}):
        candidates = [p for p in sorted(folder.glob("*.y*ml")) if _looks_like_calendars(p)]
        if not candidates and procedures_dir.is_dir():
            candidates = [
                p for p in sorted(procedures_dir.glob("*.y*ml")) if _looks_like_calendars(p)
            ]
        for cal in candidates:
            if _real(cal) not in checked:
                context.setdefault(_real(cal), cal)
    return list(context.values())


def check_paths(paths: list[Path], procedures_dir: Path) -> tuple[list[Diagnostic], list[str]]:
    """The diagnostics of the files at ``paths``, and usage problems."""
    files, problems = _expand(paths)
    if problems:
        return [], problems
    context = _context_calendars(files, procedures_dir)
    try:
        catalogue = load_catalogue([*files, *context])
    except Exception as exc:  # never a traceback: report it as a finding
        return [_internal(str(f), exc) for f in files], []
    return _reported(catalogue, {str(f) for f in files}), []


def _reported(catalogue: Catalogue, wanted: set[str]) -> list[Diagnostic]:
    return sorted(d for r in catalogue.results if r.file in wanted for d in r.diagnostics)


def _internal(file: str, exc: Exception) -> Diagnostic:
    return Diagnostic(
        file,
        1,
        1,
        "error",
        "internal-error",
        f"servflow could not check this file ({type(exc).__name__}: {exc}); please report it",
    )


def run(args: argparse.Namespace) -> int:
    procedures_dir = default_procedures_dir(args.procedures)
    paths = [Path(p) for p in args.paths] or [procedures_dir]
    diagnostics, problems = check_paths(paths, procedures_dir)
    if problems:
        for problem in problems:
            print(f"servflow check: error: {problem}", file=sys.stderr)
        return 2
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    failed = errors > 0 or (args.strict and warnings > 0)
    if args.format == "json":
        document = {
            "ok": not failed,
            "errors": errors,
            "warnings": warnings,
            "diagnostics": [_as_json(d) for d in diagnostics],
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        for diagnostic in diagnostics:
            print(diagnostic)
        summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        print(f"servflow check: {summary}", file=sys.stderr)
    return 1 if failed else 0


def _as_json(diagnostic: Diagnostic) -> dict[str, object]:
    return dict(diagnostic.as_dict())
