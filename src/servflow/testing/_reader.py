"""Reading scenario values: shapes, keys and times, with every problem's position.

The :class:`Reader` walks the plain data that :func:`~servflow.procedures.source.read_yaml`
returned and collects a :class:`~servflow.errors.Diagnostic` (``file:line:col``) for each
value of the wrong shape and each unknown key, with the name probably meant. Times are read
here too: a time without a UTC offset is read in the scenario's zone, and a local time that
a clock change skips or repeats is refused rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime, tzinfo
from typing import Any

from servflow._hints import did_you_mean
from servflow.errors import Diagnostic
from servflow.procedures.source import SourceMap

__all__ = ["Reader", "SourcePath", "kind", "parse_time"]

SourcePath = tuple[str | int, ...]

_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
_TIME_HELP = "write e.g. 2026-11-23 09:00, or 2026-11-23T09:00+08:00 with an offset"


def parse_time(text: str, zone: tzinfo | None) -> datetime:
    """A scenario time: ``2026-11-23 09:00`` read in ``zone``, or a time with its offset.

    Raises ``ValueError`` with a message fit for the analyst: a malformed time, a time
    without offset and no zone, or a local time that a clock change skips or repeats.
    """
    if not _TIME_RE.match(text.strip()):
        raise ValueError(f"bad time {text!r}: {_TIME_HELP}")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"bad time {text!r}: no such date or time of day") from None
    if moment.tzinfo is not None:
        return moment
    if zone is None:
        raise ValueError(
            f"time {text!r} has no UTC offset and the scenario sets no `timezone`; "
            "add `timezone: Asia/Shanghai` (say) or write the offset"
        )
    first, second = moment.replace(tzinfo=zone, fold=0), moment.replace(tzinfo=zone, fold=1)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise ValueError(f"local time {text!r} does not exist in {zone} (clock change)")
    if first.utcoffset() != second.utcoffset():
        raise ValueError(
            f"local time {text!r} happens twice in {zone} (clock change): write the offset"
        )
    return first


class Reader:
    """Walks the loaded data, checking shapes and keys, collecting every problem."""

    def __init__(self, smap: SourceMap) -> None:
        self.smap = smap
        self.problems: list[Diagnostic] = []
        self.zone: tzinfo | None = None

    def error(self, path: SourcePath, code: str, message: str, *, key: bool = False) -> None:
        self.problems.append(self.smap.diagnostic(path, code, message, key=key))

    def line(self, path: SourcePath) -> int:
        return self.smap.position(path)[0]

    def mapping(
        self,
        value: Any,
        path: SourcePath,
        what: str,
        allowed: Collection[str] | None = None,
        required: Collection[str] = (),
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(
                path,
                "not-a-mapping",
                f"{what} must be a mapping of keys to values, not {kind(value)}",
            )
            return None
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    self.error(
                        (*path, key),
                        "unknown-key",
                        f"unknown key {key!r} in {what}" + did_you_mean(key, allowed),
                        key=True,
                    )
        for key in required:
            if key not in value:
                self.error(path, "missing-key", f"{what} needs the key {key!r}")
        return value

    def text(self, value: Any, path: SourcePath, what: str) -> str | None:
        if isinstance(value, str) and value.strip():
            return value
        self.error(path, "not-text", f"{what} must be a non-empty text, not {kind(value)}")
        return None

    def integer(self, value: Any, path: SourcePath, what: str, minimum: int = 0) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
            return value
        self.error(
            path, "not-a-number", f"{what} must be a whole number >= {minimum}, not {kind(value)}"
        )
        return None

    def boolean(self, value: Any, path: SourcePath, what: str) -> bool | None:
        if isinstance(value, bool):
            return value
        self.error(path, "not-a-boolean", f"{what} must be true or false, not {kind(value)}")
        return None

    def choice(
        self, value: Any, path: SourcePath, what: str, choices: Collection[str]
    ) -> str | None:
        if isinstance(value, str) and value in choices:
            return value
        self.error(
            path,
            "unknown-value",
            f"{what} must be one of {', '.join(choices)}, not {kind(value)}"
            + did_you_mean(value, choices),
        )
        return None

    def time(self, value: Any, path: SourcePath, what: str) -> datetime | None:
        if not isinstance(value, str):
            self.error(path, "bad-time", f"{what} must be a time ({_TIME_HELP}), not {kind(value)}")
            return None
        try:
            return parse_time(value, self.zone)
        except ValueError as exc:
            self.error(path, "bad-time", f"{what}: {exc}")
            return None

    def optional_time(self, value: Any, path: SourcePath, what: str) -> datetime | None:
        return None if value is None else self.time(value, path, what)

    def percent(self, value: Any, path: SourcePath, what: str) -> float | None:
        text = str(value).strip().removesuffix("%") if isinstance(value, str | int | float) else ""
        try:
            number = float(text)
        except ValueError:
            self.error(
                path, "bad-percent", f"{what} must be a percentage like 80%, not {kind(value)}"
            )
            return None
        if isinstance(value, bool) or not 0 < number <= 100:
            self.error(
                path, "bad-percent", f"{what} must be a percentage like 80%, not {kind(value)}"
            )
            return None
        return number


def kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)
