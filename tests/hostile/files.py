"""The special-files corpus: things named like procedure files that are not files to read.

Each case builds one entry named ``hostile.yaml`` (a FIFO, a symlink to a device, a huge
sparse file, a folder...) and says what every reader must report for it: the diagnostic
code and message. ``None`` as the code means the entry is an ordinary readable file and
must load (an unreadable-by-mode file, when the tests run as root, who may read it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from servflow.procedures.source import MAX_BYTES

__all__ = ["CASES", "FileCase"]

ROOT = os.geteuid() == 0

# A good procedure that needs no calendar file beside it.
GOOD = (
    (Path(__file__).resolve().parent.parent / "mistakes" / "base.yaml")
    .read_text(encoding="utf-8")
    .replace("calendar: office", "calendar: always")
)


@dataclass(frozen=True)
class FileCase:
    name: str
    make: Callable[[Path], None]
    code: str | None
    message: str


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _symlink_to(target: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.symlink_to(target)

    return make


def _sparse(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with path.open("wb") as out:
            out.truncate(size)

    return make


def _folder(path: Path) -> None:
    path.mkdir()


def _symlink_to_fifo(path: Path) -> None:
    os.mkfifo(path.with_name("pipe"))
    path.symlink_to(path.with_name("pipe"))


def _symlink_to_folder(path: Path) -> None:
    path.with_name("elsewhere").mkdir()
    path.symlink_to(path.with_name("elsewhere"))


def _symlink_to_good(path: Path) -> None:
    path.with_name("real.procedure").write_text(GOOD.replace("id: mini_repair", "id: linked"))
    path.symlink_to(path.with_name("real.procedure"))


def _dangling(path: Path) -> None:
    path.symlink_to(path.with_name("missing"))


def _loop(path: Path) -> None:
    path.symlink_to(path)


def _mode_000(path: Path) -> None:
    path.write_text(GOOD.replace("id: mini_repair", "id: locked"))
    path.chmod(0)


def _one_byte_over(path: Path) -> None:
    path.write_bytes(b"#" * (MAX_BYTES + 1))


_NOT_A_FILE = "not a regular file; servflow reads only files"
_TOO_LARGE = f"file is larger than {MAX_BYTES} bytes"

CASES = [
    FileCase("fifo", _fifo, "not-a-file", f"a named pipe (FIFO), {_NOT_A_FILE}"),
    FileCase(
        "symlink-to-fifo", _symlink_to_fifo, "not-a-file", f"a named pipe (FIFO), {_NOT_A_FILE}"
    ),
    FileCase("dev-zero", _symlink_to("/dev/zero"), "not-a-file", f"a device, {_NOT_A_FILE}"),
    FileCase("dev-urandom", _symlink_to("/dev/urandom"), "not-a-file", f"a device, {_NOT_A_FILE}"),
    FileCase("dev-null", _symlink_to("/dev/null"), "not-a-file", f"a device, {_NOT_A_FILE}"),
    FileCase("folder", _folder, "not-a-file", f"a folder, {_NOT_A_FILE}"),
    FileCase("symlink-to-folder", _symlink_to_folder, "not-a-file", f"a folder, {_NOT_A_FILE}"),
    FileCase("sparse-400mb", _sparse(400 * 1024 * 1024), "too-large", _TOO_LARGE),
    FileCase("one-byte-over", _one_byte_over, "too-large", _TOO_LARGE),
    FileCase("dangling-symlink", _dangling, "unreadable", "No such file or directory"),
    FileCase("symlink-loop", _loop, "unreadable", "Too many levels of symbolic links"),
    # Root reads a file whatever its mode; anyone else gets "Permission denied".
    FileCase(
        "mode-000",
        _mode_000,
        None if ROOT else "unreadable",
        "" if ROOT else "Permission denied",
    ),
    # A symlink that ends at a regular file is followed.
    FileCase("symlink-to-regular-file", _symlink_to_good, None, ""),
]
