"""Loading procedure and calendar files: text -> data -> validated models -> checked.

Every load reports *all* problems at once, each as a :class:`~servflow.errors.Diagnostic`
with file, line, column, a stable code and a message that names the bad value and, where
one is close, the valid name that was probably meant. Only :class:`DefinitionError` ever
escapes from here, whatever the input.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core.core_schema import ErrorType

from servflow._hints import did_you_mean
from servflow._strict import WholeNumber
from servflow.calendar_spec import HOLIDAY_SOURCES_CHECKED, CalendarSpec
from servflow.engine.links import link_problems
from servflow.engine.registry import (
    calendar_name_problem,
    calendar_references,
    digest_of,
    duplicate_version_message,
    unknown_calendar_message,
)
from servflow.errors import DefinitionError, Diagnostic
from servflow.model import Procedure
from servflow.procedures import cache
from servflow.procedures.checks import check_procedure
from servflow.procedures.counts import check_counts
from servflow.procedures.labels import lint_labels
from servflow.procedures.lint import lint_procedure
from servflow.procedures.schedules import calendar_problems
from servflow.procedures.source import (
    LazySourceMap,
    SourceFileError,
    SourceMap,
    peek_source,
    read_source,
    read_yaml,
)

__all__ = [
    "CalendarFile",
    "Catalogue",
    "LoadResult",
    "catalogue_files",
    "digest_of",
    "latest_with_links",
    "linked_procedures",
    "load_catalogue",
    "load_file",
    "load_procedure",
    "load_text",
    "pydantic_diagnostics",
]

Loc = tuple[str | int, ...]

# pydantic's own error types; any other type was raised by a model of ours with
# `PydanticCustomError(code, "{message}", {"message": ..., "whole": ..., "key": ...})`.
_PYDANTIC_ERRORS = frozenset(get_args(ErrorType))


class CalendarFile(BaseModel):
    """A file of calendars shared by the procedures of a catalogue."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    servflow: WholeNumber = Field(description="Language version; always 1.", ge=1, le=1)
    calendars: dict[str, CalendarSpec] = Field(description="Calendars by name.")


@dataclass
class LoadResult:
    """What one file held: a procedure or calendars, and every diagnostic found."""

    file: str
    procedure: Procedure | None = None
    calendars: dict[str, CalendarSpec] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    source_map: SourceMap | None = None

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


