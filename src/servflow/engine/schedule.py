"""Schedules: which cases the calendar opens, and when, in a half-open window of time.

A procedure's ``schedule`` lists occurrence rules (``every: working day`` at 17:30,
``every: year`` on 03-01 and 09-01, an RFC 5545 ``rrule``). The recurrence arithmetic is
python-dateutil's ``rrule``: this module only builds the rules from what the analyst wrote,
reads their occurrences as wall-clock times in the zone of the procedure's calendar, and
keeps the ones a window holds.

Theory of operation
-------------------
An occurrence is a local date and the schedule's ``at``. It becomes an instant the way the
calendar turns working hours into instants (:mod:`servflow.engine.calendar`): a time in a
DST gap resolves forward to the instant the clocks jumped to, a repeated time takes its
first occurrence. ``every: working day`` keeps the dates that have working hours in the
procedure's calendar (holidays and make-up days included); a date past the calendar's
published schedule raises :class:`~servflow.errors.CalendarError` rather than guess.

Each occurrence has a stable case id, ``<procedure>@<local date>T<HH:MM><offset>``
(``archive_inspection@2026-03-01T09:00+08:00``): the same occurrence always has the same
id, so a store's ``create`` refuses it a second time. Two schedules of one procedure that
fall on the same instant are one opening (the first schedule's).

Windows are half-open, ``[start, end)``, and answers are sorted by instant, then by
procedure id, then by schedule order: the openings of ``[a, b)`` followed by those of
``[b, c)`` are exactly those of ``[a, c)``. Everything here is pure: no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule as _rr

from servflow.bounds import FIRST_YEAR, LAST_YEAR
from servflow.engine.calendar import Calendar
from servflow.engine.case import Actor
from servflow.model import Procedure, Schedule

__all__ = [
    "RRULE_FREQUENCIES",
    "SCHEDULE_ACTOR",
    "WEEKDAY_NAMES",
    "Opening",
    "ScheduleProblem",
    "build_rule",
    "first_occurrence",
    "openings_of",
    "schedule_problem",
]

#: The actor id every scheduled opening is recorded under in the audit log.
SCHEDULE_ACTOR = "schedule"

WEEKDAY_NAMES: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)

#: The frequencies an ``rrule`` may have: a case per hour is not a schedule, and daily
#: rules are written ``every: day`` or ``every: working day``.
RRULE_FREQUENCIES = ("WEEKLY", "MONTHLY", "YEARLY")

_RRULE_PARTS = frozenset(
    {
        "FREQ",
        "INTERVAL",
        "COUNT",
        "UNTIL",
        "BYDAY",
        "BYMONTHDAY",
        "BYMONTH",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYSETPOS",
        "WKST",
    }
)

# The anchor of an `rrule` written without `from`: its INTERVAL and COUNT count from here.
_RRULE_ANCHOR = date(2000, 1, 1)
_DAY = timedelta(days=1)


class ScheduleProblem(ValueError):
    """A schedule that cannot be turned into a rule; ``part`` names the key at fault."""

    def __init__(self, part: str, message: str, item: int | None = None) -> None:
        self.part = part
        #: The index of the item of ``days`` at fault, when one is.
        self.item = item
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Opening:
    """One case a schedule opens: which procedure, under which id, when, as whom, with what.

    ``at`` is the occurrence in the calendar's zone; ``schedule`` is the index of the
    schedule in the procedure's list. :meth:`servflow.Engine.open` starts it.
    """

    procedure: str
    version: int
    case_id: str
    at: datetime
    role: str
    schedule: int
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def actor(self) -> Actor:
        """The actor the case is opened as: ``schedule``, holding the schedule's role."""
        return Actor(id=SCHEDULE_ACTOR, roles=frozenset({self.role}))


def _clock(text: str) -> time:
    return time(int(text[:2]), int(text[3:5]))


def _month_day(text: str) -> tuple[int, int]:
    month, day = text.split("-")
    return int(month), int(day)


def _days(schedule: Schedule) -> list[str | int]:
    return list(schedule.days or [])


