"""Hypothesis strategies for hostile arguments: what a careless or malicious caller passes.

Values of every Python type servflow could be handed, at the edges of their ranges (ints
of thousands of digits, datetimes in year 1 and 9999, NaN, lone surrogates, NUL), and
tampered cases: a valid case's JSON form with one key replaced by such a value.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from servflow import Actor

TZ = ZoneInfo("Asia/Shanghai")
EDGE_ZONES = st.sampled_from(
    [UTC, TZ, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12, minutes=-59))]
)

#: Text with anything in it: NUL, control characters, lone surrogates, far planes.
hostile_text = st.one_of(
    st.text(st.characters(codec=None, blacklist_categories=()), max_size=30),
    st.sampled_from(["", "\x00", "a\x00b", "\ud800", "a\udfffb", "\n", "Ⅻ", "١٢"]),
    st.just("a" * 31 + "!"),
    # Long texts are built by map, so that a failing example prints a formula, not them.
    st.sampled_from([201, 256, 300, 100_001]).map(lambda n: "x" * n),
)

hostile_int = st.one_of(
    st.integers(),
    st.sampled_from([2**31, -(2**31) - 1, 2**53, 2**63, -(2**63) - 1]),
    # Built by map: hypothesis prints the elements of sampled_from, and an int of more
    # than 4,300 digits cannot be printed.
    st.sampled_from([4300, 5000, -5000]).map(lambda d: 10 ** abs(d) * (1 if d > 0 else -1)),
)

hostile_decimal = st.one_of(
    st.decimals(),
    st.sampled_from(
        [
            Decimal("1e999999"),
            Decimal("-1e-999999"),
            Decimal("NaN"),
            Decimal("sNaN"),
            Decimal("Infinity"),
            Decimal("1" * 40),
            Decimal("0." + "1" * 40),
        ]
    ),
)

hostile_float = st.one_of(
    st.floats(), st.sampled_from([math.inf, -math.inf, math.nan, 1e308, 5e-324])
)

hostile_datetime = st.one_of(
    st.datetimes(timezones=st.one_of(st.none(), EDGE_ZONES, st.timezones())),
    st.sampled_from(
        [
            datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=8))),
            datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
            datetime(1899, 12, 31, 23, tzinfo=UTC),
            datetime(3000, 1, 1, tzinfo=UTC),
            datetime(2999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
        ]
    ),
)

hostile_date = st.one_of(
    st.dates(), st.sampled_from([date(1, 1, 1), date(9999, 12, 31), date(1899, 12, 31)])
)


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        hostile_int,
        hostile_float,
        hostile_decimal,
        hostile_text,
        hostile_date,
        hostile_datetime,
        st.timedeltas(),
        st.just(5000).map(lambda n: "9" * n),
        st.binary(max_size=10),
        st.builds(object),
        st.sampled_from(
            [
                "2026-10-01",
                "2026-10-01T09:30:00+08:00",
                "0001-01-01T00:00:00+08:00",
                "9999-12-31T23:59:59-05:00",
                "12.50",
                "1e999999",
                "NaN",
                "0x10",
                "a",
                "b",
            ]
        ),
    )


#: Any value at all, nested a little.
hostile_value: st.SearchStrategy[Any] = st.recursive(
    _scalars(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
    ),
    max_leaves=8,
)

#: What a JSON document can hold (for tampering with a case's JSON form).
json_value: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        hostile_int,
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text,
        st.sampled_from(
            [
                "2026-11-23T09:00:00+08:00",
                "0001-01-01T00:00:00+08:00",
                "9999-12-31T23:59:59-05:00",
                "warn:5000",
                "step:7",
                "step:x",
                "breach",
                "running",
                "paused",
                "stopped",
                "open",
                "nowhere",
                "always",
            ]
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)

hostile_actor = st.one_of(
    st.builds(
        Actor,
        id=st.sampled_from(["u1", "clerk", "boss"]),
        roles=st.frozensets(st.sampled_from(["clerk", "boss", "repair_reception", "x"])),
    ),
    hostile_value,
)

hostile_at = st.one_of(hostile_datetime, hostile_value)
