"""The bounds of every value servflow accepts, in one place, and the checks that apply them.

A value the engine accepts must stay usable for the whole life of the case: it must
survive a JSON round trip, a store and a later load, and every computation the engine
does with it (a deadline added to a date, a decimal compared in a guard). Python's own
types reach further than that (an ``int`` of 5,000 digits cannot be parsed back from
JSON, a ``datetime`` in year 9999 overflows when a deadline is added to it, a lone
surrogate cannot be encoded as UTF-8), so the bounds below are narrower, and documented
in ``docs/language.md`` (field types and bounds) and ``docs/errors.md``.

Patterns are matched with RE2, which runs in time linear in the text: a pattern with
nested repetition (``^(a+)+$``) that makes a backtracking engine run for ever cannot
hang a check or an event. What RE2 cannot run in linear time (backreferences,
lookaround) it refuses to compile, so such a pattern is an error at load.

This module imports nothing else of servflow, so that the model and the engine can both
use it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import re2

__all__ = [
    "DECIMAL_FRACTION_DIGITS",
    "DECIMAL_INTEGER_DIGITS",
    "FIRST_YEAR",
    "ID_LENGTH",
    "INTEGER_LIMIT",
    "LAST_YEAR",
    "LIST_ITEMS",
    "LIST_ITEM_LENGTH",
    "NUMBER_TEXT_LENGTH",
    "PATTERN_LENGTH",
    "TABLE_COLUMNS",
    "TABLE_ROWS",
    "TEXT_LENGTH",
    "VERSION_LIMIT",
    "PatternError",
    "compile_pattern",
    "date_problem",
    "id_problem",
    "moment_problem",
    "text_problem",
]

INTEGER_LIMIT = 2**53 - 1
"""The largest magnitude of an ``integer`` value: every JSON reader holds it exactly."""

DECIMAL_INTEGER_DIGITS = 15
"""At most this many digits before the decimal point (amounts below 10^15)."""

DECIMAL_FRACTION_DIGITS = 12
"""At most this many digits after the decimal point."""

NUMBER_TEXT_LENGTH = 100
"""A decimal given as text is read only if it is at most this long."""

TEXT_LENGTH = 100_000
"""The longest ``text`` value (and the largest ``max_length`` a field may set)."""

LIST_ITEMS = 1_000
"""The most items a ``list`` value holds unless its ``max_length`` says fewer."""

LIST_ITEM_LENGTH = 200
"""The longest item of a ``list`` value."""

PATTERN_LENGTH = 1_000
"""The longest ``pattern`` a field may have."""

TABLE_ROWS = 1_000
"""The most rows a ``table`` value holds unless its ``max_rows`` says fewer."""

TABLE_COLUMNS = 50
"""The most columns a ``table`` field may have."""

FIRST_YEAR = 1900
LAST_YEAR = 2999
"""Dates, datetimes and event times lie in these years (UTC): a year outside them is a
typo (``20026``), and the margin up to year 9999 keeps deadline arithmetic from
overflowing."""

VERSION_LIMIT = 2**31 - 1
"""The largest procedure version, case version and event number (a 32-bit SQL integer)."""

ID_LENGTH = 255
"""The longest case id."""

# C0 control characters other than tab, line feed and carriage return, DEL, and the
# surrogate code points, which are not characters: UTF-8 (and so JSON text, PostgreSQL,
# any file) cannot hold a lone one.
_BAD_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class PatternError(ValueError):
    """A field ``pattern`` RE2 cannot compile, or one that is too long."""


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """The RE2 program of a field ``pattern``; raises :class:`PatternError`.

    RE2 has no backreferences and no lookaround (they are what makes matching
    exponential), and ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only: ``\\p{N}``,
    ``\\p{L}`` or ``\\p{Han}`` name characters of any script.
    """
    if len(pattern) > PATTERN_LENGTH:
        raise PatternError(f"a pattern is at most {PATTERN_LENGTH} characters")
    problem = text_problem(pattern)
    if problem is not None:
        raise PatternError(f"the pattern {problem}")
    options = re2.Options()
    options.log_errors = False  # the error comes back in the exception; nothing on stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "cannot be compiled"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        hint = ""
        if "perl operator" in str(reason) or "escape sequence" in str(reason):
            hint = (
                "; backreferences and lookaround are not supported (they can make "
                "matching take exponential time)"
            )
        raise PatternError(
            f"{pattern!r} is not a valid regular expression (RE2 syntax): {reason}{hint}"
        ) from None


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL, a control character, a lone surrogate), or None."""
    bad = _BAD_CHARACTER.search(text)
    if bad is None:
        return None
    code = ord(bad.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"holds a lone surrogate (U+{code:04X}), which no UTF-8 text can hold"
    return f"holds the control character U+{code:04X}"


def id_problem(case_id: object) -> str | None:
    """Why ``case_id`` cannot be a case id, or None: text, 1 to 255 characters, printable."""
    if not isinstance(case_id, str):
        return f"a case id is text, not {type(case_id).__name__}"
    if not case_id:
        return "a case id is not empty"
    if len(case_id) > ID_LENGTH:
        return f"a case id is at most {ID_LENGTH} characters"
    if "\n" in case_id or "\r" in case_id or "\t" in case_id:
        return "a case id is one line of text"
    problem = text_problem(case_id)
    return None if problem is None else f"the case id {problem}"


def date_problem(value: date) -> str | None:
    """Why a date is out of range, or None."""
    if FIRST_YEAR <= value.year <= LAST_YEAR:
        return None
    return f"years {FIRST_YEAR} to {LAST_YEAR} only"


def moment_problem(moment: datetime) -> str | None:
    """Why an aware datetime is out of range (in UTC), or None. Naive is the caller's check."""
    if FIRST_YEAR < moment.year < LAST_YEAR:
        return None  # an offset is less than a day: the year in UTC is in range too
    try:
        utc = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return f"years {FIRST_YEAR} to {LAST_YEAR} only"
    return date_problem(utc)