def schedule_problem(schedule: Schedule) -> ScheduleProblem | None:
    """Why ``schedule``'s days or rule cannot be built, or None (the model checked the rest)."""
    try:
        build_rule(schedule, schedule.from_ or _RRULE_ANCHOR)
    except ScheduleProblem as exc:
        return exc
    return None


def build_rule(schedule: Schedule, first: date) -> _rr.rrule | _rr.rruleset:
    """The dateutil rule of ``schedule``, its occurrences naive local datetimes from ``first``.

    For ``every`` the rule's occurrences do not depend on where it starts, so ``first`` may
    be any date (the window's, to keep the iteration short); an ``rrule`` counts from its
    ``from`` date (or 2000-01-01), whatever ``first`` is. Raises :class:`ScheduleProblem`.
    """
    at = _clock(schedule.at)
    if schedule.rrule is not None:
        return _rrule(schedule.rrule, datetime.combine(schedule.from_ or _RRULE_ANCHOR, at))
    start = datetime.combine(first, at)
    days = _days(schedule)
    every = schedule.every
    if every in ("day", "working day"):
        if days:
            raise ScheduleProblem("days", f"`every: {every}` takes no `days`")
        return _rr.rrule(_rr.DAILY, dtstart=start)
    if not days:
        raise ScheduleProblem("days", f"`every: {every}` needs `days`: {_DAYS_HINT[every or '']}")
    if every == "week":
        weekdays = []
        for j, item in enumerate(days):
            if not isinstance(item, str) or item.lower() not in WEEKDAY_NAMES:
                raise ScheduleProblem(
                    "days", f"{item!r} is not a weekday: write monday, tuesday, ... sunday", j
                )
            weekdays.append(WEEKDAY_NAMES.index(item.lower()))
        return _rr.rrule(_rr.WEEKLY, byweekday=weekdays, dtstart=start)
    if every == "month":
        numbers = []
        for item in days:
            if (
                isinstance(item, bool)
                or not isinstance(item, int)
                or not (1 <= item <= 31 or item == -1)
            ):
                raise ScheduleProblem(
                    "days", f"{item!r} is not a day of the month: write 1 to 31, or -1 for the last"
                )
            numbers.append(item)
        return _rr.rrule(_rr.MONTHLY, bymonthday=numbers, dtstart=start)
    # every: year -- one rule per date, so that 03-01 and 09-15 do not also give 03-15.
    rules = _rr.rruleset()
    for j, item in enumerate(days):
        if not isinstance(item, str) or re.fullmatch(r"[0-9]{2}-[0-9]{2}", item) is None:
            raise ScheduleProblem("days", f"{item!r} is not a date: write MM-DD, e.g. 03-01", j)
        try:
            month, day = _month_day(item)
            date(2000, month, day)  # a leap year: 02-29 is a date, 02-30 is not
        except ValueError:
            raise ScheduleProblem(
                "days", f"{item!r} is no day of any year: the schedule never fires", j
            ) from None
        rules.rrule(_rr.rrule(_rr.YEARLY, bymonth=month, bymonthday=day, dtstart=start))
    return rules


_DAYS_HINT = {
    "week": "weekdays, e.g. [monday]",
    "month": "days of the month, e.g. [1, 15] or [-1] for the last",
    "year": "MM-DD dates, e.g. ['03-01', '09-01']",
}