@dataclass
class Catalogue:
    """The procedures and calendars of a directory (or a list of files)."""

    procedures: list[Procedure] = field(default_factory=list)
    calendars: dict[str, CalendarSpec] = field(default_factory=dict)
    results: list[LoadResult] = field(default_factory=list)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return sorted(d for r in self.results for d in r.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        """The diagnostics that make a file unusable (not the warnings)."""
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def calendar_files(self) -> list[str]:
        """The files that held calendars, in the order they were read."""
        return [r.file for r in self.results if r.calendars or _holds_calendars(r)]

    @property
    def procedure_files(self) -> list[str]:
        """The files that were read as procedures (valid or not)."""
        calendars = set(self.calendar_files)
        return [r.file for r in self.results if r.file not in calendars]


def _clipped(value: object, width: int = 80) -> str:
    """``repr(value)``, cut to ``width`` characters: a diagnostic quotes, it does not copy."""
    text = repr(value)
    return text if len(text) <= width else f"{text[: width - 4]}...{text[-1]}"


def _model_fields(model: type[BaseModel]) -> set[str]:
    return set(_model_keys(model))


def _model_keys(model: type[BaseModel]) -> list[str]:
    """The keys a model reads, as a file writes them, in the order they are declared."""
    return [f.alias or name for name, f in model.model_fields.items()]


def _unwrap(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` -> X."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            annotation = options[-1] if options else annotation
            if len(options) <= 1:
                continue
            return annotation
        else:
            return annotation


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (for key suggestions)."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if isinstance(part, int):
                continue  # an index of a list whose item model was already stepped into
            info = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
            if info is None:
                return None
            current = info.annotation
            continue
        origin, args = get_origin(current), get_args(current)
        if origin in (dict, Mapping) and len(args) == 2:
            current = args[1]
        elif origin in (list, tuple, set, frozenset) and args:
            current = args[0]
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def pydantic_diagnostics(
    exc: ValidationError,
    smap: SourceMap,
    root: type[BaseModel],
    *,
    place: Callable[[Loc], str] | None = None,
) -> list[Diagnostic]:
    """Every error of ``exc`` (validating ``root``) as a diagnostic positioned by ``smap``.

    ``place`` names a location in messages (a scenario's "step 2"); by default the path
    as written (``transitions.close``). An error a model raised with its own code (any type
    that is not pydantic's) keeps that code and message; its context may add ``key`` (the
    problem is the key, not its value), ``whole`` (the message names its subject, so no
    place goes before it) and ``sep`` (what joins the place and the message; ``": "``).
    """
    out: list[Diagnostic] = []
    bad_keys: set[tuple[str | int, ...]] = set()
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        kind = error["type"]
        if loc in bad_keys:
            continue  # the value under a key already reported as wrong
        on_key = bool(loc) and loc[-1] == "[key]"
        if on_key:
            # pydantic's marker for "the key itself was wrong" (a bad language code).
            loc = loc[:-1]
            if kind == "literal_error":
                bad_keys.add(loc)
                out.append(
                    smap.diagnostic(
                        loc,
                        "unknown-language",
                        f"unknown language {loc[-1]!r}; use zh-Hant, zh-Hans or en"
                        + (
                            _comma_hint(smap, loc)
                            or _language_hint(loc[-1])
                            or did_you_mean(loc[-1], ("zh-Hant", "zh-Hans", "en"))
                        ),
                        key=True,
                    )
                )
                continue
        where = place(loc) if place else (smap.display(loc) or "(top)")
        if kind not in _PYDANTIC_ERRORS:
            ctx = error.get("ctx") or {}
            message = str(ctx.get("message", error["msg"]))
            out.append(
                smap.diagnostic(
                    loc,
                    kind.replace("_", "-"),
                    message if ctx.get("whole") else f"{where}{ctx.get('sep', ': ')}{message}",
                    key=bool(ctx.get("key")),
                )
            )
        elif kind == "extra_forbidden":
            key = loc[-1]
            parent = _model_at(root, loc[:-1])
            valid = _model_fields(parent) if parent else set()
            # A small closed mapping (a time limit's clause) lists the keys it has.
            listed = (
                "; use " + ", ".join(sorted(valid, key=list(_model_keys(parent)).index))
                if parent is not None and getattr(parent, "list_keys_in_errors", False)
                else ""
            )
            out.append(
                smap.diagnostic(
                    loc,
                    "unknown-key",
                    f"unknown key {key!r} in "
                    + (place(loc[:-1]) if place else smap.display(loc[:-1]) or "the file")
                    + listed
                    + did_you_mean(key, valid),
                    key=True,
                )
            )
        elif kind == "missing":
            out.append(
                smap.diagnostic(
                    loc[:-1],
                    "missing-key",
                    f"{place(loc[:-1])} needs the key {loc[-1]!r}"
                    if place
                    else f"{where}: required key {loc[-1]!r} is missing",
                    key=True,
                )
            )
        else:
            value = error.get("input")
            shown = (
                f" (got {_clipped(value)})" if isinstance(value, str | int | float | bool) else ""
            )
            message = error["msg"].removeprefix("Value error, ")
            if kind == "literal_error" and loc and loc[-1] == "type":
                message = f"unknown field type {value!r}" + did_you_mean(
                    value,
                    (
                        "string",
                        "text",
                        "integer",
                        "decimal",
                        "boolean",
                        "date",
                        "datetime",
                        "choice",
                        "list",
                    ),
                )
                shown = ""
                code = "unknown-type"
            elif kind == "literal_error" and loc == ("servflow",):
                message = f"language version {value!r} is not supported; write `servflow: 1`"
                shown = ""
                code = "unsupported-version"
            else:
                code = _code_for(kind)
            name_loc = _named_key(smap, loc, message)
            out.append(
                smap.diagnostic(
                    name_loc or loc,
                    code,
                    f"{where}: {message}{shown}",
                    key=bool(name_loc) or on_key,  # a bad key (a date) is shown at the key
                )
            )
    return out


def _comma_hint(smap: SourceMap, loc: tuple[str | int, ...]) -> str:
    """The hint for ``{en: Replied, awaiting callback}``: the comma split the text."""
    line, column = smap.position(loc, key=True)
    before = smap.line_text(line)[: max(column - 1, 0)].rstrip()
    if "{" not in before or not before.endswith(","):
        return ""
    return (
        "; inside { } a comma starts a new entry, so the text before it was cut short: "
        "put text that contains a comma in quotes"
    )


_LANGUAGE_ALIASES = {
    "zh-tw": "zh-Hant", "zh-hk": "zh-Hant", "zh-mo": "zh-Hant", "zh-hant-tw": "zh-Hant",
    "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh": "zh-Hans", "zh-hans-cn": "zh-Hans",
    "en-us": "en", "en-gb": "en", "en-hk": "en",
}  # fmt: skip


def _language_hint(key: str | int) -> str:
    """``zh-TW`` -> "write zh-Hant": regional tags name the script the language uses."""
    meant = _LANGUAGE_ALIASES.get(str(key).lower())
    return f"; for {key!r} write {meant!r}" if meant else ""


def _named_key(
    smap: SourceMap, loc: tuple[str | int, ...], message: str
) -> tuple[str | int, ...] | None:
    """A bad *name* in a mapping (``Closed``) is reported at that key, not at the mapping."""
    match = re.match(r"name '([^']*)' must", message)
    if match and (*loc, match.group(1)) in smap.keys:
        return (*loc, match.group(1))
    return None


def _code_for(kind: str) -> str:
    # A mapping's model (a clause, a breach step) given something else is a wrong type too.
    if kind.startswith(
        ("string", "int", "float", "bool", "dict", "list", "date", "decimal", "model_type")
    ):
        return "wrong-type"
    if kind == "value_error":
        return "invalid-value"
    return kind.replace("_", "-")


def _yaml_hint(problem: Diagnostic) -> Diagnostic:
    """Add what to do to PyYAML's account of the commonest syntax slip."""
    if problem.code == "yaml-syntax" and problem.message.startswith("mapping values are not"):
        return dataclasses.replace(
            problem,
            message=problem.message + "; a colon followed by a space inside a value starts "
            "a new key: put text that contains ': ' in quotes",
        )
    return problem


def _unreported(found: list[Diagnostic], read: list[Diagnostic]) -> list[Diagnostic]:
    """``found`` without what stands where the reader already refused a value.

    The reader reports a value it cannot take (a number too long, a tag) and puts null in
    its place; that the model then finds null there is the same mistake, not a second.
    """
    refused = {(p.line, p.column) for p in read}
    return [d for d in found if (d.line, d.column) not in refused]


def load_text(text: str | bytes, file: str = "<string>") -> LoadResult:
    """Load one file's text; problems are in ``result.diagnostics``. Never raises."""
    data, smap, problems = read_yaml(text, file)
    return _judge(file, data, smap, problems)


def _judge(file: str, data: Any, smap: SourceMap, problems: list[Diagnostic]) -> LoadResult:
    """What a file's parsed YAML holds: the models, then every check of one file."""
    result = LoadResult(file=file, diagnostics=[_yaml_hint(p) for p in problems], source_map=smap)
    if data is None and result.ok:
        result.diagnostics.append(smap.diagnostic((), "empty", "the file holds no value"))
    if data is None:
        return result
    if not isinstance(data, dict):
        result.diagnostics.append(
            smap.diagnostic((), "not-a-mapping", "a procedure file is a mapping of keys to values")
        )
        return result
    _alias_transitions(data, smap)
    if "calendars" in data and "id" not in data:
        try:
            result.calendars = dict(CalendarFile.model_validate(data).calendars)
        except ValidationError as exc:
            result.diagnostics.extend(
                _unreported(pydantic_diagnostics(exc, smap, CalendarFile), problems)
            )
        return result
    try:
        procedure = Procedure.model_validate(data)
    except ValidationError as exc:
        result.diagnostics.extend(_unreported(pydantic_diagnostics(exc, smap, Procedure), problems))
        return result
    result.diagnostics.extend(_unreported(check_procedure(procedure, smap), problems))
    result.diagnostics.extend(_unreported(check_counts(procedure, smap), problems))
    result.diagnostics.extend(_unreported(lint_procedure(procedure, smap), problems))
    result.diagnostics.extend(_unreported(lint_labels(procedure, smap), problems))
    if result.ok:
        result.procedure = procedure
    return result


def _alias_transitions(data: dict[str, Any], smap: SourceMap) -> None:
    """A transition written as one mapping is read as a list of one branch: its paths
    answer with the index 0 too."""
    transitions = data.get("transitions")
    if isinstance(transitions, dict):
        smap.alias_all(
            [
                ("transitions", name)
                for name, value in transitions.items()
                if isinstance(value, dict)
            ],
            0,
        )


def _source_map_of(raw: bytes, file: str) -> SourceMap:
    """The source map loading ``raw`` gives (for a result read from the cache)."""
    data, smap, _ = read_yaml(raw, file)
    if isinstance(data, dict):
        _alias_transitions(data, smap)
    return smap


def load_file(path: str | Path) -> LoadResult:
    """Load one file from disk; unreadable files give a diagnostic, not an exception.

    What a file held is kept in the disk cache (:mod:`servflow.procedures.cache`), by its
    bytes: an unchanged file is not parsed and checked again, and gives the same result.
    """
    path = Path(path)
    file = str(path)
    try:
        raw = read_source(path)
    except SourceFileError as exc:
        return LoadResult(file=file, diagnostics=[exc.diagnostic()])
    folder = cache.cache_folder()
    if folder is None:
        return load_text(raw, file)
    key = cache.entry_key(raw, file)
    entry = cache.read_entry(folder, key, file)
    if entry is not None:
        found = _from_entry(entry, raw)
        if found is not None:
            return found
    data, smap, problems = read_yaml(raw, file)
    kept = _plain_copy(data)
    result = _judge(file, data, smap, problems)
    holds: cache.Holds = (
        "procedure" if result.procedure else "calendars" if result.calendars else "nothing"
    )
    if holds == "nothing" or kept is not None:
        cache.write_entry(folder, cache.make_entry(key, file, holds, kept, result.diagnostics))
    return result


def _plain_copy(data: Any) -> Any:
    """A copy of parsed YAML taken before the models see it, as JSON gives it back; None
    when JSON cannot hold it exactly (NaN, infinities): such a file is not cached."""
    try:
        copy = json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError):
        return None
    return copy if copy == data else None


def _from_entry(entry: cache.Entry, raw: bytes) -> LoadResult | None:
    """The result a cache entry recorded, its models validated again; None if they fail."""
    result = LoadResult(
        file=entry.file,
        diagnostics=cache.entry_diagnostics(entry),
        source_map=LazySourceMap(entry.file, partial(_source_map_of, raw, entry.file)),
    )
    try:
        if entry.holds == "procedure":
            result.procedure = Procedure.model_validate(entry.data)
        elif entry.holds == "calendars":
            # The entry's key covers the holidays package, which found these sources
            # supported: asking it again would import every country it knows.
            checked = {HOLIDAY_SOURCES_CHECKED: True}
            result.calendars = dict(
                CalendarFile.model_validate(entry.data, context=checked).calendars
            )
    except ValidationError:
        return None
    return result


def load_procedure(source: str | Path, *, file: str | None = None) -> Procedure:
    """One procedure from a path or from YAML text; raises :class:`DefinitionError`.

    A :class:`~pathlib.Path` is a file. A string is a file's path when it is one line
    ending in ``.yaml`` or ``.yml`` and no ``file`` is given; otherwise it is the YAML
    text itself, and ``file`` names it in diagnostics.
    """
    if isinstance(source, Path) or (
        file is None
        and isinstance(source, str)
        and "\n" not in source
        and source.endswith((".yaml", ".yml"))
    ):
        result = load_file(source)
    else:
        result = load_text(source, file or "<string>")
    if result.procedure is None:
        if not result.diagnostics:
            result.diagnostics.append(
                Diagnostic(
                    result.file, 1, 1, "error", "not-a-procedure", "this file holds no procedure"
                )
            )
        raise DefinitionError(result.diagnostics)
    return result.procedure


_SUFFIXES = (".yaml", ".yml")


def catalogue_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files a catalogue of ``paths`` is read from: where calendars come from.

    The one rule, for ``servflow check`` and :meth:`servflow.Engine.from_directory` alike:

    * a folder gives every ``.yaml``/``.yml`` entry in it (not its subfolders; a FIFO,
      device or folder named so is reported as ``not-a-file``, not skipped);
    * a file gives itself and the calendar files of its own folder;
    * nothing else: no calendar is borrowed from another folder or from the standard
      catalogue. ``always`` is built in; to use the calendars of another folder, name
      their file too.

    (A procedure that a link of a file names, missing from the catalogue, is read from
    that file's folder for the link check alone: see :func:`load_catalogue`.)

    Each file comes once (by resolved path), in the order given.
    """
    files: dict[Path, Path] = {}
    for path in map(Path, paths):
        # A folder named like a procedure file is reported (not-a-file), not scanned.
        if path.is_dir() and path.suffix not in _SUFFIXES:
            found = _folder_files(path)
        else:
            beside = path.parent if path.parent != Path() else Path(".")
            found = [path, *(f for f in _folder_files(beside) if _is_calendar_file(f))]
        for file in found:
            files.setdefault(_identity(file), file)
    return list(files.values())


def _keep_latest(latest: dict[str, Procedure], proc: Procedure | None) -> None:
    if proc is not None and proc.version >= getattr(latest.get(proc.id), "version", 0):
        latest[proc.id] = proc


def latest_with_links(catalogue: Catalogue) -> dict[str, Procedure]:
    """The latest version of each procedure of ``catalogue``, and of each procedure its
    links name that it lacks, read from beside the file that names it (as the link check
    reads them): what an engine needs to run the catalogue's linked cases."""
    latest: dict[str, Procedure] = {}
    for result in catalogue.results:
        _keep_latest(latest, result.procedure)
    _linked_beside(catalogue, latest)
    return latest


def linked_procedures(
    procedures: Iterable[Procedure], latest: Mapping[str, Procedure]
) -> list[Procedure]:
    """The procedures (from ``latest``) that the links of ``procedures`` open, and those
    their links open in turn, leaving out the ids ``procedures`` already holds: with them
    an engine can run the linked cases (a repair opens its callback)."""
    given = list(procedures)
    found: dict[str, Procedure] = {}
    have = {p.id for p in given}
    todo = given
    while todo:
        proc = todo.pop()
        for branches in proc.transitions.values():
            for branch in branches:
                for link in branch.opens:
                    child = latest.get(link.procedure)
                    if child is not None and child.id not in have and child.id not in found:
                        found[child.id] = child
                        todo.append(child)
    return list(found.values())


def _linked_beside(catalogue: Catalogue, latest: dict[str, Procedure]) -> None:
    """Add to ``latest`` the procedures that links name and the catalogue lacks, read from
    the folder of each file that names them (``servflow check repair.yaml`` checks the
    link to ``callback`` against the ``callback`` beside it). Only for the link check:
    they join neither the catalogue nor its diagnostics."""
    loaded = {_identity(Path(r.file)) for r in catalogue.results}
    folders: dict[Path, None] = {}
    for result in catalogue.results:
        proc = result.procedure
        if proc is not None and any(
            link.procedure not in latest
            for branches in proc.transitions.values()
            for branch in branches
            for link in branch.opens
        ):
            folders.setdefault(Path(result.file).parent, None)
    known = set(latest)  # a procedure of the catalogue is never replaced from beside it
    for folder in folders:
        for file in _folder_files(folder):
            if _identity(file) in loaded or _is_calendar_file(file):
                continue
            loaded.add(_identity(file))
            found = load_file(file).procedure
            if found is not None and found.id not in known:
                _keep_latest(latest, found)


def _identity(file: Path) -> Path:
    """The path a file is known by, so that each comes once; for a symlink loop, its own
    (read_source reports it as `unreadable`; pathlib raises RuntimeError before 3.13)."""
    try:
        return file.resolve()
    except (OSError, RuntimeError):
        return file.absolute()


def _folder_files(folder: Path) -> list[Path]:
    # Every *.yaml entry that exists, not only regular files: a FIFO, a device or a
    # folder named like a procedure is reported (not-a-file) rather than silently left
    # out. A dangling symlink (an editor's lock file, .#repair.yaml) is left out.
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [q for q in entries if q.suffix in _SUFFIXES and q.exists()]


_TOP_KEY = re.compile(r"^(calendars|id)[ \t]*:", re.M)


def _is_calendar_file(path: Path) -> bool:
    """A file with a top-level ``calendars:`` key and no ``id:`` (as :func:`load_text`
    tells them apart), read no further than the size limit; only regular files."""
    text = peek_source(path)
    if text is None:
        return False
    keys = {m.group(1) for m in _TOP_KEY.finditer(text)}
    return keys == {"calendars"}


def _holds_calendars(result: LoadResult) -> bool:
    """A calendar file whose calendars did not validate is still a calendar file."""
    smap = result.source_map
    return (
        result.procedure is None
        and smap is not None
        and ("calendars",) in smap.keys
        and ("id",) not in smap.keys
    )


def load_catalogue(paths: Iterable[str | Path]) -> Catalogue:
    """Load every procedure and calendar file in ``paths`` (files or directories), and
    the calendar files beside each file named (see :func:`catalogue_files`).

    Cross-file checks run here, by the rules of :mod:`servflow.engine.registry` (the
    engine applies the same ones to what it is given): a procedure's calendars must
    exist, two files may not define the same procedure id and version, or the same
    calendar, and none may define the built-in ``always``; and each linked case (a
    branch's ``opens``) must fit the latest version of the procedure it opens
    (:func:`servflow.engine.links.link_problems`).
    """
    catalogue = Catalogue()
    seen_versions: dict[tuple[str, int], str] = {}
    for path in catalogue_files(paths):
        result = load_file(path)
        catalogue.results.append(result)
        for name, spec in result.calendars.items():
            problem = calendar_name_problem(name, catalogue.calendars)
            if problem is not None:
                assert result.source_map is not None
                result.diagnostics.append(
                    result.source_map.diagnostic(
                        ("calendars", name), "duplicate-calendar", problem, key=True
                    )
                )
            else:
                catalogue.calendars[name] = spec
        if result.procedure is not None:
            key = (result.procedure.id, result.procedure.version)
            if key in seen_versions:
                assert result.source_map is not None
                result.diagnostics.append(
                    result.source_map.diagnostic(
                        ("version",),
                        "duplicate-version",
                        duplicate_version_message(*key, seen_versions[key]),
                    )
                )
                result.procedure = None
            else:
                seen_versions[key] = result.file
    # Linked cases: each link against the latest version of the procedure it opens.
    latest = latest_with_links(catalogue)
    for result in catalogue.results:
        proc = result.procedure
        if proc is None:
            continue
        assert result.source_map is not None
        for where, code, problem, on_key in link_problems(proc, latest):
            result.diagnostics.append(
                result.source_map.diagnostic(where, code, problem, key=on_key)
            )
        for ref, name in calendar_references(proc):
            message = unknown_calendar_message(name, catalogue.calendars)
            if message is not None:
                result.diagnostics.append(
                    result.source_map.diagnostic(ref, "unknown-calendar", message)
                )
        if proc.schedule:
            result.diagnostics.extend(
                calendar_problems(proc, catalogue.calendars.get(proc.calendar), result.source_map)
            )
        if result.ok:
            catalogue.procedures.append(proc)
    return catalogue
