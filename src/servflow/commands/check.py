"""``servflow check [PATH...]``: every problem of procedure and calendar files, one a line.

Each line reads ``file:line:col: error|warning CODE message``, sorted by file and line,
the form editors and CI annotate. Exit status: 0 when there is no error (warnings are
allowed unless ``--strict``), 1 when there are errors, 2 for a usage error (a path that
does not exist, a folder without YAML files, no path and no ``procedures/`` folder).
``--format json`` prints one JSON document instead.

The files checked are exactly those :meth:`servflow.Engine.from_directory` would load for the same
paths (:func:`~servflow.procedures.load.catalogue_files`): the files of the folders named,
and each file named with the calendar files of its own folder. Nothing is borrowed from
another folder or from the standard catalogue, so ``check`` passes exactly when the engine
can be built from the same paths. The last line (on stderr) says what was checked.

Only ``check`` reads the clock: a calendar whose published schedule ends within
:data:`EXPIRY_WARNING_DAYS` days of today (``--today`` or ``SERVFLOW_TODAY`` say which day
that is) gets a ``calendar-expiring`` warning. Whatever the input, the command prints
diagnostics, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from servflow.commands._common import add_procedures_option
from servflow.errors import Diagnostic
from servflow.procedures.advice import strict_advice
from servflow.procedures.load import Catalogue, load_catalogue
from servflow.render.forms import check_templates

__all__ = ["EXPIRY_WARNING_DAYS", "CheckReport", "check", "check_paths", "register", "run"]

_SUFFIXES = (".yaml", ".yml")

EXPIRY_WARNING_DAYS = 60
"""A calendar published through a date at most this many days after today is warned of."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check procedure and calendar files; one diagnostic a line",
        description="Check procedure and calendar files and print every problem as "
        "'file:line:col: error|warning CODE message'. A file is checked with the calendar "
        "files of its own folder, as the engine loads it. Exit 0 when there are no errors, "
        "1 when there are, 2 for a usage error.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or folders to check (default: the procedures folder)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings as errors (exit 1 on any), and warn of conditions without a message",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default): one diagnostic a line; json: one document for editors and CI",
    )
    parser.add_argument(
        "--today",
        metavar="YYYY-MM-DD",
        help="the date calendars' published schedules are compared with (default: "
        "$SERVFLOW_TODAY, else the host's date)",
    )
    add_procedures_option(parser)


