"""Durations: what procedure files may write as a time limit, and what they may not."""

from __future__ import annotations

import ast
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import servflow.engine.durations as durations_module
from servflow.engine.durations import Duration, parse_duration
from tests.sources import source_text
from tests.strategies_time import day_durations, mixed_durations, second_durations

prop = settings(deadline=None, max_examples=100)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", Duration(1800)),
        ("45s", Duration(45)),
        ("4h", Duration(4 * 3600)),
        ("1h30m", Duration(5400)),
        ("1h 30m", Duration(5400)),
        ("30m1h", Duration(5400)),
        (" 15m ", Duration(900)),
        ("48h", Duration(48 * 3600)),
        ("2wd", Duration(working_days=2)),
        ("2 wd", Duration(working_days=2)),
        ("1 working day", Duration(working_days=1)),
        ("2 working days", Duration(working_days=2)),
        ("2 Working Days", Duration(working_days=2)),
        ("2wd 4h", Duration(4 * 3600, 2)),
        ("PT30M", Duration(1800)),
        ("PT1H30M", Duration(5400)),
        ("PT45S", Duration(45)),
        ("PT48H", Duration(48 * 3600)),
        ("pt2h", Duration(7200)),
        ("PT0H30M", Duration(1800)),
    ],
)
def test_accepted_forms(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3x", "bad duration '3x': write e.g. 30m, 4h, 2wd or PT30M"),
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("30", "write e.g. 30m"),
        ("1.5h", "write e.g. 30m"),
        ("+30m", "write e.g. 30m"),
        ("30 minutes", "write e.g. 30m"),
        ("3d", "'d' is ambiguous .* write 3wd for working days or 72h"),
        ("2 days", "'days' is ambiguous .* write 2wd for working days or 48h"),
        ("1 day", "'day' is ambiguous"),
        ("P2D", "ISO 8601 years, months, weeks and days .* e.g. 2wd, or .* PT48H"),
        ("P1DT2H", "ISO 8601 years, months, weeks and days"),
        ("P1W", "ISO 8601 years, months, weeks and days"),
        ("P1M", "ISO 8601 years, months, weeks and days"),
        ("PT", "write e.g. 30m"),
        ("P", "write e.g. 30m"),
        ("PT1.5H", "write e.g. 30m"),
        ("PT30M1H", "write e.g. 30m"),
        ("0m", "must be positive"),
        ("0wd", "must be positive"),
        ("PT0S", "must be positive"),
        ("-30m", "must be positive"),
        ("1h1h", "unit 'h' appears twice"),
        ("2wd 1 working day", "unit 'wd' appears twice"),
        ("٣h", "write e.g. 30m"),  # digits outside ASCII are not digits here
    ],
)
def test_refused_forms_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_not_text_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="a duration is text"):
        parse_duration(30)  # type: ignore[arg-type]


def test_canonical_text() -> None:
    assert str(Duration(5400)) == "1h30m"
    assert str(Duration(90061)) == "25h1m1s"
    assert str(Duration(working_days=2)) == "2wd"
    assert str(Duration(3600, 2)) == "2wd 1h"
    assert str(Duration()) == "0s"


def test_construction_is_checked() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        Duration(-1)
    with pytest.raises(ValueError, match="must not be negative"):
        Duration(working_days=-1)
    with pytest.raises(TypeError, match="must be an int"):
        Duration(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an int"):
        Duration(True)
    assert Duration.of(hours=1, minutes=30, seconds=5) == Duration(5405)
    assert Duration(90).as_timedelta() == timedelta(seconds=90)
    with pytest.raises(ValueError, match="counted in working days"):
        Duration(working_days=1).as_timedelta()


def test_units_do_not_compare_across() -> None:
    assert Duration(1800) < Duration(3600)
    assert Duration(working_days=1) < Duration(working_days=2)
    assert Duration() <= Duration(working_days=1)
    assert Duration() <= Duration(1)
    with pytest.raises(TypeError, match="different units"):
        assert Duration(3600) < Duration(working_days=1)
    with pytest.raises(TypeError, match="mixes working days and working time"):
        assert Duration(3600, 1) < Duration(3600, 2)
    assert Duration(3600, 1) == Duration(3600, 1)  # equality is always defined
    assert Duration(3600) != Duration(working_days=1)
    assert len({Duration(60), Duration(60), Duration(working_days=1)}) == 2


@prop
@given(st.one_of(second_durations, day_durations, mixed_durations))
def test_canonical_text_parses_back(d: Duration) -> None:
    assert parse_duration(str(d)) == d


@prop
@given(second_durations)
def test_iso_form_parses_to_the_same_value(d: Duration) -> None:
    hours, rest = divmod(d.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    assert parse_duration(f"PT{hours}H{minutes}M{seconds}S") == d


@prop
@given(mixed_durations, mixed_durations, mixed_durations)
def test_addition_is_associative_and_commutative(a: Duration, b: Duration, c: Duration) -> None:
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a
    assert a + Duration() == a


@prop
@given(st.sampled_from([second_durations, day_durations]).flatmap(lambda s: st.tuples(s, s, s)))
def test_order_within_a_unit_is_total_and_agrees_with_addition(
    values: tuple[Duration, Duration, Duration],
) -> None:
    a, b, c = values
    assert (a <= b) or (b <= a)
    assert (a < b) == (not a >= b)
    assert (a > b) == (b < a)
    if a <= b:
        assert a + c <= b + c
    assert a < a + c


@prop
@given(st.text(max_size=12))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    refusal: ValueError | None = None
    try:
        result = parse_duration(text)
    except ValueError as error:
        refusal = error
    if refusal is not None:
        assert str(refusal).startswith("bad duration ")
    else:
        assert not result.is_zero


def test_the_durations_module_does_no_io_and_reads_no_clock() -> None:
    tree = ast.parse(source_text(durations_module))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "re", "dataclasses", "datetime"}


@prop
@given(a=mixed_durations, b=st.one_of(mixed_durations, second_durations, day_durations))
def test_equality_and_hashing_follow_the_parts(a: Duration, b: Duration) -> None:
    same = (a.seconds, a.working_days) == (b.seconds, b.working_days)
    assert (a == b) is same
    assert (a != b) is not same
    if same:
        assert hash(a) == hash(b)
    assert Duration(a.seconds, a.working_days) == a
    assert a != (a.seconds, a.working_days)
    assert a != a.seconds
