"""Reading YAML safely, keeping the line and column of every value.

The first layer of loading: text -> plain Python data plus a :class:`SourceMap` from each
value's path (``("transitions", "dispatch", "to")``) to where it stands in the file.

Safety and precision, on top of PyYAML's C parser (about ten times faster than the pure one,
and it keeps node marks; the YAML half of the reading is :mod:`servflow.procedures.yaml_nodes`,
imported when a file is first parsed, so that a catalogue read from the loader's cache
never imports PyYAML):

* Only plain data: mappings with string keys, lists, strings, numbers, ``true``/``false``
  and ``null``. No tags, no Python objects: the composer never constructs anything else.
* The YAML 1.2 core schema: ``on``, ``off``, ``yes`` and ``no`` stay strings, and so do
  dates and ``12:30`` (no base-60 numbers). A bare boolean-like word used as a *name*
  (a mapping key) is refused, since YAML 1.1 tools would read it as ``true``/``false``.
* Duplicate keys are errors (PyYAML silently keeps the last one).
* Bounded: the text's size, the nesting depth and the number of values that aliases may
  expand to, so that a "billion laughs" file fails fast with a diagnostic.

Every file servflow reads (procedures, calendars, scenarios, the files a command is given
and the ones a folder scan finds) goes through :func:`read_source`: only regular files
(a symlink is followed, and must end at a regular file), their size checked before a byte
is read, at most one byte past the limit read, and opened without blocking, so that a FIFO,
a device such as ``/dev/zero`` or a 400 MB log beside the procedures gives a diagnostic
instead of a hang or a full memory.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from servflow.errors import Diagnostic

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "LazySourceMap",
    "SourceFileError",
    "SourceMap",
    "peek_source",
    "read_source",
    "read_yaml",
]

MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_NODES = 200_000

Path = tuple[str | int, ...]


class SourceFileError(Exception):
    """A file servflow will not read: not a regular file, too large, or unreadable.

    ``code`` is the diagnostic code (``not-a-file``, ``too-large``, ``unreadable``) and
    :meth:`diagnostic` the problem as ``check`` reports it.
    """

    def __init__(self, file: str, code: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file
        self.code = code
        self.message = message

    def diagnostic(self) -> Diagnostic:
        # The size is known before the text is: report it where read_yaml would (1:1);
        # the other refusals are about the file itself, so they have no position (0:0).
        line = 1 if self.code == "too-large" else 0
        return Diagnostic(self.file, line, line, "error", self.code, self.message)


# Opening without blocking matters for a FIFO swapped in after the stat: a blocking open
# would wait for a writer for ever. O_NOCTTY keeps a terminal device from becoming ours.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse_special(file: str, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise SourceFileError(
            file, "not-a-file", f"{_kind(mode)}, not a regular file; servflow reads only files"
        )


def _too_large(file: str, limit: int) -> SourceFileError:
    return SourceFileError(file, "too-large", f"file is larger than {limit} bytes")


def read_source(path: str | os.PathLike[str], limit: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    Symlinks are followed; what they end at must be a regular file. Raises
    :class:`SourceFileError` for a folder, FIFO, device or socket (``not-a-file``), a file
    over ``limit`` bytes (``too-large``, decided from its size before reading, and again
    while reading for files whose size the system does not know, such as ``/proc``), or
    one the system will not let us read (``unreadable``).
    """
    file = os.fspath(path)
    try:
        info = os.stat(file)
        _refuse_special(file, info.st_mode)
        if info.st_size > limit:
            raise _too_large(file, limit)
        fd = os.open(file, _OPEN_FLAGS)
        try:
            # The path may have been swapped for a FIFO or device since the stat.
            _refuse_special(file, os.fstat(fd).st_mode)
            chunks: list[bytes] = []
            size = 0
            while size <= limit:
                chunk = os.read(fd, min(limit + 1 - size, 1 << 16))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
    except OSError as exc:
        raise SourceFileError(file, "unreadable", exc.strerror or str(exc)) from None
    if size > limit:
        raise _too_large(file, limit)
    return b"".join(chunks)


