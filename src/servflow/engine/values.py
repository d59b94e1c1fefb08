"""Field values: checking an event's data against the field types, and their two forms.

A case stores every value in a canonical, JSON-native form, so that a case survives a
JSON round trip unchanged: decimals as strings (``"12.50"``), dates and datetimes as ISO
8601 text (datetimes always with their offset), lists as lists of strings. Expressions get
the *typed* form (``Decimal``, ``date``, ``datetime``) so that ``compensation <= 500``
compares numbers, not text.

Error messages never repeat the value of a field marked ``pii``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from servflow._hints import did_you_mean
from servflow.model import FieldSpec

__all__ = ["FieldValueError", "normalise", "typed_value"]

_MAX_TEXT = 100_000


class FieldValueError(ValueError):
    """A value does not fit its field; the message is safe to show (no pii values)."""


@lru_cache(maxsize=512)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _show(spec: FieldSpec, value: Any) -> str:
    return "the value" if spec.pii else repr(value)


def normalise(spec: FieldSpec, value: Any) -> Any:
    """The canonical stored form of ``value`` for ``spec``; None clears the field."""
    if value is None:
        return None
    kind = spec.type
    if kind in ("string", "text"):
        if not isinstance(value, str):
            raise FieldValueError(f"expected text, got {type(value).__name__}")
        limit = spec.max_length or (200 if kind == "string" else _MAX_TEXT)
        if len(value) > limit:
            raise FieldValueError(f"longer than {limit} characters")
        if kind == "string" and ("\n" in value or "\r" in value):
            raise FieldValueError("a `string` is one line; use a `text` field for several")
        if spec.pattern is not None and not _pattern(spec.pattern).fullmatch(value):
            raise FieldValueError(
                f"{_show(spec, value)} does not match the pattern {spec.pattern!r}"
            )
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise FieldValueError(f"expected true or false, got {_show(spec, value)}")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldValueError(f"expected a whole number, got {_show(spec, value)}")
        _bounds(spec, value)
        return value
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise FieldValueError(f"expected a number, got {_show(spec, value)}")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise FieldValueError(f"expected a number, got {_show(spec, value)}") from None
        if not number.is_finite():
            raise FieldValueError("expected a finite number")
        _bounds(spec, number)
        return str(number)
    if kind == "choice":
        choices = spec.choices or []
        if value not in choices:
            raise FieldValueError(
                f"{_show(spec, value)} is not one of {', '.join(choices)}"
                + ("" if spec.pii else did_you_mean(value, choices))
            )
        return value
    if kind == "date":
        if isinstance(value, datetime):
            raise FieldValueError("expected a date, got a date and time")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, str):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise FieldValueError(f"expected a date like 2026-10-01, got {_show(spec, value)}")
    if kind == "datetime":
        moment: datetime | None = None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                moment = None
        if moment is None:
            raise FieldValueError(
                f"expected a date and time like 2026-10-01T09:30:00+08:00, got {_show(spec, value)}"
            )
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise FieldValueError("naive date and time: give its UTC offset, e.g. +08:00")
        return moment.isoformat()
    if kind == "list":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise FieldValueError("expected a list of texts")
        if spec.max_length is not None and len(value) > spec.max_length:
            raise FieldValueError(f"more than {spec.max_length} items")
        return list(value)
    raise FieldValueError(f"unknown field type {kind!r}")  # pragma: no cover - model forbids


def _bounds(spec: FieldSpec, number: int | Decimal) -> None:
    if spec.minimum is not None and number < Decimal(str(spec.minimum)):
        raise FieldValueError(f"{_show(spec, number)} is below the minimum {spec.minimum:g}")
    if spec.maximum is not None and number > Decimal(str(spec.maximum)):
        raise FieldValueError(f"{_show(spec, number)} is above the maximum {spec.maximum:g}")


def typed_value(spec: FieldSpec, stored: Any) -> Any:
    """The form expressions see: Decimal, date and datetime objects; the rest as stored."""
    if stored is None:
        return None
    kind = spec.type
    if kind == "decimal":
        return Decimal(str(stored))
    if kind == "date" and isinstance(stored, str):
        return date.fromisoformat(stored)
    if kind == "datetime" and isinstance(stored, str):
        return datetime.fromisoformat(stored)
    return stored
