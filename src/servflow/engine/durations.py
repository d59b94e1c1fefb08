"""Service-desk time targets as exact values: working time in seconds, or working days.

A target such as ``30m`` or ``PT1H30M`` is an amount of *working* time, counted by a
:class:`~servflow.engine.calendar.Calendar` only while the desk is open; ``2wd`` (or
``2 working days``) means "the same point of the working day, two working days later".
The two units do not convert into each other (a working day has no fixed length), so a
:class:`Duration` carries both and values are only ordered within one unit.

Calendar days are refused on purpose: ``3d`` or ``P3D`` could mean three working days or
72 hours, and a time limit that two people read differently is a dispute waiting to
happen. The error says which to write instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["MAX_DURATION_SECONDS", "MAX_WORKING_DAYS", "Duration", "parse_duration"]

MAX_DURATION_SECONDS = 100_000 * 3600
"""The longest time limit in working time: 100,000 hours (more than eleven years)."""

MAX_WORKING_DAYS = 3_000
"""The longest time limit in working days (about twelve years)."""

_EXAMPLES = "write e.g. 30m, 4h, 2wd or PT30M"
_LONGEST = 100  # a duration longer than this is no duration; and no huge int is parsed


@dataclass(frozen=True)
class Duration:
    """An amount of working time (``seconds``) and/or a number of ``working_days``.

    Both parts are non-negative integers. ``Duration()`` is the zero value (the neutral
    element of ``+``); :func:`parse_duration` never returns it. Values of one unit are
    ordered (``Duration(1800) < Duration(3600)``); comparing working days with working
    time raises :class:`TypeError`, because neither is a fixed multiple of the other.
    """

    seconds: int = 0
    working_days: int = 0

    def __post_init__(self) -> None:
        for name in ("seconds", "working_days"):
            value = getattr(self, name)
            if type(value) is not int:
                raise TypeError(f"Duration.{name} must be an int, not {type(value).__name__}")
            if value < 0:
                raise ValueError(f"Duration.{name} must not be negative, got {value}")

    @classmethod
    def of(
        cls, *, hours: int = 0, minutes: int = 0, seconds: int = 0, working_days: int = 0
    ) -> Duration:
        """Build a duration from parts: ``Duration.of(hours=1, minutes=30)``."""
        return cls(hours * 3600 + minutes * 60 + seconds, working_days)

    @property
    def is_zero(self) -> bool:
        return self.seconds == 0 and self.working_days == 0

    def as_timedelta(self) -> timedelta:
        """The working time as a timedelta; refused for a duration in working days."""
        if self.working_days:
            raise ValueError(f"{self} is counted in working days, not a fixed amount of time")
        return timedelta(seconds=self.seconds)

    def __add__(self, other: object) -> Duration:
        if not isinstance(other, Duration):
            return NotImplemented
        return Duration(self.seconds + other.seconds, self.working_days + other.working_days)

    def _keys(self, other: object) -> tuple[tuple[int, int], tuple[int, int]] | None:
        if not isinstance(other, Duration):
            return None
        for value in (self, other):
            if value.seconds and value.working_days:
                raise TypeError(f"cannot order {value}: it mixes working days and working time")
        if (self.seconds and other.working_days) or (self.working_days and other.seconds):
            raise TypeError(
                f"cannot compare {self} with {other}: working days and working time "
                "are different units"
            )
        return (self.working_days, self.seconds), (other.working_days, other.seconds)

    def __lt__(self, other: object) -> bool:
        keys = self._keys(other)
        return NotImplemented if keys is None else keys[0] < keys[1]

    def __le__(self, other: object) -> bool:
        keys = self._keys(other)
        return NotImplemented if keys is None else keys[0] <= keys[1]

    def __gt__(self, other: object) -> bool:
        keys = self._keys(other)
        return NotImplemented if keys is None else keys[0] > keys[1]

    def __ge__(self, other: object) -> bool:
        keys = self._keys(other)
        return NotImplemented if keys is None else keys[0] >= keys[1]

    def __str__(self) -> str:
        parts: list[str] = []
        if self.working_days:
            parts.append(f"{self.working_days}wd")
        if self.seconds or not self.working_days:
            hours, rest = divmod(self.seconds, 3600)
            minutes, secs = divmod(rest, 60)
            time_text = "".join(
                f"{amount}{unit}"
                for amount, unit in ((hours, "h"), (minutes, "m"), (secs, "s"))
                if amount
            )
            parts.append(time_text or "0s")
        return " ".join(parts)


_ISO = re.compile(
    r"P(?:(?P<date>(?:[0-9]+[YMWD])+))?(?:T(?:(?P<h>[0-9]+)H)?(?:(?P<m>[0-9]+)M)?(?:(?P<s>[0-9]+)S)?)?",
    re.IGNORECASE,
)
_WORKING_DAYS = re.compile(r"working\s+days?\b")
_HUMAN = re.compile(r"(?:\s*[0-9]+\s*[a-z]+)+\s*")
_TOKEN = re.compile(r"([0-9]+)\s*([a-z]+)")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_CALENDAR_DAYS = frozenset({"d", "day", "days"})


def parse_duration(text: str) -> Duration:
    """Parse a time target as written in a procedure file.

    Accepted: ``30m``, ``45s``, ``4h``, ``1h30m``, ``2wd``, ``1 working day``,
    ``2 working days``, ``2wd 4h`` (days and time together), and ISO 8601 time-only
    durations ``PT30M``, ``PT1H30M``, ``PT45S``. Refused with :class:`ValueError`: calendar
    days (``3d``, ``P3D``: ambiguous, write ``3wd`` or ``72h``), fractions, signs, zero,
    a unit given twice, and more than 100,000 hours of working time or 3,000 working
    days (a deadline further away than a decade is a typo, and the calendar arithmetic
    of a longer one would leave the range of dates servflow accepts).
    """
    if not isinstance(text, str):
        raise TypeError(f"a duration is text such as '30m', not {type(text).__name__}")
    if len(text) > _LONGEST:
        raise ValueError(f"bad duration {text[:20]!r}...: at most {_LONGEST} characters")
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"bad duration {text!r}: it is empty; {_EXAMPLES}")
    if stripped.startswith("-"):
        raise ValueError(f"bad duration {text!r}: a time limit must be positive")
    if stripped[0] in "Pp":
        result = _parse_iso(text, stripped)
    else:
        result = _parse_human(text, stripped.lower())
    if result.is_zero:
        raise ValueError(f"bad duration {text!r}: a time limit must be positive")
    if result.seconds > MAX_DURATION_SECONDS:
        raise ValueError(
            f"bad duration {text!r}: at most {MAX_DURATION_SECONDS // 3600:,} hours of working time"
        )
    if result.working_days > MAX_WORKING_DAYS:
        raise ValueError(f"bad duration {text!r}: at most {MAX_WORKING_DAYS:,} working days")
    return result


def _parse_iso(text: str, stripped: str) -> Duration:
    match = _ISO.fullmatch(stripped)
    if match is None:
        raise ValueError(f"bad duration {text!r}: {_EXAMPLES}")
    if match["date"]:
        raise ValueError(
            f"bad duration {text!r}: ISO 8601 years, months, weeks and days are calendar "
            "time, which is ambiguous for a business-time limit; write working days as "
            "e.g. 2wd, or hours as e.g. PT48H"
        )
    if match["h"] is None and match["m"] is None and match["s"] is None:
        raise ValueError(f"bad duration {text!r}: {_EXAMPLES}")
    seconds = sum(
        int(match[group]) * factor
        for group, factor in (("h", 3600), ("m", 60), ("s", 1))
        if match[group] is not None
    )
    return Duration(seconds)


def _parse_human(text: str, lowered: str) -> Duration:
    normalized = _WORKING_DAYS.sub("wd", lowered)
    if _HUMAN.fullmatch(normalized) is None:
        raise ValueError(f"bad duration {text!r}: {_EXAMPLES}")
    seen: set[str] = set()
    seconds = 0
    working_days = 0
    for amount_text, unit in _TOKEN.findall(normalized):
        amount = int(amount_text)
        if unit in _CALENDAR_DAYS:
            raise ValueError(
                f"bad duration {text!r}: '{unit}' is ambiguous (calendar or working days?); "
                f"write {amount}wd for working days or {amount * 24}h for round-the-clock hours"
            )
        if unit != "wd" and unit not in _UNIT_SECONDS:
            raise ValueError(f"bad duration {text!r}: {_EXAMPLES}")
        if unit in seen:
            raise ValueError(f"bad duration {text!r}: unit '{unit}' appears twice")
        seen.add(unit)
        if unit == "wd":
            working_days = amount
        else:
            seconds += amount * _UNIT_SECONDS[unit]
    return Duration(seconds, working_days)
