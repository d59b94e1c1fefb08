"""Business calendars: pinned real-world cases and the invariants of working-time arithmetic.

Every expected datetime below was worked out by hand from the official schedules; the
comment beside it shows the count. Results are compared as UTC instants, because Python
compares two datetimes that share a tzinfo by wall clock and ignores ``fold``.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import subprocess
import sys
import time
import timeit
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import servflow.engine.calendar as calendar_module
from servflow.engine.calendar import (
    ALWAYS,
    WEEKDAYS,
    Calendar,
    CalendarSpec,
    build_calendar,
)
from servflow.engine.durations import Duration, parse_duration
from servflow.errors import CalendarError, ServflowError
from tests.sources import source_text
from tests.strategies_time import (
    calendar_specs,
    calendars,
    day_durations,
    instant_groups,
    instants,
    mixed_durations,
    second_durations,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HONG_KONG = ZoneInfo("Asia/Hong_Kong")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")

OFFICE_HOURS = ("08:30-12:00", "13:30-17:30")  # 7.5 working hours, lunch 12:00-13:30
WEEKDAYS_ONLY = ("mon", "tue", "wed", "thu", "fri")

prop = settings(deadline=None, max_examples=100)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def office_spec(**changes: object) -> CalendarSpec:
    """A mainland management office: Mon-Fri 08:30-12:00 and 13:30-17:30, CN holidays."""
    data: dict[str, object] = {
        "title": {"zh-Hant": "管理處辦公時間", "en": "Management office hours"},
        "timezone": "Asia/Shanghai",
        "hours": dict.fromkeys(WEEKDAYS_ONLY, OFFICE_HOURS),
        "holidays": {"country": "CN", "subdivision": None},
        "workday_hours": OFFICE_HOURS,
        "published_through": "2026-12-31",
    }
    data.update(changes)
    return CalendarSpec.model_validate(data)


OFFICE = build_calendar("office", office_spec())


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# ---------------------------------------------------------------------------------------
# Mainland China
# ---------------------------------------------------------------------------------------


def test_repair_on_the_eve_of_national_day_2026() -> None:
    # The State Council's 2026 schedule: Oct 1 (Thu) to Oct 7 (Wed) off, make-up working
    # days Sun Sep 20 and Sat Oct 10. Recorded Wed Sep 30 16:00; working days after it:
    # Thu Oct 8 (1), Fri Oct 9 (2), Sat Oct 10 (3, make-up) -> Sat Oct 10 16:00.
    start = sh(2026, 9, 30, 16, 0)
    assert utc(OFFICE.add(start, parse_duration("3wd"))) == utc(sh(2026, 10, 10, 16, 0))
    assert utc(OFFICE.add(start, parse_duration("3wd"), end_of_working_day=True)) == utc(
        sh(2026, 10, 10, 17, 30)
    )
    # 4h of working time: 1h30m left on Sep 30 (16:00-17:30), 2h30m from Oct 8 08:30.
    assert utc(OFFICE.add(start, parse_duration("4h"))) == utc(sh(2026, 10, 8, 11, 0))
    # Sep 30 16:00-17:30, Oct 8/9/10 7.5h each, minus the last 1h30m of Oct 10: 22h30m.
    assert OFFICE.elapsed(start, sh(2026, 10, 10, 16, 0)) == timedelta(hours=22, minutes=30)
    for day in range(1, 8):
        assert not OFFICE.is_working_day(date(2026, 10, day))
    assert OFFICE.is_working(sh(2026, 10, 10, 9, 0))  # a Saturday


def test_across_a_mainland_make_up_sunday() -> None:
    # Sun Sep 20 2026 is a working day (made up for National Day); Sat Sep 19 is not.
    friday = sh(2026, 9, 18, 16, 0)
    assert utc(OFFICE.add(friday, Duration(working_days=1))) == utc(sh(2026, 9, 20, 16, 0))
    # 1h from Fri 17:00: 30 min on Friday, 30 min from Sun 08:30.
    assert utc(OFFICE.add(sh(2026, 9, 18, 17, 0), parse_duration("1h"))) == utc(
        sh(2026, 9, 20, 9, 0)
    )
    assert OFFICE.is_working(sh(2026, 9, 20, 10, 0))
    assert not OFFICE.is_working(sh(2026, 9, 19, 10, 0))
    # Fri Sep 25 is Mid-Autumn Festival and Sat Sep 26 an ordinary weekend day, so the
    # working day after Thu Sep 24 is Mon Sep 28.
    assert utc(OFFICE.add(sh(2026, 9, 24, 10, 0), Duration(working_days=1))) == utc(
        sh(2026, 9, 28, 10, 0)
    )


def test_across_the_lunch_break() -> None:
    monday = date(2026, 6, 1)
    assert OFFICE.is_working_day(monday)
    # 11:00 + 2h: one hour until 12:00, the second from 13:30 -> 14:30.
    assert utc(OFFICE.add(sh(2026, 6, 1, 11, 0), Duration.of(hours=2))) == utc(
        sh(2026, 6, 1, 14, 30)
    )
    # Exactly the morning: due at 12:00 (the moment it has elapsed), not 13:30.
    assert utc(OFFICE.add(sh(2026, 6, 1, 8, 30), parse_duration("3h30m"))) == utc(
        sh(2026, 6, 1, 12, 0)
    )
    # Started during lunch: the clock starts at 13:30.
    assert utc(OFFICE.add(sh(2026, 6, 1, 12, 15), parse_duration("PT30M"))) == utc(
        sh(2026, 6, 1, 14, 0)
    )
    # From lunch, one working day is the afternoon and Tuesday's morning: done at 12:00,
    # the earliest instant that business time has elapsed (the same as 13:30 in
    # business time, but never later than the seconds arithmetic says).
    assert utc(OFFICE.add(sh(2026, 6, 1, 12, 15), Duration(working_days=1))) == utc(
        sh(2026, 6, 2, 12, 0)
    )
    assert OFFICE.elapsed(sh(2026, 6, 1, 11, 0), sh(2026, 6, 1, 14, 30)) == timedelta(hours=2)
    assert not OFFICE.is_working(sh(2026, 6, 1, 12, 0))
    assert OFFICE.is_working(sh(2026, 6, 1, 13, 30))
    assert not OFFICE.is_working(sh(2026, 6, 1, 17, 30))  # intervals are half-open
    assert utc(OFFICE.next_working(sh(2026, 6, 1, 12, 0))) == utc(sh(2026, 6, 1, 13, 30))
    assert list(OFFICE.working_intervals(sh(2026, 6, 1, 11, 0), sh(2026, 6, 1, 14, 0))) == [
        (sh(2026, 6, 1, 11, 0), sh(2026, 6, 1, 12, 0)),
        (sh(2026, 6, 1, 13, 30), sh(2026, 6, 1, 14, 0)),
    ]


def test_working_days_from_outside_working_time() -> None:
    # Mon 18:00 is after hours: count from Tue 08:30; two whole working days (Tuesday and
    # Wednesday) have elapsed at Wed 17:30, the earliest such instant (not Thu 08:30).
    assert utc(OFFICE.add(sh(2026, 6, 1, 18, 0), Duration(working_days=2))) == utc(
        sh(2026, 6, 3, 17, 30)
    )
    assert utc(
        OFFICE.add(sh(2026, 6, 1, 18, 0), Duration(working_days=2), end_of_working_day=True)
    ) == utc(sh(2026, 6, 3, 17, 30))
    # The same instant as the two days' hours in seconds.
    assert OFFICE.add(sh(2026, 6, 1, 18, 0), Duration(working_days=2)) == OFFICE.add(
        sh(2026, 6, 1, 18, 0), Duration.of(hours=15)
    )
    # Mon 10:00 + 2wd is Wed 10:00; end of working day: Wed 17:30.
    assert utc(OFFICE.add(sh(2026, 6, 1, 10, 0), Duration(working_days=2))) == utc(
        sh(2026, 6, 3, 10, 0)
    )
    # Days first, then time: Mon 10:00 + 1wd = Tue 10:00, + 3h = Tue 14:30 (lunch).
    assert utc(OFFICE.add(sh(2026, 6, 1, 10, 0), parse_duration("1wd 3h"))) == utc(
        sh(2026, 6, 2, 14, 30)
    )


def test_end_of_working_day_for_working_time() -> None:
    # 2h from Mon 16:00 ends Tue 10:00 (1h30m Monday, 30 min Tuesday): close of Tuesday.
    start = sh(2026, 6, 1, 16, 0)
    assert utc(OFFICE.add(start, Duration.of(hours=2), end_of_working_day=True)) == utc(
        sh(2026, 6, 2, 17, 30)
    )
    # Ending exactly at 17:30 Monday falls on Monday.
    assert utc(OFFICE.add(start, Duration.of(hours=1, minutes=30), end_of_working_day=True)) == (
        utc(sh(2026, 6, 1, 17, 30))
    )


# ---------------------------------------------------------------------------------------
# Hong Kong
# ---------------------------------------------------------------------------------------

HK_HOURS = ("09:00-13:00", "14:00-18:00")


def hk_calendar(categories: list[str] | None) -> Calendar:
    return build_calendar(
        "hk",
        CalendarSpec.model_validate(
            {
                "timezone": "Asia/Hong_Kong",
                "hours": {**dict.fromkeys(WEEKDAYS_ONLY, HK_HOURS), "sat": ["09:00-13:00"]},
                "holidays": {"country": "HK", "categories": categories},
            }
        ),
    )


def test_across_hong_kong_easter_holidays() -> None:
    # General holidays 2026: Good Friday Apr 3, the day following Apr 4, Easter Monday
    # Apr 6, Tomb-Sweeping observed Apr 7. From Thu Apr 2 17:00 (position 7h):
    # Wed Apr 8 (1), Thu Apr 9 (2) -> Thu Apr 9 17:00.
    general = hk_calendar(["public", "optional"])
    start = datetime(2026, 4, 2, 17, 0, tzinfo=HONG_KONG)
    assert utc(general.add(start, Duration(working_days=2))) == utc(
        datetime(2026, 4, 9, 17, 0, tzinfo=HONG_KONG)
    )
    # 4h: 1h on Thursday, 3h from Wed Apr 8 09:00 -> 12:00.
    assert utc(general.add(start, parse_duration("4h"))) == utc(
        datetime(2026, 4, 8, 12, 0, tzinfo=HONG_KONG)
    )
    # Statutory holidays only: Good Friday and its Saturday are working days. Fri Apr 3 is
    # day 1 and Sat Apr 4 (09:00-13:00, 4h) day 2; position 7h is past its end, so the
    # due time is the end of that shorter day, 13:00.
    statutory = hk_calendar(None)
    assert utc(statutory.add(start, Duration(working_days=2))) == utc(
        datetime(2026, 4, 4, 13, 0, tzinfo=HONG_KONG)
    )


# ---------------------------------------------------------------------------------------
# Daylight saving time
# ---------------------------------------------------------------------------------------

LONDON_OFFICE = build_calendar(
    "london",
    CalendarSpec(timezone="Europe/London", hours=dict.fromkeys(WEEKDAYS_ONLY, ("09:00-17:00",))),
)
LONDON_24X7 = build_calendar(
    "london-24x7",
    CalendarSpec(timezone="Europe/London", hours=dict.fromkeys(WEEKDAYS, ("00:00-24:00",))),
)


def ldn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def test_working_days_across_dst_keep_the_wall_clock() -> None:
    # Clocks go forward on Sun Mar 29 2026. Fri 10:00 GMT + 2wd = Tue 10:00 BST, which is
    # 4 days less one hour of real time (not 96h).
    start = ldn(2026, 3, 27, 10, 0)
    due = LONDON_OFFICE.add(start, Duration(working_days=2))
    assert utc(due) == utc(ldn(2026, 3, 31, 10, 0))
    assert utc(due) - utc(start) == timedelta(days=4, hours=-1)
    # And back on Sun Oct 25: Fri 10:00 BST + 2wd = Tue 10:00 GMT.
    assert utc(LONDON_OFFICE.add(ldn(2026, 10, 23, 10, 0), Duration(working_days=2))) == utc(
        ldn(2026, 10, 27, 10, 0)
    )
    # New York springs forward on Sun Mar 8 2026: Fri 10:00 EST + 1wd = Mon 10:00 EDT.
    new_york = build_calendar(
        "ny",
        CalendarSpec(
            timezone="America/New_York", hours=dict.fromkeys(WEEKDAYS_ONLY, ("09:00-17:00",))
        ),
    )
    assert utc(
        new_york.add(datetime(2026, 3, 6, 10, tzinfo=NEW_YORK), Duration(working_days=1))
    ) == utc(datetime(2026, 3, 9, 10, tzinfo=NEW_YORK))


def test_working_time_across_dst_is_real_time() -> None:
    # Fri 16:00 + 2h in the office: 1h on Friday, 1h from Mon 09:00 BST.
    assert utc(LONDON_OFFICE.add(ldn(2026, 3, 27, 16, 0), Duration.of(hours=2))) == utc(
        ldn(2026, 3, 30, 10, 0)
    )
    # Round the clock: Sat 12:00 GMT + 24h = Sun 13:00 BST, 24 real hours later.
    assert utc(LONDON_24X7.add(ldn(2026, 3, 28, 12, 0), parse_duration("24h"))) == utc(
        ldn(2026, 3, 29, 13, 0)
    )
    # The spring-forward Sunday has 23 working hours, the autumn one 25.
    assert LONDON_24X7.elapsed(ldn(2026, 3, 29), ldn(2026, 3, 30)) == timedelta(hours=23)
    assert LONDON_24X7.elapsed(ldn(2026, 10, 25), ldn(2026, 10, 26)) == timedelta(hours=25)
    # A working-day position is working time into the day: Sat 10:00 is 10h in; 10h into
    # the 23-hour Sunday is 11:00 BST (only calendars open across 01:00-02:00 see this).
    assert utc(LONDON_24X7.add(ldn(2026, 3, 28, 10, 0), Duration(working_days=1))) == utc(
        ldn(2026, 3, 29, 11, 0)
    )
    # Adjacent days merge into one interval.
    assert list(LONDON_24X7.working_intervals(ldn(2026, 3, 28), ldn(2026, 3, 31))) == [
        (ldn(2026, 3, 28), ldn(2026, 3, 31))
    ]


def test_hours_inside_a_dst_gap_resolve_forward() -> None:
    # Sunday hours 01:30-03:00: on Mar 29 2026 01:30 never shows on a London clock, so
    # work starts when the clocks jump (01:00 UTC = 02:00 BST) and lasts until 03:00 BST.
    gap = build_calendar(
        "gap", CalendarSpec(timezone="Europe/London", hours={"sun": ["01:30-03:00"]})
    )
    day = (datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC))
    assert list(gap.working_intervals(*day)) == [
        (datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 3, 29, 2, tzinfo=UTC))
    ]
    # 01:00-02:00 on the autumn Sunday starts at the first 01:00 (BST, fold=0) and ends
    # at 02:00 GMT: two real hours.
    autumn = build_calendar(
        "autumn", CalendarSpec(timezone="Europe/London", hours={"sun": ["01:00-02:00"]})
    )
    assert autumn.elapsed(
        datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC)
    ) == (timedelta(hours=2))
    # The same hours on the spring Sunday lie wholly in the gap: no working time at all.
    assert autumn.elapsed(*day) == timedelta(0)


# ---------------------------------------------------------------------------------------
# Publication limit, overrides, ALWAYS, errors
# ---------------------------------------------------------------------------------------


def test_refuses_to_guess_beyond_published_through() -> None:
    # Dec 31 (Thu) is day 1; day 2 would be in 2027, whose schedule is not published.
    with pytest.raises(CalendarError, match="2027-01-01 is beyond published_through 2026-12-31"):
        OFFICE.add(sh(2026, 12, 30, 16, 0), Duration(working_days=3))
    with pytest.raises(CalendarError, match="publish the next year's schedule first") as info:
        OFFICE.is_working(sh(2027, 1, 4, 10, 0))
    assert info.value.calendar == "office"
    assert isinstance(info.value, ServflowError)
    with pytest.raises(CalendarError, match="beyond published_through"):
        OFFICE.add(sh(2026, 12, 31, 17, 0), Duration.of(hours=1))
    with pytest.raises(CalendarError, match="beyond published_through"):
        OFFICE.elapsed(sh(2026, 12, 31, 9, 0), sh(2027, 1, 1, 0, 1))
    # Up to the very end of the last published date is fine.
    assert OFFICE.elapsed(sh(2026, 12, 31, 8, 0), sh(2027, 1, 1, 0, 0)) == timedelta(hours=7.5)
    assert utc(OFFICE.add(sh(2026, 12, 31, 10, 0), Duration.of(hours=2))) == utc(
        sh(2026, 12, 31, 12, 0)
    )


def test_overrides_win_over_the_holiday_package() -> None:
    start = sh(2026, 9, 30, 16, 0)
    # Thu Oct 8 closed by the office: Fri Oct 9 (1), Sat Oct 10 (2, make-up), Mon Oct 12 (3).
    closed = build_calendar("o", office_spec(overrides={"2026-10-08": "off"}))
    assert utc(closed.add(start, Duration(working_days=3))) == utc(sh(2026, 10, 12, 16, 0))
    # Open on Mon Oct 5 although the package says holiday: Oct 5 (1), Oct 8 (2), Oct 9 (3).
    opened = build_calendar("o", office_spec(overrides={"2026-10-05": "workday"}))
    assert utc(opened.add(start, Duration(working_days=3))) == utc(sh(2026, 10, 9, 16, 0))
    # The make-up Saturday cancelled: Oct 8 (1), Oct 9 (2), Mon Oct 12 (3).
    no_makeup = build_calendar("o", office_spec(overrides={"2026-10-10": "off"}))
    assert utc(no_makeup.add(start, Duration(working_days=3))) == utc(sh(2026, 10, 12, 16, 0))
    # Christmas Eve with custom hours 09:00-12:00 (3h). Wed Dec 23 10:00 is 1h30m into
    # its day: 1h30m into Dec 24 is 10:30. Wed 16:00 is 6h in, past the 3h day: its end.
    eve = build_calendar("o", office_spec(overrides={"2026-12-24": ["09:00-12:00"]}))
    assert utc(eve.add(sh(2026, 12, 23, 10, 0), Duration(working_days=1))) == utc(
        sh(2026, 12, 24, 10, 30)
    )
    assert utc(eve.add(sh(2026, 12, 23, 16, 0), Duration(working_days=1))) == utc(
        sh(2026, 12, 24, 12, 0)
    )


def test_always_is_plain_timedelta_arithmetic() -> None:
    start = datetime(2026, 3, 28, 22, 15, tzinfo=LONDON)
    assert ALWAYS.name == "always"
    assert ALWAYS.add(start, parse_duration("90m")) == start + timedelta(minutes=90)
    assert utc(ALWAYS.add(start, Duration(working_days=2))) == utc(start) + timedelta(hours=48)
    assert ALWAYS.add(start, Duration(seconds=1)).tzinfo is LONDON
    # (start + timedelta(days=3) would be wall-clock arithmetic in London: 71 real hours.)
    assert ALWAYS.elapsed(start, utc(start) + timedelta(days=3)) == timedelta(days=3)
    assert ALWAYS.is_working(start)
    assert ALWAYS.next_working(start) == start
    # End of working day in ALWAYS: the end of the UTC day the due time falls on.
    assert utc(ALWAYS.add(start, Duration(working_days=1), end_of_working_day=True)) == (
        datetime(2026, 3, 30, tzinfo=UTC)
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"naive datetime .*: pass a timezone-aware datetime"):
        OFFICE.add(datetime(2026, 6, 1, 10), Duration.of(hours=1))
    with pytest.raises(ValueError, match="naive datetime"):
        OFFICE.elapsed(sh(2026, 6, 1), datetime(2026, 6, 2))
    with pytest.raises(ValueError, match="naive datetime"):
        ALWAYS.is_working(datetime(2026, 6, 1))


def test_a_calendar_without_working_time_refuses_to_add() -> None:
    never = build_calendar("never", CalendarSpec(timezone="UTC", hours={}))
    with pytest.raises(CalendarError, match="no working hours at all"):
        never.add(datetime(2026, 1, 1, tzinfo=UTC), Duration.of(minutes=30))
    with pytest.raises(CalendarError, match="no working hours at all"):
        never.next_working(datetime(2026, 1, 1, tzinfo=UTC))
    # One working date, long past: the search gives up after three years.
    once = build_calendar(
        "once", CalendarSpec(timezone="UTC", hours={}, overrides={"2020-01-06": ["09:00-10:00"]})
    )
    with pytest.raises(CalendarError, match="no answer within"):
        once.add(datetime(2026, 1, 1, tzinfo=UTC), Duration(working_days=1))
    assert never.elapsed(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)) == (
        timedelta(0)
    )


def test_adding_zero_returns_the_start() -> None:
    start = sh(2026, 6, 1, 18, 0)
    assert OFFICE.add(start, Duration()) is start


# ---------------------------------------------------------------------------------------
# The YAML shape
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"timezone": "localtime"}, "unknown time zone 'localtime'"),
        ({"hours": {"mon": ["8:30-12:00"]}}, "bad hours '8:30-12:00': write HH:MM-HH:MM"),
        ({"hours": {"mon": ["12:00-08:30"]}}, "the end must be after the start"),
        ({"hours": {"mon": ["08:00-12:00", "11:00-13:00"]}}, "overlap"),
        ({"hours": {"mon": ["13:00-17:00", "08:00-12:00"]}}, "sorted"),
        ({"hours": {"mon": ["08:00-24:30"]}}, "bad hours"),
        ({"hours": {"monday": ["08:00-12:00"]}}, "Extra inputs are not permitted"),
        ({"overrides": {"2026-10-10": False}}, "YAML 1.1 reads a bare"),
        ({"overrides": {"2026-10-10": "closed"}}, "write 'off', 'workday' or a list"),
        ({"overrides": {"2026-13-01": "off"}}, "date"),
        ({"holidays": {"country": "XX"}}, "unknown holiday country 'XX'"),
        ({"holidays": {"country": "CN", "subdivision": "ZZ"}}, "does not have subdivision"),
        ({"holidays": {"country": "CN", "categories": ["bogus"]}}, "Category is not supported"),
        ({"timezon": "UTC"}, "Extra inputs are not permitted"),
        ({"hours": {}, "workday_hours": None}, "set workday_hours"),
    ],
)
def test_spec_errors_say_what_to_write(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        office_spec(**changes)


def test_spec_accepts_the_documented_yaml_shape() -> None:
    spec = CalendarSpec.model_validate(
        {
            "title": {"zh-Hant": "管理處辦公時間", "en": "Management office hours"},
            "timezone": "Asia/Shanghai",
            "hours": {"mon": ["08:30-12:00", "13:30-17:30"], "sat": ["09:00-24:00"]},
            "holidays": {"country": "CN", "subdivision": None},
            "overrides": {
                "2026-10-10": "off",
                date(2026, 9, 28): "workday",
                "2026-12-24": ["09:00-12:00"],
            },
            "workday_hours": ["08:30-12:00", "13:30-17:30"],
            "published_through": "2026-12-31",
        }
    )
    assert spec.overrides[date(2026, 10, 10)] == "off"
    assert spec.published_through == date(2026, 12, 31)
    with pytest.raises(ValidationError, match="frozen"):
        spec.timezone = "UTC"  # type: ignore[misc]


def test_every_field_of_the_json_schema_is_described() -> None:
    schema = CalendarSpec.model_json_schema()
    objects = [schema, *schema.get("$defs", {}).values()]
    undescribed = [
        f"{obj.get('title')}.{name}"
        for obj in objects
        for name, prop_schema in obj.get("properties", {}).items()
        if not prop_schema.get("description")
    ]
    assert undescribed == []
    json.dumps(schema)


# ---------------------------------------------------------------------------------------
# Invariants
# ---------------------------------------------------------------------------------------


@prop
@given(calendars(), instant_groups(3))
def test_elapsed_never_decreases_and_never_exceeds_real_time(
    cal: Calendar, moments: list[datetime]
) -> None:
    a = moments[0]
    b1, b2 = sorted(moments[1:], key=utc)
    e1, e2 = cal.elapsed(a, b1), cal.elapsed(a, b2)
    assert timedelta(0) <= e1 <= e2
    assert e2 <= max(timedelta(0), utc(b2) - utc(a))
    # Working time splits at any point in between.
    if utc(a) <= utc(b1):
        assert cal.elapsed(a, b2) == e1 + cal.elapsed(b1, b2)


@prop
@given(calendars(), instants(), second_durations, second_durations)
def test_adding_working_time_is_associative(
    cal: Calendar, t: datetime, a: Duration, b: Duration
) -> None:
    assert utc(cal.add(cal.add(t, a), b)) == utc(cal.add(t, a + b))


@prop
@given(calendars(uniform=True), instants(), day_durations, day_durations)
def test_adding_working_days_is_associative_when_days_are_alike(
    cal: Calendar, t: datetime, a: Duration, b: Duration
) -> None:
    assert utc(cal.add(cal.add(t, a), b)) == utc(cal.add(t, a + b))


@prop
@given(calendars(), instants(), second_durations)
def test_elapsed_undoes_add(cal: Calendar, t: datetime, d: Duration) -> None:
    due = cal.add(t, d)
    assert cal.elapsed(t, due) == d.as_timedelta()
    assert due.tzinfo is t.tzinfo
    # Due the moment the time has elapsed: not a second later than needed.
    assert cal.elapsed(t, utc(due) - timedelta(microseconds=1)) < d.as_timedelta()


@prop
@given(
    calendars(),
    instant_groups(2),
    st.one_of(second_durations, day_durations, mixed_durations),
    st.booleans(),
)
def test_a_later_start_never_gives_an_earlier_due_time(
    cal: Calendar, moments: list[datetime], d: Duration, end_of_day: bool
) -> None:
    t1, t2 = sorted(moments, key=utc)
    due1 = cal.add(t1, d, end_of_working_day=end_of_day)
    due2 = cal.add(t2, d, end_of_working_day=end_of_day)
    assert utc(t1) < utc(due1) <= utc(due2)
    if end_of_day:
        assert utc(cal.add(t1, d)) <= utc(due1)


@prop
@given(calendars(), instants(), st.data(), st.booleans())
def test_a_longer_target_never_gives_an_earlier_due_time(
    cal: Calendar, t: datetime, data: st.DataObject, end_of_day: bool
) -> None:
    unit = data.draw(st.sampled_from([second_durations, day_durations]))
    d1, d2 = sorted((data.draw(unit), data.draw(unit)))
    assert utc(cal.add(t, d1, end_of_working_day=end_of_day)) <= utc(
        cal.add(t, d2, end_of_working_day=end_of_day)
    )


@prop
@given(
    calendar_specs(),
    instants(),
    st.one_of(second_durations, day_durations, mixed_durations),
    st.dates(min_value=date(2025, 11, 1), max_value=date(2027, 1, 31)),
    st.booleans(),
)
def test_a_holiday_never_makes_a_due_time_earlier(
    spec: CalendarSpec, t: datetime, d: Duration, holiday: date, end_of_day: bool
) -> None:
    with_holiday = spec.model_copy(update={"overrides": {**spec.overrides, holiday: "off"}})
    before = build_calendar("before", spec).add(t, d, end_of_working_day=end_of_day)
    after = build_calendar("after", with_holiday).add(t, d, end_of_working_day=end_of_day)
    assert utc(before) <= utc(after)


@prop
@given(calendars(), instant_groups(2))
def test_questions_agree_with_each_other(cal: Calendar, moments: list[datetime]) -> None:
    a, b = sorted(moments, key=utc)
    pieces = list(cal.working_intervals(a, b))
    assert sum((utc(end) - utc(start) for start, end in pieces), timedelta(0)) == cal.elapsed(a, b)
    for (_, end), (start, _) in itertools.pairwise(pieces):
        assert utc(end) < utc(start)  # merged: never touching
    for start, end in pieces:
        assert cal.is_working(start)
        assert not cal.is_working(end) or utc(end) == utc(b)
    nxt = cal.next_working(a)
    assert (utc(nxt) == utc(a)) == cal.is_working(a)
    assert cal.is_working(nxt)
    assert cal.elapsed(a, nxt) == timedelta(0)


round_the_clock_gmt = build_calendar(
    "gmt", CalendarSpec(timezone="Etc/GMT", hours=dict.fromkeys(WEEKDAYS, ("00:00-24:00",)))
)


@prop
@given(instants(), st.one_of(second_durations, day_durations, mixed_durations), st.booleans())
def test_always_agrees_with_the_general_walk(t: datetime, d: Duration, end_of_day: bool) -> None:
    # Etc/GMT is not recognised as UTC, so this calendar takes the general path.
    expected = round_the_clock_gmt.add(t, d, end_of_working_day=end_of_day)
    assert utc(ALWAYS.add(t, d, end_of_working_day=end_of_day)) == utc(expected)
    later = utc(t) + timedelta(hours=30)
    assert ALWAYS.elapsed(t, later) == round_the_clock_gmt.elapsed(t, later)


# ---------------------------------------------------------------------------------------
# Determinism, purity, speed
# ---------------------------------------------------------------------------------------

_FINGERPRINT = """
import json
from datetime import datetime, timedelta, timezone
from servflow.engine.calendar import CalendarSpec, build_calendar
from servflow.engine.durations import parse_duration
hours = {d: ["08:30-12:00", "13:30-17:30"] for d in ("mon", "tue", "wed", "thu", "fri")}
out = []
for zone in ("Asia/Shanghai", "Europe/London", "America/New_York"):
    cal = build_calendar("c", CalendarSpec(timezone=zone, hours=hours, holidays={"country": "CN"}))
    start = datetime(2026, 3, 27, 15, 0, tzinfo=timezone.utc)
    for text in ("3wd", "4h", "2wd 1h", "PT30M"):
        due = cal.add(start, parse_duration(text))
        eod = cal.add(start, parse_duration(text), end_of_working_day=True)
        out.append([due.isoformat(), eod.isoformat()])
    out.append(str(cal.elapsed(start, start + timedelta(days=9))))
    out.append(cal.is_working(start))
