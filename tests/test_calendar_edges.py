"""A calendar asked about the first and last dates Python can hold answers CalendarError.

The engine refuses event times outside the years it accepts before a calendar is asked
(tests/hostile/calendars.yaml); these are the calendar's own answers when it is used
directly, as a host's scheduler or a report may.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from servflow import CalendarError
from servflow.engine.calendar import ALWAYS
from servflow.engine.durations import parse_duration

LAST = datetime(9999, 12, 31, 10, 0, tzinfo=UTC)
FIRST = datetime(1, 1, 1, 10, 0, tzinfo=UTC)
EDGE = "the computation runs past the dates servflow can count (years 1-9999)"


@pytest.mark.parametrize("limit", ["14h", "720h", "2wd"])
def test_adding_past_the_last_date_is_a_calendar_error(limit: str) -> None:
    with pytest.raises(CalendarError) as caught:
        ALWAYS.add(LAST, parse_duration(limit))
    assert caught.value.calendar == "always"


def test_an_hour_before_the_end_is_still_an_answer() -> None:
    assert ALWAYS.add(LAST, parse_duration("1h")) == LAST + timedelta(hours=1)


def test_counting_from_the_first_date() -> None:
    assert ALWAYS.elapsed(FIRST, FIRST + timedelta(hours=1)) == timedelta(hours=1)


def test_counting_from_before_the_first_date_is_a_calendar_error() -> None:
    # Midnight of 1 January of year 1 in UTC+8 is in year 0 in UTC.
    before = datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=8)))
    with pytest.raises(CalendarError, match=re.escape(EDGE)):
        ALWAYS.elapsed(before, FIRST)
