"""Before a scenario runs: the engine for its procedure, and names it must not get wrong.

``procedure: repair`` is a procedure id looked up in a procedures folder, the way
``servflow docs PROC`` finds it; ``procedure: ../my_repair.yaml`` is a file, read with the
calendar files of its own folder. Expectations that name a state, a field, a time limit,
a trigger or a role the procedure does not have are errors with their position (a typo in
an expectation would otherwise be a confusing failure, or worse, a silent pass).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from servflow._hints import did_you_mean
from servflow.catalogue import catalogue_path
from servflow.engine import Engine
from servflow.errors import DefinitionError, Diagnostic
from servflow.model import Procedure
from servflow.procedures.load import (
    latest_with_links,
    linked_procedures,
    load_catalogue,
    load_file,
)
from servflow.procedures.source import peek_source
from servflow.testing.scenarios import Scenario, ScenarioError, SourcePath

__all__ = ["engine_for", "procedure_of", "static_problems"]


_ID_RE = re.compile(r"^id:[ \t]*[\"']?([a-z][a-z0-9_]*)[\"']?[ \t]*(?:#.*)?$", re.M)


def _default_folder() -> Path:
    local = Path("procedures")
    return local if local.is_dir() else catalogue_path()


def _calendar_files(folder: Path) -> list[Path]:
    """Calendar files of a folder: `calendars:` at the top and no procedure `id:`."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.y*ml")):
        text = "\n" + (peek_source(path) or "")
        if "\ncalendars:" in text and "\nid:" not in text:
            found.append(path)
    return found


def _declared_id(path: Path) -> str | None:
    """The ``id:`` a procedure file declares, read from its text without loading it."""
    text = peek_source(path)
    if text is None:
        return None
    match = _ID_RE.search(text)
    return match.group(1) if match else None


def _files_for(folder: Path, procedure: str) -> list[Path]:
    """The files that may hold ``procedure``, with the folder's calendars.

    Loading a procedure compiles all its expressions, so only the candidates are loaded;
    with no candidate the whole folder is, for the error and the list of known ids.
    """
    files = sorted(folder.glob("*.y*ml"))
    candidates = [f for f in files if _declared_id(f) == procedure]
    return [*candidates, *_calendar_files(folder)] if candidates else [folder]


def engine_for(scenario: Scenario, procedures: str | Path | None = None) -> Engine:
    """An engine holding the scenario's procedure and the calendars beside it.

    ``procedure: repair`` is looked up in ``procedures`` (default: ``./procedures`` if it
    exists, else the standard catalogue); ``procedure: ../repair.yaml`` is that file, with
    the calendar files of its own folder (:func:`~servflow.procedures.load.catalogue_files`).
    """
    folder = Path(procedures) if procedures is not None else _default_folder()
    path = scenario.procedure_path
    if path is not None:
        if not path.exists():  # a FIFO or a device is reported when read (not-a-file)
            raise ScenarioError(
                [
                    scenario.diagnostic(
                        ("procedure",), "unknown-procedure", f"no procedure file {str(path)!r}"
                    )
                ]
            )
        # With the calendar files of its own folder, as the engine loads a file.
        catalogue = load_catalogue([path])
        wanted = catalogue.procedures[:1] if catalogue.results[0].ok else []
    else:
        catalogue = load_catalogue(
            _files_for(folder, scenario.procedure) if folder.is_dir() else []
        )
        wanted = [p for p in catalogue.procedures if p.id == scenario.procedure]
    if not wanted:
        errors = catalogue.errors
        if errors:
            raise DefinitionError(errors)
        known = sorted({p.id for p in catalogue.procedures})
        raise ScenarioError(
            [
                scenario.diagnostic(
                    ("procedure",),
                    "unknown-procedure",
                    f"no procedure {scenario.procedure!r} in {folder} (known: {', '.join(known) or 'none'})"
                    + did_you_mean(scenario.procedure, known),
                )
            ]
        )
    # The procedures its steps open are held too, as the engine needs them (a scenario
    # runs one case: the linked cases are not opened).
    linked = linked_procedures(wanted, latest_with_links(catalogue))
    return Engine([*wanted, *linked], calendars=catalogue.calendars)


def procedure_of(scenario: Scenario, engine: Engine) -> Procedure:
    name = scenario.procedure
    if scenario.procedure_path is not None:
        declared = _declared_id(scenario.procedure_path)
        if declared is not None and declared in {p.id for p in engine.procedures()}:
            name = declared
        else:
            result = load_file(scenario.procedure_path)
            if result.procedure is None:
                raise DefinitionError(result.diagnostics)
            name = result.procedure.id
    try:
        return engine.procedure(name, scenario.procedure_version)
    except KeyError as exc:
        where: SourcePath = ("procedure_version",) if scenario.procedure_version else ("procedure",)
        raise ScenarioError(
            [scenario.diagnostic(where, "unknown-procedure", str(exc.args[0]))]
        ) from None


def static_problems(scenario: Scenario, proc: Procedure) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    triggers = {"start", *proc.transitions, *proc.time_limits}

    def check(value: Any, path: SourcePath, what: str, valid: Iterable[str]) -> None:
        names = list(valid)
        if isinstance(value, str) and value not in names:
            found.append(
                scenario.diagnostic(
                    path,
                    f"unknown-{what.replace(' ', '-')}",
                    f"{proc.id} has no {what} {value!r}" + did_you_mean(value, names),
                )
            )

    for step in scenario.steps:
        for exp in step.expect:
            value = exp.value
            if exp.key == "state":
                check(value, exp.path, "state", proc.states)
            elif exp.key == "fields":
                for name in value:
                    check(name, (*exp.path, name), "field", proc.fields)
            elif exp.key == "time_limits":
                for name in value:
                    check(name, (*exp.path, name), "time limit", proc.time_limits)
            elif exp.key in ("events", "events_include"):
                for pattern in value:
                    where = pattern["_path"]
                    check(pattern.get("from"), (*where, "from"), "state", proc.states)
                    check(pattern.get("to"), (*where, "to"), "state", proc.states)
                    check(
                        pattern.get("time_limit"),
                        (*where, "time_limit"),
                        "time limit",
                        proc.time_limits,
                    )
                    check(pattern.get("trigger"), (*where, "trigger"), "trigger", triggers)
                    check(pattern.get("role"), (*where, "role"), "role", proc.roles)
                    for name in pattern.get("changes") or {}:
                        check(name, (*where, "changes", name), "field", proc.fields)
            elif exp.key in ("effects", "effects_include"):
                for pattern in value:
                    where = pattern["_path"]
                    check(pattern.get("notify"), (*where, "notify"), "role", proc.roles)
                    check(
                        pattern.get("time_limit"),
                        (*where, "time_limit"),
                        "time limit",
                        proc.time_limits,
                    )
                    check(pattern.get("trigger"), (*where, "trigger"), "trigger", triggers)
    return found