print(json.dumps(out))
"""


def _fingerprint() -> str:
    namespace: dict[str, object] = {}
    lines: list[str] = []
    namespace["print"] = lines.append
    exec(_FINGERPRINT, namespace)
    return lines[0]


def test_results_do_not_depend_on_the_host_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    results = set()
    try:
        for host_zone in ("America/New_York", "Asia/Tokyo", "Europe/London", "UTC"):
            monkeypatch.setenv("TZ", host_zone)
            time.tzset()
            results.add(_fingerprint())
    finally:
        monkeypatch.undo()
        time.tzset()
    assert len(results) == 1


def test_results_do_not_depend_on_the_host_time_zone_in_a_fresh_process() -> None:
    src = str(Path(calendar_module.__file__).resolve().parents[2])
    # A fresh interpreter whose zoneinfo and datetime never saw another zone (the test
    # above covers several zones in this process via time.tzset).
    env = {**os.environ, "TZ": "America/New_York", "PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, "-c", _FINGERPRINT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == _fingerprint()


FORBIDDEN_MODULES = {"os", "time", "threading", "random", "yaml", "sqlite3"}
CLOCK_READS = {"now", "today", "utcnow", "localtime", "gmtime"}


def test_the_calendar_module_does_no_io_and_reads_no_clock() -> None:
    tree = ast.parse(source_text(calendar_module))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported & FORBIDDEN_MODULES == set()
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert attributes & CLOCK_READS == set()


def test_adding_three_working_days_across_a_holiday_week_is_fast() -> None:
    start = sh(2026, 9, 30, 16, 0)
    three = Duration(working_days=3)
    OFFICE.add(start, three)  # the holiday table of 2026 is loaded once, then kept
    runs = 500
    per_call = timeit.timeit(lambda: OFFICE.add(start, three), number=runs) / runs
    assert per_call < 0.001


# ---------------------------------------------------------------------------------------
# The extended view: past published_through, provisionally
# ---------------------------------------------------------------------------------------


def test_the_extended_view_counts_past_the_published_schedule() -> None:
    extended = OFFICE.extended
    assert extended.extended is extended
    assert OFFICE.extended is extended
    assert extended.published_through == date(2026, 12, 31) + timedelta(days=1098)
    assert OFFICE.published_end == extended.published_end == utc(sh(2027, 1, 1))
    # 2027 with the statutory holidays only: New Year, the Spring Festival (eve on the 5th,
    # 6-10 February), no make-up Saturdays.
    assert not extended.is_working_day(date(2027, 1, 1))
    assert extended.is_working_day(date(2027, 1, 4))
    assert [
        d.day for d in (date(2027, 2, n) for n in range(4, 13)) if extended.is_working_day(d)
    ] == [
        4,
        11,
        12,
    ]
    assert utc(extended.add(sh(2026, 12, 31, 16, 0), Duration(working_days=2))) == utc(
        sh(2027, 1, 5, 16, 0)
    )
    # The view has a horizon of its own.
    with pytest.raises(CalendarError, match="not even a provisional answer"):
        extended.is_working(sh(2030, 1, 3, 10, 0))
    # A calendar without a limit is its own extension, and has no published end.
    unlimited = build_calendar("u", office_spec(published_through=None))
    assert unlimited.extended is unlimited
    assert unlimited.published_end is None


@prop
@given(instants(), st.one_of(second_durations, day_durations, mixed_durations), st.booleans())
def test_the_extended_view_agrees_within_the_published_schedule(
    t: datetime, d: Duration, end_of_day: bool
) -> None:
    """Where the calendar answers, its extension gives the same answer; where it refuses,
    the extension's answer lies past the published end (it is provisional)."""
    extended = OFFICE.extended
    try:
        published = OFFICE.add(t, d, end_of_working_day=end_of_day)
    except CalendarError:
        provisional = extended.add(t, d, end_of_working_day=end_of_day)
        assert OFFICE.published_end is not None
        assert utc(provisional) >= OFFICE.published_end or utc(t) >= OFFICE.published_end
    else:
        assert extended.add(t, d, end_of_working_day=end_of_day) == published
        assert extended.elapsed(t, published) == OFFICE.elapsed(t, published)


def test_whole_working_days_ending_on_the_last_published_day_are_answered() -> None:
    """From closing time, 7wd end at the close of 31 December: the published calendar
    answers without looking at 1 January (found by the property above)."""
    start = datetime(2026, 12, 22, 17, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    close = datetime(2026, 12, 31, 17, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert OFFICE.add(start, Duration(working_days=7)) == close
    assert OFFICE.extended.add(start, Duration(working_days=7)) == close
    with pytest.raises(CalendarError, match="beyond published_through"):
        OFFICE.add(start, Duration(working_days=8))
