"""Hypothesis strategies for business calendars, aware datetimes and durations."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from servflow.engine.calendar import WEEKDAYS, Calendar, CalendarSpec, build_calendar
from servflow.engine.durations import Duration

# Zones with awkward rules: DST at 01:00 (London), 02:00 (New York, Sydney), at midnight
# (Santiago), by half an hour (Lord Howe); and zones without DST.
ZONES = (
    "UTC",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Europe/London",
    "America/New_York",
    "America/Santiago",
    "Australia/Sydney",
    "Australia/Lord_Howe",
)
# Zones whose clock changes all happen before 04:00 local time.
EARLY_DST_ZONES = ("UTC", "Asia/Shanghai", "Asia/Hong_Kong", "Europe/London", "America/New_York")

FIRST = datetime(2025, 11, 1, tzinfo=UTC)
LAST = datetime(2027, 3, 1, tzinfo=UTC)

# How callers hand instants in: UTC, a fixed offset, or a zone of their own.
CALLER_ZONES = [UTC, timezone(timedelta(hours=-5)), *(ZoneInfo(z) for z in ZONES)]


def _text(start: int, end: int) -> str:
    def clock(minutes: int) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    return f"{clock(start)}-{clock(end)}"


def _ranges(points: list[int]) -> tuple[str, ...]:
    points = sorted(points)[: len(points) // 2 * 2]
    return tuple(_text(points[i] * 15, points[i + 1] * 15) for i in range(0, len(points), 2))


def day_hours(earliest: int = 0, max_ranges: int = 3) -> st.SearchStrategy[tuple[str, ...]]:
    """Sorted, non-overlapping 'HH:MM-HH:MM' ranges on a quarter-hour grid (maybe none)."""
    points = st.lists(st.integers(earliest // 15, 96), unique=True, max_size=2 * max_ranges)
    return points.map(_ranges)


# Hour sets to build calendars from: office hours with breaks, round the clock, night
# shifts split at midnight, and hours on top of DST changes (01:00-03:00 local). Drawing
# from a table keeps generation cheap; `day_hours()` adds arbitrary ones now and then.
HOUR_SETS: tuple[tuple[str, ...], ...] = (
    (),
    ("08:30-12:00", "13:30-17:30"),
    ("09:00-18:00",),
    ("09:00-13:00",),
    ("07:45-12:15", "12:15-19:00"),
    ("00:00-24:00",),
    ("00:00-06:00", "22:00-24:00"),
    ("01:00-03:00",),
    ("00:30-01:30", "02:00-02:30", "23:59-24:00"),
    ("00:00-01:00", "01:00-02:00", "08:00-08:01"),
)
# The same, restricted to hours that start at 04:00 or later (clear of DST changes).
DAYTIME_HOUR_SETS = tuple(h for h in HOUR_SETS if h and h[0] >= "04:00")


# Strategies are built once here: building them inside a composite on every draw costs
# more than the calendar arithmetic under test.
_HOURS = st.sampled_from(HOUR_SETS)
_ANY_HOURS = _HOURS | day_hours()
_DAYTIME_HOURS = st.sampled_from(DAYTIME_HOUR_SETS) | day_hours(earliest=4 * 60).filter(bool)
_WEEKDAY = st.sampled_from(WEEKDAYS)
_WEEKDAY_SETS = st.sets(_WEEKDAY, min_size=1)
_ZONE = st.sampled_from(ZONES)
_EARLY_DST_ZONE = st.sampled_from(EARLY_DST_ZONES)
_HOLIDAYS = st.sampled_from([None, {"country": "CN"}, {"country": "HK"}])
_WORKDAY = st.none() | st.sampled_from(HOUR_SETS[1:])
_OVERRIDE_VALUE = st.sampled_from(["off", "workday", *HOUR_SETS])
_OVERRIDE_DATES = st.lists(
    st.dates(min_value=date(2025, 11, 1), max_value=date(2027, 3, 1)), max_size=4, unique=True
)


@st.composite
def calendar_specs(draw: st.DrawFn, *, uniform: bool = False) -> CalendarSpec:
    """Any calendar with some working time. ``uniform``: every working day has the same
    hours (on a schedule clear of DST changes), so a working day has one fixed length."""
    zone = draw(_EARLY_DST_ZONE if uniform else _ZONE)
    holidays = draw(_HOLIDAYS)
    if uniform:
        hours = draw(_DAYTIME_HOURS)
        weekly = dict.fromkeys(draw(_WEEKDAY_SETS) | {"mon"}, hours)
        workday: tuple[str, ...] | None = hours
        overrides: dict[date, object] = dict.fromkeys(draw(_OVERRIDE_DATES), "off")
    else:
        weekly = {day: draw(_HOURS) for day in WEEKDAYS}
        weekly[draw(_WEEKDAY)] = draw(_ANY_HOURS)
        if not any(weekly.values()):
            weekly["mon"] = ("09:00-17:00",)
        workday = draw(_WORKDAY)
        if workday is None and not weekly["mon"]:
            workday = ("09:00-17:00",)
        overrides = {day: draw(_OVERRIDE_VALUE) for day in draw(_OVERRIDE_DATES)}
    return CalendarSpec.model_validate(
        {
            "timezone": zone,
            "hours": weekly,
            "holidays": holidays,
            "overrides": overrides,
            "workday_hours": workday,
        }
    )


def calendars(*, uniform: bool = False) -> st.SearchStrategy[Calendar]:
    return calendar_specs(uniform=uniform).map(lambda spec: build_calendar("generated", spec))


# Weeks where the rules bite: Chinese New Year, DST in New York and Europe, Easter and
# Hong Kong's general holidays, DST in Sydney, Lord Howe and Santiago, the make-up Sunday
# and National Day, DST back in Europe and New York, Christmas and the new year.
HOT_DAYS = (
    date(2026, 2, 12),
    date(2026, 3, 5),
    date(2026, 3, 26),
    date(2026, 4, 2),
    date(2026, 9, 3),
    date(2026, 9, 17),
    date(2026, 9, 29),
    date(2026, 10, 1),
    date(2026, 10, 22),
    date(2026, 10, 29),
    date(2026, 12, 22),
    date(2025, 12, 29),
)


_ROUNDING = st.sampled_from([900, 60, 1, 1])
_MICROSECONDS = st.sampled_from([0, 0, 0, 1, 999_999])
_CALLER_ZONE = st.sampled_from(CALLER_ZONES)
_HOT_DAY = st.sampled_from(HOT_DAYS)
_IN_A_HOT_WEEK = st.integers(0, 8 * 86400)
_ANYWHERE = st.integers(0, int((LAST - FIRST).total_seconds()))
_NEAR = st.integers(-20 * 86400, 20 * 86400)


def _finish(draw: st.DrawFn, moment: datetime) -> datetime:
    """Usually on a whole quarter-hour or minute (where the edge cases are), sometimes
    with seconds and microseconds; then in one of the callers' zones."""
    seconds = int((moment - FIRST).total_seconds())
    rounding = draw(_ROUNDING)
    moment = FIRST + timedelta(seconds=seconds - seconds % rounding)
    moment += timedelta(microseconds=draw(_MICROSECONDS))
    return moment.astimezone(draw(_CALLER_ZONE))


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    """An aware instant between late 2025 and early 2027, often in a week where holidays
    or clock changes happen."""
    if draw(st.booleans()):
        day = draw(_HOT_DAY)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=2)
        moment = start + timedelta(seconds=draw(_IN_A_HOT_WEEK))
    else:
        moment = FIRST + timedelta(seconds=draw(_ANYWHERE))
    return _finish(draw, moment)


@st.composite
def instants_near(draw: st.DrawFn, anchor: datetime, days: int = 20) -> datetime:
    """An instant at most ``days`` away from ``anchor`` (either side)."""
    offset = draw(_NEAR if days == 20 else st.integers(-days * 86400, days * 86400))
    return _finish(draw, min(max(anchor.astimezone(UTC) + timedelta(seconds=offset), FIRST), LAST))


@st.composite
def instant_groups(draw: st.DrawFn, size: int) -> list[datetime]:
    """``size`` instants close to each other, the first from :func:`instants`."""
    first = draw(instants())
    return [first, *(draw(instants_near(first)) for _ in range(size - 1))]


second_durations = st.integers(1, 5 * 24 * 3600).map(Duration)
day_durations = st.integers(1, 12).map(lambda n: Duration(working_days=n))
mixed_durations = st.builds(Duration, st.integers(0, 3 * 24 * 3600), st.integers(0, 6)).filter(
    lambda d: not d.is_zero
)