@dataclass
class CheckReport:
    """What ``check`` found, and what it looked at."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    procedure_files: list[str] = field(default_factory=list)
    calendar_files: list[str] = field(default_factory=list)


def _usage_problems(paths: Iterable[Path]) -> list[str]:
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            # Not only regular files: a FIFO or folder named *.yaml is reported, not skipped.
            if not any(p.suffix in _SUFFIXES and p.exists() for p in path.iterdir()):
                problems.append(f"no .yaml files in {path}")
        elif not path.exists() and not path.is_symlink():
            # A symlink that ends nowhere or loops is there: reading it reports `unreadable`.
            problems.append(f"no such file or folder: {path}")
    return problems


def check(paths: list[Path], *, today: date, strict: bool = False) -> CheckReport:
    """Check the catalogue of ``paths`` as the engine would load it, as of ``today``;
    ``strict`` adds the advice only a strict check gives (:mod:`servflow.procedures.advice`)."""
    problems = _usage_problems(paths)
    if problems:
        return CheckReport(problems=problems)
    try:
        catalogue = load_catalogue(paths)
    except Exception as exc:  # never a traceback: report it as a finding
        return CheckReport(diagnostics=[_internal(str(p), exc) for p in paths])
    found = [
        *catalogue.diagnostics,
        *_expiry_warnings(catalogue, today),
        *_template_problems(catalogue),
    ]
    if strict:
        for result in catalogue.results:
            if result.procedure is not None and result.source_map is not None:
                found.extend(strict_advice(result.procedure, result.source_map))
    return CheckReport(
        diagnostics=sorted(found),
        procedure_files=catalogue.procedure_files,
        calendar_files=catalogue.calendar_files,
    )


def check_paths(
    paths: list[Path], procedures_dir: Path | None = None, *, today: date | None = None
) -> tuple[list[Diagnostic], list[str]]:
    """The diagnostics of the catalogue at ``paths``, and usage problems.

    ``procedures_dir`` is accepted for compatibility and not used: calendars come from
    the paths themselves (see the module's docstring).
    """
    report = check(paths, today=today or date.today())
    return report.diagnostics, report.problems


def _expiry_warnings(catalogue: Catalogue, today: date) -> list[Diagnostic]:
    """A calendar whose published schedule ends soon: next year's must be published."""
    found: list[Diagnostic] = []
    for result in catalogue.results:
        for name, spec in result.calendars.items():
            through = spec.published_through
            if through is None or result.source_map is None:
                continue
            left = (through - today).days
            if left > EXPIRY_WARNING_DAYS:
                continue
            when = (
                f"{left} day{'s' * (left != 1)} from today ({today})"
                if left >= 0
                else f"which was {-left} day{'s' * (left != -1)} before today ({today})"
            )
            found.append(
                result.source_map.diagnostic(
                    ("calendars", name, "published_through"),
                    "calendar-expiring",
                    f"calendar {name!r} is published through {through}, {when}: publish the "
                    "next year's schedule (move published_through on); deadlines after it "
                    "are provisional until then",
                    severity="warning",
                )
            )
    return found


def _template_problems(catalogue: Catalogue) -> list[Diagnostic]:
    """The notification templates and record forms each procedure names, checked in the
    ``templates/`` folder beside its file (see :mod:`servflow.render.forms`)."""
    found: list[Diagnostic] = []
    for result in catalogue.results:
        smap = result.source_map
        if result.procedure is None or smap is None:
            continue
        for problem in check_templates(result.procedure, Path(result.file).parent, smap.diagnostic):
            # The versions of a procedure share its templates: say each problem of a
            # template file once, not once per version that names it.
            if problem not in found:
                found.append(problem)
    return found


def _internal(file: str, exc: Exception) -> Diagnostic:
    return Diagnostic(
        file,
        1,
        1,
        "error",
        "internal-error",
        f"servflow could not check this file ({type(exc).__name__}: {exc}); please report it",
    )


def _today(option: str | None) -> date:
    text = option or os.environ.get("SERVFLOW_TODAY")
    return date.fromisoformat(text) if text else date.today()


def run(args: argparse.Namespace) -> int:
    try:
        today = _today(args.today)
    except ValueError:
        print(
            "servflow check: error: --today (or SERVFLOW_TODAY) is not YYYY-MM-DD", file=sys.stderr
        )
        return 2
    if args.paths:
        paths = [Path(p) for p in args.paths]
    elif args.procedures:
        paths = [Path(args.procedures)]
    elif Path("procedures").is_dir():
        paths = [Path("procedures")]
    else:
        print(
            "servflow check: error: no procedures/ folder here; name the files or folders "
            "to check (servflow check PATH...) or give --procedures DIR",
            file=sys.stderr,
        )
        return 2
    report = check(paths, today=today, strict=args.strict)
    if report.problems:
        for problem in report.problems:
            print(f"servflow check: error: {problem}", file=sys.stderr)
        return 2
    diagnostics = report.diagnostics
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    failed = errors > 0 or (args.strict and warnings > 0)
    if args.format == "json":
        document = {
            "ok": not failed,
            "errors": errors,
            "warnings": warnings,
            "diagnostics": [_as_json(d) for d in diagnostics],
            "checked": {
                "procedures": report.procedure_files,
                "calendars": report.calendar_files,
            },
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        for diagnostic in diagnostics:
            print(diagnostic)
        summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        print(f"servflow check: {summary}; {_checked(report)}", file=sys.stderr)
    return 1 if failed else 0


def _checked(report: CheckReport) -> str:
    procedures, calendars = len(report.procedure_files), len(report.calendar_files)
    text = f"checked {procedures} procedure file{'s' * (procedures != 1)}"
    text += f", {calendars} calendar file{'s' * (calendars != 1)}"
    if calendars:
        text += ": " + ", ".join(report.calendar_files)
    return text + " (and the built-in calendar 'always')"


def _as_json(diagnostic: Diagnostic) -> dict[str, object]:
    return dict(diagnostic.as_dict())