def _rrule(text: str, dtstart: datetime) -> _rr.rrule:
    body = text.strip().removeprefix("RRULE:")
    parts: dict[str, str] = {}
    for piece in body.split(";"):
        name, sep, value = piece.partition("=")
        name = name.strip().upper()
        if not sep or not value.strip():
            raise ScheduleProblem("rrule", f"write NAME=VALUE parts joined by ';', not {piece!r}")
        if name not in _RRULE_PARTS:
            extra = (
                "; the time of day is `at`"
                if name in ("BYHOUR", "BYMINUTE", "BYSECOND")
                else "; the rule starts at `from`"
                if name == "DTSTART"
                else ""
            )
            raise ScheduleProblem(
                "rrule",
                f"{name} is not allowed here{extra} (allowed: {', '.join(sorted(_RRULE_PARTS))})",
            )
        if name in parts:
            raise ScheduleProblem("rrule", f"{name} is given twice")
        parts[name] = value.strip().upper()
    freq = parts.get("FREQ")
    if freq not in RRULE_FREQUENCIES:
        raise ScheduleProblem(
            "rrule",
            f"FREQ must be one of {', '.join(RRULE_FREQUENCIES)} (got {freq or 'none'}); for"
            " daily write `every: day` or `every: working day`",
        )
    until = parts.get("UNTIL")
    if until is not None and (
        len(until) != 8 or not until.isdigit() or not FIRST_YEAR <= int(until[:4]) <= LAST_YEAR
    ):
        raise ScheduleProblem("rrule", "write UNTIL as a date, YYYYMMDD (the last day included)")
    rule_text = ";".join(f"{k}={v}" for k, v in parts.items() if k != "UNTIL")
    if until is not None:
        rule_text += f";UNTIL={until}T235959"
    try:
        rule = _rr.rrulestr(rule_text, dtstart=dtstart, forceset=False)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ScheduleProblem("rrule", f"not a recurrence rule dateutil can read: {exc}") from None
    assert isinstance(rule, _rr.rrule)  # one RRULE, no set: forceset=False
    return rule


def first_occurrence(schedule: Schedule) -> datetime | None:
    """The first naive local occurrence of ``schedule`` from its ``from`` (or 2000-01-01),
    or None when it never fires (an rrule's COUNT=0, an UNTIL before its start, a date no
    year has). Raises :class:`ScheduleProblem` for a schedule that cannot be built."""
    first = schedule.from_ or _RRULE_ANCHOR
    rule = build_rule(schedule, first)
    found: datetime | None = rule.after(datetime.combine(first, time()), inc=True)
    if found is None or found.year > LAST_YEAR:
        return None
    return found


def _instant(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall-clock time as an instant in ``zone``: a gap resolves forward, a
    repeated time to its first occurrence (as the calendar's working hours do)."""
    return local.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def case_id_of(procedure: str, at: datetime) -> str:
    """The stable id of the case ``procedure`` opens at ``at`` (aware, in the calendar's zone)."""
    offset = at.strftime("%z")
    return f"{procedure}@{at:%Y-%m-%dT%H:%M}{offset[:3]}:{offset[3:]}"


def _occurrences(
    schedule: Schedule, calendar: Calendar, start: datetime, end: datetime
) -> Iterator[datetime]:
    """The instants of ``schedule`` in ``[start, end)``, in order, in the calendar's zone."""
    zone = calendar.zone
    first_local = start.astimezone(zone).date() - _DAY
    last_local = end.astimezone(zone).date() + _DAY
    if schedule.from_ is not None:
        first_local = max(first_local, schedule.from_)
    if first_local > last_local:
        return
    rule = build_rule(schedule, first_local)
    low = datetime.combine(first_local, time())
    high = datetime.combine(last_local, time(23, 59, 59))
    for local in rule.xafter(low, inc=True):
        if local > high:
            return
        moment = _instant(local, zone)
        if not start <= moment < end:
            continue
        if schedule.every == "working day" and not calendar.is_working_day(local.date()):
            continue
        yield moment


def openings_of(
    procedure: Procedure,
    calendar: Calendar,
    start: datetime,
    end: datetime,
) -> list[Opening]:
    """The openings of ``procedure``'s schedules in ``[start, end)``, sorted (see above)."""
    found: dict[str, Opening] = {}
    for index, schedule in enumerate(procedure.schedule):
        for moment in _occurrences(schedule, calendar, start, end):
            case_id = case_id_of(procedure.id, moment)
            if case_id in found:
                continue  # an earlier schedule opens this one
            data = dict(schedule.data)
            if schedule.date_field is not None:
                data[schedule.date_field] = moment.date().isoformat()
            found[case_id] = Opening(
                procedure=procedure.id,
                version=procedure.version,
                case_id=case_id,
                at=moment,
                role=schedule.role,
                schedule=index,
                data=data,
            )
    return sorted(found.values(), key=lambda o: (o.at.astimezone(UTC), o.schedule))
