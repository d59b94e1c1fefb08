"""Business calendars: when the service desk is open, and exact working-time arithmetic.

A :class:`CalendarSpec` is the YAML shape of one calendar (time zone, weekly hours with
breaks, a public-holiday source, per-date overrides, how far the schedule is published);
:func:`build_calendar` compiles it into an immutable :class:`Calendar` that answers "is
the desk open at this instant", "when has this much working time elapsed" and "how much
working time lies between these instants", exactly to the microsecond.

Theory of operation
-------------------
Every local date has a *schedule*: a sorted list of wall-clock ranges such as
``08:30-12:00, 13:30-17:30``. The first rule that applies gives it:

1. an entry in ``overrides`` (``off``, ``workday`` or explicit hours);
2. a day off in the holiday source (the ``holidays`` package) -> no hours;
3. a make-up working day in the holiday source (a weekend day the government has turned
   into a working day, as mainland China does around its golden weeks) -> ``workday_hours``,
   even when that weekday has hours of its own;
4. the weekly hours for that weekday.

Each wall-clock bound is turned into an instant in the calendar's zone, so a working
interval is a half-open pair of UTC instants ``[start, end)``. A bound that falls in a DST
gap (it never showed on a clock) resolves *forward* to the instant the clocks jumped, so
``01:30`` on a 01:00->02:00 night becomes 02:00 and the mapping from wall time to instants
never goes backwards; an ambiguous bound (the repeated hour of autumn) takes ``fold=0``,
its first occurrence. Hence working hours of 00:00-24:00 are 23 real hours on the
spring-forward date and 25 on the fall-back date: working time is always real elapsed time.

All instants are compared and subtracted in UTC. (Python compares two datetimes that share
a tzinfo by their wall clocks and ignores ``fold``, which is wrong across an autumn
change.) Nothing reads the host's time zone or the wall clock; inputs must be aware, and
results come back in the tzinfo of the datetime the caller passed in.

Working days. A date with at least one working interval is a *working day*. The *position*
of a working instant is the working time already elapsed on its working day.
``add(t, Nwd)`` first moves ``t`` to the next working moment (``t`` itself if the desk is
open), takes that moment's working day and position, and returns the instant with the same
position on the Nth working day after it: Mon 10:00 + 2wd is Wed 10:00 when both days have
the same hours. Like working time in seconds, the answer is the *earliest* instant with that
position: a position that ends an interval is reached at its end (12:00, not 13:30 after
lunch), and from the very start of a day (or from outside working time) N working days end
with the Nth day: Mon 18:00 + 2wd is Wed 17:30 (Tuesday and Wednesday), not Thu 08:30. When
the target day is shorter than the position (a half day), the result is the end of that day.
``end_of_working_day=True`` then moves the result to the end of the last working interval
of the working day the result falls on ("by close of business"). For working time in
seconds the result is the earliest instant at which that much working time has elapsed, so
4h from 08:30 with a lunch break at 12:00 is 12:00 + 30 min = 14:00, and 3h30m is 12:00,
not 13:30; with ``end_of_working_day`` it is the end of that day. A duration with both parts
adds the days first, then the seconds. Adding zero returns the start unchanged.

Guards. Schedules are computed once per date and kept; holidays once per year. A date
after ``published_through`` raises :class:`~servflow.errors.CalendarError` instead of
guessing (the ``holidays`` package estimates future years without make-up days), and no
search runs more than three years ahead of its start.

Provisional years. A desk cannot stop on 1 January because the next year's make-up days
are not out yet, so the engine counts its clocks in :attr:`Calendar.extended`: the same
calendar, which past ``published_through`` uses what the holiday source fixes for those
years (the statutory holidays, no make-up days yet) plus the overrides and the weekly
hours, for up to :data:`HORIZON` more. :attr:`Calendar.published_end` is the instant the
published schedule ends; a deadline after it is provisional, and the engine marks it so.
:meth:`Calendar.as_published` is the calendar as an earlier publication of it was (the
overrides up to that date): replay computes each event in the publication its host had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache, partial, wraps
from typing import Concatenate, NoReturn, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from servflow.calendar_spec import (
    WEEKDAYS,
    CalendarSpec,
    HolidaySource,
    WallRange,
    WeeklyHours,
    parse_ranges,
)
from servflow.engine.durations import Duration
from servflow.errors import CalendarError

__all__ = [
    "ALWAYS",
    "HORIZON",
    "WEEKDAYS",
    "Calendar",
    "CalendarSpec",
    "HolidaySource",
    "WeeklyHours",
    "build_calendar",
]

HORIZON = timedelta(days=3 * 366)
_ONE_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)
_ONE_SECOND = timedelta(seconds=1)
_ZERO = timedelta(0)

# --------------------------------------------------------------------------------------
# The compiled calendar
# --------------------------------------------------------------------------------------

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _in_range(
    method: Callable[Concatenate[Calendar, _P], _R],
) -> Callable[Concatenate[Calendar, _P], _R]:
    """Dates near year 1 or 9999 overflow Python's date arithmetic: a CalendarError."""

    @wraps(method)
    def checked(self: Calendar, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except OverflowError:
            raise self._out_of_range() from None

    return checked


Interval = tuple[datetime, datetime]
YearHolidays = tuple[frozenset[date], frozenset[date]]
"""(days off, make-up working days) of one year."""


class Calendar:
    """A compiled business calendar; build one with :func:`build_calendar`.

    Immutable: the only state it keeps is a memo of per-date working intervals and
    per-year holidays, which depend on nothing but the spec.
    """

    __slots__ = (
        "_continuous",
        "_days",
        "_extended",
        "_holiday_source",
        "_name",
        "_origin",
        "_overrides",
        "_published_end",
        "_published_through",
        "_spans",
        "_spec",
        "_views",
        "_weekly",
        "_workday",
        "_years",
        "_zone",
    )

    def __init__(
        self,
        name: str,
        zone: ZoneInfo,
        weekly: tuple[tuple[WallRange, ...], ...],
        *,
        workday: tuple[WallRange, ...] = (),
        overrides: Mapping[date, tuple[WallRange, ...]] | None = None,
        holiday_source: Callable[[int], YearHolidays] | None = None,
        published_through: date | None = None,
        spec: CalendarSpec | None = None,
        _provisional_from: date | None = None,
    ) -> None:
        if len(weekly) != 7:
            raise ValueError("weekly hours need exactly 7 weekdays, Monday first")
        self._name = name
        self._zone = zone
        self._weekly = weekly
        self._workday = workday
        self._overrides: Mapping[date, tuple[WallRange, ...]] = dict(overrides or {})
        self._holiday_source = holiday_source
        self._published_through = published_through
        self._spec = spec
        # The extended view computes past the published range; it remembers where that
        # range ends, so that both views agree on what is provisional.
        published = _provisional_from or published_through
        self._published_end: datetime | None = None
        if published is not None and published < date.max:  # 9999-12-31: no end to speak of
            end = datetime.combine(published + _ONE_DAY, time(), tzinfo=zone)
            try:
                self._published_end = end.astimezone(UTC)
            except OverflowError:  # the last day of year 9999 east of UTC
                self._published_end = None
        self._extended: Calendar | None = None if published_through is not None else self
        # The calendar this one is a view of (as_published), and its own views by date.
        self._origin: Calendar = self
        self._views: dict[date, Calendar] = {}
        self._days: dict[date, tuple[Interval, ...]] = {}
        # The same intervals as integer microseconds since 1970 (UTC): the hot loops of
        # add() and elapsed() compare and subtract plain ints, not datetimes.
        # Keyed by date ordinal: date arithmetic costs a microsecond a step, ints nothing.
        self._spans: dict[int, tuple[tuple[int, int], ...]] = {}
        self._years: dict[int, YearHolidays] = {}
        # 24x7 in UTC without exceptions: every answer is plain timedelta arithmetic.
        self._continuous = (
            zone.key in ("UTC", "Etc/UTC")
            and all(day == ((0, 1440),) for day in weekly)
            and not self._overrides
            and holiday_source is None
            and published_through is None
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def published_through(self) -> date | None:
        return self._published_through

    @property
    def published_end(self) -> datetime | None:
        """The instant (UTC) the published schedule ends: local midnight after
        ``published_through``; None when the calendar has no publication limit."""
        return self._published_end

    @property
    def extended(self) -> Calendar:
        """This calendar, computing up to :data:`HORIZON` past ``published_through`` with
        the holidays its source fixes for those years (no make-up days are known yet).

        What it answers after :attr:`published_end` is provisional: the engine counts its
        clocks here and marks such deadlines. A calendar without a limit is its own
        extension.
        """
        found = self._extended
        if found is None:
            assert self._published_through is not None
            found = self._extended = Calendar(
                self._name,
                self._zone,
                self._weekly,
                workday=self._workday,
                overrides=self._overrides,
                holiday_source=self._holiday_source,
                published_through=(
                    self._published_through + HORIZON
                    if self._published_through < date.max - HORIZON
                    else date.max
                ),
                spec=self._spec,
                _provisional_from=self._published_through,
            )
            found._extended = found
            found._origin = self._origin
        return found

    def as_published(self, through: date) -> Calendar:
        """This calendar as it was when published through ``through`` (not later).

        The same zone, hours, breaks and holiday source, and the overrides up to
        ``through`` only: exactly the calendar a host held whose file was published that
        far, so its :attr:`extended` view answers what that host answered past it. Replay
        computes the events a log records under an older publication in it. Views are
        kept per date, so a replay builds each one once.
        """
        origin = self._origin
        if through == origin._published_through:
            return origin
        limit = origin._published_through
        if limit is not None and through > limit:
            raise CalendarError(
                self._name,
                f"is published through {limit.isoformat()} only, not {through.isoformat()}",
            )
        found = origin._views.get(through)
        if found is None:
            spec = origin._spec
            if spec is not None:
                spec = spec.model_copy(
                    update={
                        "published_through": through,
                        "overrides": {d: v for d, v in spec.overrides.items() if d <= through},
                    }
                )
            found = Calendar(
                origin._name,
                origin._zone,
                origin._weekly,
                workday=origin._workday,
                overrides={d: v for d, v in origin._overrides.items() if d <= through},
                holiday_source=origin._holiday_source,
                published_through=through,
                spec=spec,
            )
            found._origin = origin
            if len(origin._views) > 64:  # a bound for a host fed many odd logs
                origin._views.clear()
            origin._views[through] = found
        return found

    @property
    def spec(self) -> CalendarSpec | None:
        return self._spec

    def __repr__(self) -> str:
        return f"<Calendar {self._name!r} {self._zone.key}>"

    # -- public questions ----------------------------------------------------------------

    @_in_range
    def is_working(self, at: datetime) -> bool:
        """Whether the desk is open at ``at`` (intervals are half-open: 17:30 is closed)."""
        u = _utc(at, "at")
        if self._continuous:
            return True
        local = self._local_date(u)
        return any(s <= u < e for day in (local - _ONE_DAY, local) for s, e in self._intervals(day))

    @_in_range
    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a local date) has any working hours."""
        return bool(self._intervals(day))

    @_in_range
    def close_of(self, day: date) -> datetime | None:
        """When the desk closes on ``day`` (a local date), in UTC; None on a day off."""
        intervals = self._intervals(day)
        return intervals[-1][1] if intervals else None

    @_in_range
    def next_working(self, at: datetime) -> datetime:
        """``at`` if the desk is open then, else the moment it next opens."""
        u = _utc(at, "at")
        if self._continuous:
            return at
        moment, _ = self._next_working(u, self._local_date(u) + HORIZON)
        return moment.astimezone(at.tzinfo)

    def add(
        self, start: datetime, duration: Duration, *, end_of_working_day: bool = False
    ) -> datetime:
        """The instant at which ``duration`` of working time has elapsed from ``start``.

        See the module docstring for working days and ``end_of_working_day``. The result
        is in ``start``'s tzinfo.
        """
        # Inline, not the _in_range decorator: the engine calls this on every step.
        try:
            u = _utc(start, "start")
            if not isinstance(duration, Duration):
                raise TypeError(f"add() takes a Duration, not {type(duration).__name__}")
            if duration.is_zero:
                self._local_date(u)  # still refuses a start beyond published_through
                return start
            if self._continuous and not end_of_working_day:
                step = timedelta(days=duration.working_days, seconds=duration.seconds)
                try:
                    return (u + step).astimezone(start.tzinfo)
                except OverflowError:
                    raise CalendarError(
                        self._name, f"{start} + {duration} is out of range"
                    ) from None
            day = self._local_date(u)
            limit = day + HORIZON
            if duration.working_days:
                u, day = self._add_working_days(u, duration.working_days, limit)
            if duration.seconds:
                u, day = self._add_working_time(u, day, duration.seconds * 1_000_000, limit)
            if end_of_working_day:
                u = self._intervals(day)[-1][1]
            return u.astimezone(start.tzinfo)
        except OverflowError:
            raise self._out_of_range() from None

    def subtract(self, end: datetime, duration: Duration) -> datetime:
        """The instant ``duration`` of working time before ``end``: :meth:`add` backwards.

        Working time in seconds: the *latest* instant from which that much working time
        remains until ``end`` (``elapsed(result, end) == duration``), so it is always a
        working instant; when the count runs out exactly at the start of a working
        interval, that start (13:30 after lunch, not 12:00). Working days: the latest
        working instant at or before ``end`` gives a working day and a position on it
        (from the opening of a day, the position is the whole previous working day);
        the result has the same position on the Nth working day before it (the end of
        that day if it is shorter), placed as :meth:`add` places it. A duration with both
        parts takes the seconds off first, then the days. The result is in ``end``'s
        tzinfo; subtracting zero returns ``end`` unchanged.
        """
        try:
            u = _utc(end, "end")
            if not isinstance(duration, Duration):
                raise TypeError(f"subtract() takes a Duration, not {type(duration).__name__}")
            if duration.is_zero:
                self._local_date(u)  # still refuses an end beyond published_through
                return end
            if self._continuous:
                step = timedelta(days=duration.working_days, seconds=duration.seconds)
                try:
                    return (u - step).astimezone(end.tzinfo)
                except OverflowError:
                    raise CalendarError(self._name, f"{end} - {duration} is out of range") from None
            limit = self._local_date(u) - HORIZON
            if duration.seconds:
                u = self._subtract_working_time(u, duration.seconds * 1_000_000, limit)
            if duration.working_days:
                u = self._subtract_working_days(u, duration.working_days, limit)
            return u.astimezone(end.tzinfo)
        except OverflowError:
            raise self._out_of_range() from None

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        """Working time between ``a`` and ``b``; zero if ``b`` is not after ``a``."""
        try:
            ua, ub = _utc(a, "a"), _utc(b, "b")
            if ub <= ua:
                return _ZERO
            if self._continuous:
                return ub - ua
            x, y = _micros(ua), _micros(ub)
            day = self._local_date(ua).toordinal() - 1
            # The date of the last instant before ub (ub itself is excluded: at a midnight the
            # next date has nothing to count, and may lie beyond published_through).
            last = (ub - _ONE_MICROSECOND).astimezone(self._zone).date().toordinal()
            total = 0
            spans = self._spans
            while day <= last:
                found = spans.get(day)
                for s, e in found if found is not None else self._day_spans(day):
                    if e > x and s < y:
                        total += (e if e < y else y) - (s if s > x else x)
                day += 1
            return timedelta(microseconds=total)
        except OverflowError:
            raise self._out_of_range() from None

    def working_intervals(self, start: datetime, end: datetime) -> Iterator[Interval]:
        """The working intervals within ``[start, end)``, clipped, adjacent ones merged,
        in ``start``'s tzinfo. Lazy: dates are examined as the iteration reaches them."""
        ua, ub = _utc(start, "start"), _utc(end, "end")
        tz = start.tzinfo
        if ub <= ua:
            return iter(())
        if self._continuous:
            return iter([(start, ub.astimezone(tz))])

        def merged() -> Iterator[Interval]:
            try:
                yield from clipped()
            except OverflowError:
                raise self._out_of_range() from None

        def clipped() -> Iterator[Interval]:
            pending: Interval | None = None
            for s, e in self._clipped(ua, ub):
                if pending is not None and pending[1] == s:
                    pending = (pending[0], e)
                    continue
                if pending is not None:
                    yield pending[0].astimezone(tz), pending[1].astimezone(tz)
                pending = (s, e)
            if pending is not None:
                yield pending[0].astimezone(tz), pending[1].astimezone(tz)

        return merged()

    # -- the walk ------------------------------------------------------------------------

    def _next_working(self, u: datetime, limit: date) -> tuple[datetime, date]:
        for day, (s, e) in self._walk(self._local_date(u) - _ONE_DAY, limit, u):
            if e > u:
                return max(s, u), day
        raise AssertionError("unreachable: _walk ends by raising")

    def _add_working_days(self, u: datetime, count: int, limit: date) -> tuple[datetime, date]:
        moment, day = self._next_working(u, limit)
        position = _ZERO
        for s, e in self._intervals(day):
            if s < moment:
                position += min(e, moment) - s
        # From the very start of a working day, N working days have elapsed at the end of
        # the Nth day, counting that day (Tuesday 08:30 + 1wd = Tuesday 17:30): the
        # earliest instant, and the same instant as adding that day's hours in seconds.
        # No day after it is looked at, so an answer at the close of the last published
        # day is given, and is the same in every calendar that agrees up to that day.
        whole = position == _ZERO and count > 0
        for _ in range(count - 1 if whole else count):
            day += _ONE_DAY
            while not self._intervals(day):
                if day > limit:
                    self._beyond_horizon(u)
                day += _ONE_DAY
        if whole:
            return self._intervals(day)[-1][1], day
        intervals = self._intervals(day)
        for s, e in intervals:
            # `<=`: a position that ends exactly with an interval is reached at its end
            # (12:00), not at the start of the next one (13:30); that is the earliest
            # instant, as for working time in seconds.
            if position <= e - s:
                return s + position, day
            position -= e - s
        return intervals[-1][1], day  # a shorter day: its end

    def _add_working_time(
        self, u: datetime, first: date, left: int, limit: date
    ) -> tuple[datetime, date]:
        """``left`` microseconds of working time from ``u``, whose working day is at or
        after ``first`` (an interval may run past midnight: start a day earlier)."""
        x = _micros(u)
        day = first.toordinal() - 1
        end = limit.toordinal()
        spans = self._spans
        while day <= end:
            found = spans.get(day)
            for s, e in found if found is not None else self._day_spans(day):
                if e <= x:
                    continue
                begin = s if s > x else x
                if left <= e - begin:
                    return _from_micros(begin + left), date.fromordinal(day)
                left -= e - begin
            day += 1
        return self._beyond_horizon(u)

    def _subtract_working_time(self, u: datetime, left: int, limit: date) -> datetime:
        """``left`` microseconds of working time before ``u``, walking back to ``limit``."""
        x = _micros(u)
        day = self._local_date(u).toordinal()
        end = limit.toordinal()
        while day >= end:
            for s, e in reversed(self._day_spans(day)):
                if s >= x:
                    continue
                top = e if e < x else x
                if left <= top - s:
                    return _from_micros(top - left)
                left -= top - s
            day -= 1
        return self._beyond_horizon(u)

    def _subtract_working_days(self, u: datetime, count: int, limit: date) -> datetime:
        """The same position ``count`` working days before the working day of ``u``."""
        day = self._local_date(u)
        while True:
            before = [(s, min(e, u)) for s, e in self._intervals(day) if s < u]
            if before:
                break
            day -= _ONE_DAY
            if day < limit:
                self._beyond_horizon(u)
        position = sum((e - s for s, e in before), _ZERO)
        for _ in range(count):
            day -= _ONE_DAY
            while not self._intervals(day):
                if day < limit:
                    self._beyond_horizon(u)
                day -= _ONE_DAY
        intervals = self._intervals(day)
        for s, e in intervals:
            if position <= e - s:
                return s + position
            position -= e - s
        return intervals[-1][1]  # a shorter day: its end

    def _walk(self, first: date, limit: date, origin: datetime) -> Iterator[tuple[date, Interval]]:
        day = first
        while day <= limit:
            for interval in self._intervals(day):
                yield day, interval
            day += _ONE_DAY
        self._beyond_horizon(origin)

    def _clipped(self, ua: datetime, ub: datetime) -> Iterator[Interval]:
        day = self._local_date(ua) - _ONE_DAY
        # The date of the last instant before ub (ub itself is excluded: at a midnight the
        # next date has nothing to count, and may lie beyond published_through).
        last = (ub - _ONE_MICROSECOND).astimezone(self._zone).date()
        while day <= last:
            for s, e in self._intervals(day):
                if e > ua and s < ub:
                    yield max(s, ua), min(e, ub)
            day += _ONE_DAY

    def _out_of_range(self) -> CalendarError:
        return CalendarError(
            self._name, "the computation runs past the dates servflow can count (years 1-9999)"
        )

    def _beyond_horizon(self, origin: datetime) -> NoReturn:
        if not any(self._weekly) and not any(self._overrides.values()):
            raise CalendarError(self._name, "has no working hours at all")
        raise CalendarError(
            self._name,
            f"no answer within {HORIZON.days} days of {origin.astimezone(self._zone)}; "
            "the calendar has no working time that far, or the target is unreasonably long",
        )

    # -- per-date schedules --------------------------------------------------------------

    def _local_date(self, u: datetime) -> date:
        local = u.astimezone(self._zone).date()
        if self._published_through is not None and local > self._published_through:
            self._refuse(local)
        return local

    def _refuse(self, day: date) -> NoReturn:
        if self._extended is self and self._published_through is not None:
            # The extended view: not even a provisional answer that far ahead.
            raise CalendarError(
                self._name,
                f"{day.isoformat()} is more than {HORIZON.days} days beyond the published "
                f"schedule; not even a provisional answer is given that far ahead",
            )
        raise CalendarError(
            self._name,
            f"{day.isoformat()} is beyond published_through "
            f"{self._published_through}; publish the next year's schedule first",
        )

    def _day_spans(self, ordinal: int) -> tuple[tuple[int, int], ...]:
        """A date's intervals as microseconds, computed once (refused past publication)."""
        cached = self._spans.get(ordinal)
        if cached is None:
            intervals = self._intervals(date.fromordinal(ordinal))
            cached = tuple((_micros(s), _micros(e)) for s, e in intervals)
            if len(self._spans) > 100_000:
                self._spans.clear()
            self._spans[ordinal] = cached
        return cached

    def _intervals(self, day: date) -> tuple[Interval, ...]:
        cached = self._days.get(day)
        if cached is not None:
            return cached
        if self._published_through is not None and day > self._published_through:
            self._refuse(day)
        intervals: list[Interval] = []
        for start, end in self._schedule(day):
            s, e = self._wall_to_utc(day, start), self._wall_to_utc(day, end)
            if s >= e:  # entirely inside a DST gap: that time never happened
                continue
            if intervals and intervals[-1][1] == s:
                intervals[-1] = (intervals[-1][0], e)
            else:
                intervals.append((s, e))
        result = tuple(intervals)
        if len(self._days) > 100_000:  # a bound on the memo for very long-running hosts
            self._days.clear()
        self._days[day] = result
        return result

    def _schedule(self, day: date) -> tuple[WallRange, ...]:
        override = self._overrides.get(day)
        if override is not None:
            return override
        if self._holiday_source is not None:
            days_off, makeup_days = self._holidays_of(day.year)
            if day in days_off:
                return ()
            if day in makeup_days:
                return self._workday
        return self._weekly[day.weekday()]

    def _holidays_of(self, year: int) -> YearHolidays:
        found = self._years.get(year)
        if found is None:
            assert self._holiday_source is not None
            found = self._years[year] = self._holiday_source(year)
        return found

    def _wall_to_utc(self, day: date, minutes: int) -> datetime:
        naive = datetime.combine(day, time()) + timedelta(minutes=minutes)
        u = naive.replace(tzinfo=self._zone).astimezone(UTC)
        if u.astimezone(self._zone).replace(tzinfo=None) == naive:
            return u  # exists (fold=0 picks the first of two ambiguous instants)
        # In a gap, fold=0 uses the offset before the jump (an instant after it) and
        # fold=1 the offset after (an instant before it); bisect for the jump itself.
        after = u
        before = naive.replace(tzinfo=self._zone, fold=1).astimezone(UTC)
        target = after.astimezone(self._zone).utcoffset()
        while after - before > _ONE_SECOND:
            middle = before + (after - before) // 2
            middle -= timedelta(microseconds=middle.microsecond)
            if middle <= before:
                middle = before + _ONE_SECOND
            if middle.astimezone(self._zone).utcoffset() == target:
                after = middle
            else:
                before = middle
        return after


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(u: datetime) -> int:
    """Microseconds since 1970 of an aware datetime, exactly (no float rounding)."""
    d = u - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def _from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _utc(at: datetime, what: str) -> datetime:
    if not isinstance(at, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(
            f"naive datetime {at.isoformat()} given as {what}: pass a timezone-aware datetime"
        )
    return at.astimezone(UTC)


def build_calendar(name: str, spec: CalendarSpec) -> Calendar:
    """Compile a validated :class:`CalendarSpec` into a :class:`Calendar` called ``name``."""
    weekly = tuple(parse_ranges(getattr(spec.hours, day)) for day in WEEKDAYS)
    workday = parse_ranges(spec.workday_hours) if spec.workday_hours is not None else weekly[0]
    overrides: dict[date, tuple[WallRange, ...]] = {}
    for day, entry in spec.overrides.items():
        if entry == "off":
            overrides[day] = ()
        elif entry == "workday":
            overrides[day] = workday
        else:
            overrides[day] = parse_ranges(entry)
    source = _holiday_source(spec.holidays) if spec.holidays is not None else None
    return Calendar(
        name,
        ZoneInfo(spec.timezone),
        weekly,
        workday=workday,
        overrides=overrides,
        holiday_source=source,
        published_through=spec.published_through,
        spec=spec,
    )


def _holiday_source(source: HolidaySource) -> Callable[[int], YearHolidays]:
    return partial(_holidays_of_year, source.country, source.subdivision, source.categories)


@lru_cache(maxsize=256)
def _holidays_of_year(
    country: str, subdivision: str | None, categories: tuple[str, ...] | None, year: int
) -> YearHolidays:
    # Shared by every calendar with the same source: the package takes a millisecond or
    # more per country and year, and its answer depends on nothing else.
    import holidays  # imported here so that calendars without holidays never load it

    table = holidays.country_holidays(
        country, subdiv=subdivision, categories=categories, years=year
    )
    days_off = frozenset(day for day in table if day.year == year)
    # `weekend_workdays` is the package's record of weekend days moved to work (the set
    # behind its public is_working_day()); it also holds a few dates of other years.
    makeup = frozenset(
        day for day in table.weekend_workdays if day.year == year and table.is_working_day(day)
    )
    return days_off, makeup


ALWAYS: Calendar = build_calendar(
    "always",
    CalendarSpec(
        title={"en": "Round the clock", "zh-Hant": "全天候"},
        timezone="UTC",
        hours=WeeklyHours(**dict.fromkeys(WEEKDAYS, ("00:00-24:00",))),
    ),
)
"""24x7 in UTC, no holidays, no publication limit: working time is real time."""
