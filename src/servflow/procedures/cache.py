"""A disk cache of what loading a procedure or calendar file found, keyed on its bytes.

Loading a file (YAML with positions, the models, the static checks and lints) costs
milliseconds per file, and a service reloads the same unchanged files at every start. The
cache keeps, per file, what :func:`servflow.procedures.load.load_file` returned, as JSON:

* the file's parsed YAML value (plain data: mappings, lists, strings, numbers, booleans,
  null), from which the procedure or the calendars are validated again on every read, by
  the same models, so that what the engine receives was never unpickled or trusted;
* every diagnostic of the file, as the loader reported it.

The source map (the line and column of each key and value) is not kept: it is as large as
the file's data several times over, and only a diagnostic of the cross-file checks that
:func:`~servflow.procedures.load.load_catalogue` still runs needs it, so a result read from
the cache parses the file's bytes again for it the first time it is asked for
(:class:`~servflow.procedures.source.SourceMap` is rebuilt exactly: same bytes, same code).

An entry is found by a key that is the SHA-256 of the file's bytes, the name it is
reported under, and a stamp of the code that judged it: servflow's own modules and those of
the libraries whose work shows in a result (pydantic, PyYAML, Jinja, RE2, holidays,
dateutil), each by path, size and modification time, as Python's own bytecode cache does.
Any change to the file or to that code gives another key: an entry is never updated, only
left behind. An entry that is unreadable, does not validate against its shape, or names
another key or file is ignored, and the file is loaded and the entry written again. Entries
are written to a temporary file and renamed into place, so a reader never sees half of one.

The folder is ``$SERVFLOW_CACHE`` when set (``off`` turns the cache off), else
``$XDG_CACHE_HOME/servflow`` or ``~/.cache/servflow``; it is made readable by its owner
only. Whoever can write to it can make a file's diagnostics say what they like (not run
code: nothing is unpickled or evaluated), so it must be as trusted as the procedure files.
A folder that cannot be made or written to turns the cache off: loading never fails
because of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
import tempfile
from functools import lru_cache
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from servflow.errors import Diagnostic, Severity
from servflow.procedures.source import SourceFileError, read_source

__all__ = [
    "ENV",
    "FORMAT",
    "Entry",
    "cache_folder",
    "code_stamp",
    "entry_diagnostics",
    "entry_key",
    "make_entry",
    "read_entry",
    "write_entry",
]

ENV = "SERVFLOW_CACHE"
FORMAT: Literal[1] = 1
# An entry holds a file of at most source.MAX_BYTES and its positions: far below this.
_MAX_ENTRY_BYTES = 32_000_000
# The libraries whose versions can change a file's result (messages, values, calendars).
_LIBRARIES = ("pydantic", "pydantic_core", "yaml", "jinja2", "re2", "holidays", "dateutil")

Holds = Literal["procedure", "calendars", "nothing"]


class Entry(BaseModel):
    """One cached result, as stored; every field is checked on read (strict types)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    format: Literal[1]
    key: str
    file: str
    holds: Holds
    data: JsonValue = None
    diagnostics: list[tuple[str, int, int, Severity, str, str]]


def cache_folder() -> Path | None:
    """Where entries are kept, or None when the cache is off."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "no") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "servflow"


_CODE_SUFFIXES = (".py", *EXTENSION_SUFFIXES)


@lru_cache(maxsize=1)
def code_stamp() -> str:
    """A digest of the code that loads and checks files: servflow's modules and the
    libraries' (path, size, modification time of each), computed once per process.

    A compiled build's extension modules count as well as the sources beside them (see
    docs/hosting.md, "A compiled engine")."""
    digest = hashlib.sha256(f"{FORMAT}\0{sys.version}\0".encode())
    root = Path(__file__).resolve().parent.parent
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        for name in sorted(files):
            if name.endswith(_CODE_SUFFIXES):
                _stamp(digest, os.path.join(folder, name))
    for library in _LIBRARIES:
        try:
            spec = importlib.util.find_spec(library)
        except (ImportError, ValueError):
            spec = None
        origin = spec.origin if spec is not None else None
        digest.update(f"{library}\0".encode())
        if origin:
            _stamp(digest, origin)
    return digest.hexdigest()


def _stamp(digest: Any, path: str) -> None:
    try:
        info = os.stat(path)
    except OSError:
        digest.update(f"{path}\0missing\0".encode())
        return
    digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())


def entry_key(raw: bytes, file: str) -> str:
    """The key of the result of loading ``raw`` reported as ``file``, by this code."""
    digest = hashlib.sha256(code_stamp().encode())
    name = file.encode("utf-8", "surrogateescape")
    digest.update(len(name).to_bytes(8, "big") + name)
    digest.update(raw)
    return digest.hexdigest()


def _entry_path(folder: Path, key: str) -> Path:
    return folder / f"procedures-v{FORMAT}" / f"{key}.json"


def read_entry(folder: Path, key: str, file: str) -> Entry | None:
    """The entry stored under ``key`` for ``file``; None if missing, altered or foreign."""
    try:
        text = read_source(_entry_path(folder, key), _MAX_ENTRY_BYTES)
        entry = Entry.model_validate_json(text)
    except (SourceFileError, ValidationError, ValueError):
        return None
    if entry.key != key or entry.file != file:
        return None
    return entry


def write_entry(folder: Path, entry: Entry) -> None:
    """Store ``entry`` whole or not at all; a folder that refuses is left alone."""
    target = _entry_path(folder, entry.key)
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(entry.model_dump_json())
        os.replace(temporary, target)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def make_entry(
    key: str, file: str, holds: Holds, data: Any, diagnostics: list[Diagnostic]
) -> Entry:
    """The entry of one load: ``data`` is the file's parsed YAML, copied as plain JSON
    before the models saw it (``None`` unless the file held a procedure or calendars)."""
    return Entry(
        format=FORMAT,
        key=key,
        file=file,
        holds=holds,
        data=data if holds != "nothing" else None,
        diagnostics=[
            (d.file, d.line, d.column, d.severity, d.code, d.message) for d in diagnostics
        ],
    )


def entry_diagnostics(entry: Entry) -> list[Diagnostic]:
    return [Diagnostic(*fields) for fields in entry.diagnostics]