def peek_source(path: str | os.PathLike[str], limit: int = MAX_BYTES) -> str | None:
    """The text of ``path`` for a quick look (is it a calendar file?), or None when
    :func:`read_source` refuses it; undecodable bytes are replaced."""
    try:
        return read_source(path, limit).decode("utf-8", errors="replace")
    except SourceFileError:
        return None


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a loaded file stands."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    aliased: set[Path] = field(default_factory=set)

    def display(self, path: Path) -> str:
        """``path`` as the analyst wrote it (without indices the loader inserted)."""
        parts: list[str] = []
        for i, part in enumerate(path):
            if i and tuple(path[:i]) in self.aliased and part == 0:
                continue
            parts.append(str(part))
        return ".".join(parts)

    def line_text(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""

    def alias(self, prefix: Path, insert: str | int) -> None:
        """Make paths under ``prefix`` answer also with ``insert`` after the prefix.

        The loader wraps a single transition mapping into a one-branch list; the model's
        error locations then carry an index that the file does not have.
        """
        n = len(prefix)
        self.aliased.add(tuple(prefix))
        for table in (self.values, self.keys):
            for path, pos in list(table.items()):
                if path[:n] == prefix:
                    table.setdefault((*prefix, insert, *path[n:]), pos)

    def alias_all(self, prefixes: list[Path], insert: str | int) -> None:
        """:meth:`alias` for each of ``prefixes``, in one pass over the map."""
        wanted = {tuple(prefix) for prefix in prefixes}
        if not wanted:
            return
        self.aliased |= wanted
        sizes = sorted({len(prefix) for prefix in wanted})
        for table in (self.values, self.keys):
            for path, pos in list(table.items()):
                for n in sizes:
                    if path[:n] in wanted:
                        table.setdefault((*path[:n], insert, *path[n:]), pos)

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of ``path``, or of its nearest known ancestor."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def diagnostic(
        self,
        path: Path,
        code: str,
        message: str,
        *,
        severity: str = "error",
        key: bool = False,
        offset: int = 0,
    ) -> Diagnostic:
        line, column = self.position(path, key=key)
        return Diagnostic(self.file, line, column + offset, severity, code, message)  # type: ignore[arg-type]


class LazySourceMap(SourceMap):
    """A source map made the first time a position is asked for, by ``build``.

    The loader's cache keeps a file's result without its positions; most results are
    never asked for one, and those that are parse the file's bytes again.
    """

    def __init__(self, file: str, build: Callable[[], SourceMap]) -> None:
        self.file = file
        self._build: Callable[[], SourceMap] | None = build

    def __getattr__(self, name: str) -> Any:
        # Called only for what is not set yet: the tables, before the first look-up.
        build = self.__dict__.get("_build")
        if build is None or name not in _LAZY_FIELDS:
            raise AttributeError(name)
        made = build()
        self._build = None
        self.values, self.keys, self.lines, self.aliased = (
            made.values,
            made.keys,
            made.lines,
            made.aliased,
        )
        return getattr(self, name)


_LAZY_FIELDS = frozenset({"values", "keys", "lines", "aliased"})


def read_yaml(text: str | bytes, file: str = "<string>") -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Parse ``text``; return (data, source map, problems). Never raises on bad input.

    ``data`` is None when the text could not be read at all.
    """
    smap = SourceMap(file)

    def fail(
        line: int, column: int, code: str, message: str
    ) -> tuple[Any, SourceMap, list[Diagnostic]]:
        return None, smap, [Diagnostic(file, line, column, "error", code, message)]

    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            return fail(1, 1, "too-large", f"file is larger than {MAX_BYTES} bytes")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return fail(1, 1, "encoding", f"not UTF-8 text (byte {exc.start} cannot be decoded)")
    if len(text) > MAX_BYTES:
        return fail(1, 1, "too-large", f"file is larger than {MAX_BYTES} characters")
    if "\x00" in text:
        return fail(1, 1, "encoding", "binary content (NUL byte); a procedure file is YAML text")
    # PyYAML is imported here, when a file is first parsed: a catalogue read whole from
    # the loader's cache needs none of it.
    from servflow.procedures import yaml_nodes

    try:
        node = yaml_nodes.compose(text)
    except yaml_nodes.Unreadable as exc:
        return fail(exc.line, exc.column, "yaml-syntax", exc.message)
    if node is None:
        return fail(1, 1, "empty", "the file is empty")
    smap.lines = text.splitlines()
    builder = yaml_nodes.Builder(file, smap.values, smap.keys, MAX_NODES, MAX_DEPTH)
    try:
        data = builder.build(node, (), 0)
    except yaml_nodes.TooBig as exc:
        return fail(exc.line, exc.column, "too-large", exc.message)
    except RecursionError:
        return fail(1, 1, "too-large", "nested too deeply")
    return data, smap, builder.problems
