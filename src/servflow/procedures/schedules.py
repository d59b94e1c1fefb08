"""Static checks of a procedure's ``schedule``: what it opens must be a case that opens.

Every problem is one an analyst is likely to write and that would otherwise show only when
a desk tries to open the case, months later: a role that may not open a case, data the
start refuses or leaves missing, days no calendar has, an ``rrule`` dateutil cannot read
or that never fires. All are errors: a schedule that cannot open its cases is refused at
load, like a transition to an unknown state. A ``working day`` schedule on a calendar that
has no working day at all is found where calendars are known (:func:`calendar_problems`).
"""

from __future__ import annotations

from collections.abc import Iterator

from servflow._hints import did_you_mean
from servflow.calendar_spec import WEEKDAYS, CalendarSpec
from servflow.engine.schedule import ScheduleProblem, first_occurrence
from servflow.engine.values import FieldValueError, normalise
from servflow.errors import Diagnostic
from servflow.model import Procedure, Schedule
from servflow.procedures.source import SourceMap

__all__ = ["calendar_problems", "check_schedules"]

Path = tuple[str | int, ...]


def check_schedules(proc: Procedure, smap: SourceMap) -> list[Diagnostic]:
    """Every problem of ``proc``'s schedules, positioned by ``smap``."""
    return [smap.diagnostic(path, code, message) for path, code, message in _problems(proc)]


def _problems(proc: Procedure) -> Iterator[tuple[Path, str, str]]:
    for i, schedule in enumerate(proc.schedule):
        base: Path = ("schedule", i)
        yield from _role(proc, schedule, base)
        yield from _data(proc, schedule, base)
        try:
            found = first_occurrence(schedule)
        except ScheduleProblem as exc:
            code = "schedule-never-fires" if "never fires" in str(exc) else "bad-schedule"
            at: Path = (*base, exc.part) if exc.item is None else (*base, exc.part, exc.item)
            yield at, code, str(exc)
            continue
        if found is None:
            key = "rrule" if schedule.rrule is not None else "days"
            yield (
                (*base, key),
                "schedule-never-fires",
                "this schedule never opens a case: its rule has no occurrence from"
                f" {(schedule.from_.isoformat() if schedule.from_ else '2000-01-01')} on (a COUNT"
                " of 0, or an UNTIL before that)",
            )


def _role(proc: Procedure, schedule: Schedule, base: Path) -> Iterator[tuple[Path, str, str]]:
    role = schedule.role
    if role not in proc.roles:
        yield (
            (*base, "role"),
            "unknown-role",
            f"unknown role {role!r}" + did_you_mean(role, set(proc.roles)),
        )
    elif role not in proc.start.roles:
        yield (
            (*base, "role"),
            "schedule-role",
            f"role {role!r} may not open a case: `start` allows {', '.join(proc.start.roles)}",
        )


def _data(proc: Procedure, schedule: Schedule, base: Path) -> Iterator[tuple[Path, str, str]]:
    accepts = proc.start.accepts
    given = set(schedule.data)
    for name, value in schedule.data.items():
        spec = proc.fields.get(name)
        if spec is None:
            yield (
                (*base, "data", name),
                "unknown-field",
                f"unknown field {name!r}" + did_you_mean(name, set(proc.fields)),
            )
            continue
        if accepts is not None and name not in accepts:
            yield (
                (*base, "data", name),
                "invalid-schedule-data",
                f"`start` does not accept {name!r}; add it to start.accepts or remove it here",
            )
            continue
        try:
            normalise(spec, value)
        except FieldValueError as exc:
            yield (*base, "data", name), "invalid-schedule-data", f"{name}: {exc}"
    field = schedule.date_field
    if field is not None:
        given.add(field)
        spec = proc.fields.get(field)
        if spec is None:
            yield (
                (*base, "date_field"),
                "unknown-field",
                f"unknown field {field!r}" + did_you_mean(field, set(proc.fields)),
            )
        elif spec.type != "date":
            yield (
                (*base, "date_field"),
                "schedule-date-field",
                f"`date_field: {field}` needs a `date` field, not {spec.type!r}",
            )
        elif accepts is not None and field not in accepts:
            yield (
                (*base, "date_field"),
                "invalid-schedule-data",
                f"`start` does not accept {field!r}; add it to start.accepts",
            )
    missing = [
        n
        for n in proc.start.requires
        if n not in given and n in proc.fields and proc.fields[n].default is None
    ]
    if missing:
        yield (
            base,
            "schedule-missing-data",
            f"`start` requires {', '.join(missing)}, which this schedule does not give: add"
            " them to its `data` (or `date_field`)",
        )


def calendar_problems(
    proc: Procedure, spec: CalendarSpec | None, smap: SourceMap
) -> list[Diagnostic]:
    """``working day`` schedules on a calendar that has no working day at all.

    ``spec`` is the procedure's calendar (None for the built-in ``always``, open every
    day). A calendar has no working day when no weekday has hours, no override gives
    hours, and it has no make-up days to give ``workday_hours`` to.
    """
    if spec is None or _has_working_days(spec):
        return []
    return [
        smap.diagnostic(
            ("schedule", i, "every"),
            "schedule-never-fires",
            f"calendar {proc.calendar!r} has no working day (no weekday has hours): "
            "`every: working day` never opens a case",
        )
        for i, schedule in enumerate(proc.schedule)
        if schedule.every == "working day"
    ]


def _has_working_days(spec: CalendarSpec) -> bool:
    if any(getattr(spec.hours, day) for day in WEEKDAYS):
        return True
    if any(value != "off" for value in spec.overrides.values()):
        return True
    return spec.holidays is not None and bool(spec.workday_hours)
