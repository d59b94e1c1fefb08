"""Field values: checking an event's data against the field types, and their two forms.

A case stores every value in a canonical, JSON-native form, so that a case survives a
JSON round trip unchanged: decimals as strings (``"12.50"``), dates and datetimes as ISO
8601 text (datetimes always with their offset), lists as lists of strings. Expressions get
the *typed* form (``Decimal``, ``date``, ``datetime``) so that ``compensation <= 500``
compares numbers, not text.

Error messages never repeat the value of a field marked ``pii``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from servflow._hints import did_you_mean
from servflow.bounds import (
    DECIMAL_FRACTION_DIGITS,
    DECIMAL_INTEGER_DIGITS,
    INTEGER_LIMIT,
    LIST_ITEM_LENGTH,
    LIST_ITEMS,
    NUMBER_TEXT_LENGTH,
    TABLE_ROWS,
    TEXT_LENGTH,
    compile_pattern,
    date_problem,
    moment_problem,
    text_problem,
)
from servflow.model import FieldSpec

__all__ = ["CellValueError", "FieldValueError", "normalise", "typed_value"]


class FieldValueError(ValueError):
    """A value does not fit its field; the message is safe to show (no pii values)."""


class CellValueError(FieldValueError):
    """A row or a cell of a `table` does not fit: ``row`` (0-based) and ``column`` say where.

    ``where(field)`` is the place as an analyst writes it: ``items[2].amount``.
    """

    def __init__(self, message: str, row: int, column: str | None = None) -> None:
        place = f"row {row}" + (f", column {column!r}" if column else "")
        super().__init__(f"{place}: {message}")
        self.row, self.column = row, column

    def where(self, field: str) -> str:
        return f"{field}[{self.row}]" + (f".{self.column}" if self.column else "")


def _show(spec: FieldSpec, value: Any) -> str:
    return "the value" if spec.pii else repr(value)


def normalise(spec: FieldSpec, value: Any, *, match_pattern: bool = True) -> Any:
    """The canonical stored form of ``value`` for ``spec``; None clears the field.

    Raises :class:`FieldValueError` for a value of the wrong type or outside the bounds of
    ``docs/language.md`` (field types and bounds); the message never repeats a value of a
    ``pii`` field, nor any value too long to be worth repeating. ``match_pattern=False``
    skips the field's ``pattern`` (for a stored value, checked when it was given).
    """
    if value is None:
        return None
    kind = spec.type
    if kind in ("string", "text"):
        return _text(spec, value, match_pattern)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise FieldValueError(f"expected true or false, got {_kind(spec, value)}")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldValueError(f"expected a whole number, got {_kind(spec, value)}")
        if not -INTEGER_LIMIT <= value <= INTEGER_LIMIT:
            # Compared before anything prints it: an int of 5,000 digits cannot be printed.
            raise FieldValueError(
                f"a whole number between -{INTEGER_LIMIT:,} and {INTEGER_LIMIT:,} only"
            )
        _bounds(spec, int(value))
        return int(value)
    if kind == "decimal":
        number = _decimal(spec, value)
        _bounds(spec, number)
        return str(number)
    if kind == "choice":
        choices = spec.choices or ()  # a list, or a mapping of each value to its titles
        if not isinstance(value, str) or value not in choices:
            shown = ", ".join(_choice_shown(c, spec) for c in spec.choice_values)
            raise FieldValueError(
                f"{_kind(spec, value)} is not one of {shown}"
                + ("" if spec.pii or not isinstance(value, str) else _did_you_mean(spec, value))
            )
        # The definition's own text is stored (not a str subclass the caller passed).
        return str(value) if isinstance(choices, dict) else choices[choices.index(value)]
    if kind == "date":
        return _date(spec, value)
    if kind == "datetime":
        return _datetime(spec, value)
    if kind == "list":
        return _list(spec, value)
    if kind == "table":
        return _table(spec, value, match_pattern)
    raise FieldValueError(f"unknown field type {kind!r}")  # pragma: no cover - model forbids


def _choice_shown(value: str, spec: FieldSpec) -> str:
    """A choice for a message: its value, then its titles (every language the file gives,
    so that whoever reads the message finds the one they know): ``emergency (緊急 / Emergency)``."""
    titles = [t for t in dict.fromkeys(spec.choice_title(value).values()) if t and not t.isspace()]
    return f"{value} ({' / '.join(titles)})" if titles else value


def _did_you_mean(spec: FieldSpec, value: str) -> str:
    """Did you mean: the value whose title was given (``緊急``), else the nearest value."""
    for choice in spec.choice_values:
        if value in spec.choice_title(choice).values():
            return f"; did you mean {choice!r}? (the value, not its title)"
    return did_you_mean(value, spec.choice_values)


def _kind(spec: FieldSpec, value: Any) -> str:
    """The value for a message: its repr when short and not pii, else what it is."""
    if spec.pii:
        return "the value"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else f"a text of {len(value)} characters"
    if isinstance(value, bool | float | Decimal):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if -(10**18) < value < 10**18 else "a very large number"
    return type(value).__name__


def _text(spec: FieldSpec, value: Any, match_pattern: bool) -> str:
    if not isinstance(value, str):
        raise FieldValueError(f"expected text, got {type(value).__name__}")
    kind = spec.type
    limit = spec.max_length or (200 if kind == "string" else TEXT_LENGTH)
    if len(value) > limit:
        raise FieldValueError(f"longer than {limit} characters")
    if kind == "string" and ("\n" in value or "\r" in value):
        raise FieldValueError("a `string` is one line; use a `text` field for several")
    problem = text_problem(value)
    if problem is not None:
        raise FieldValueError(f"the text {problem}")
    if (
        match_pattern
        and spec.pattern is not None
        and compile_pattern(spec.pattern).fullmatch(value) is None
    ):
        raise FieldValueError(f"{_kind(spec, value)} does not match the pattern {spec.pattern!r}")
    return str(value)


def _decimal(spec: FieldSpec, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise FieldValueError(f"expected a number, got {_kind(spec, value)}")
    if isinstance(value, int) and not -INTEGER_LIMIT <= value <= INTEGER_LIMIT:
        raise FieldValueError(_DECIMAL_RANGE)
    text = value if isinstance(value, str) else str(value)
    if len(text) > NUMBER_TEXT_LENGTH:
        raise FieldValueError(f"expected a number of at most {NUMBER_TEXT_LENGTH} characters")
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise FieldValueError(f"expected a number, got {_kind(spec, value)}") from None
    if not number.is_finite():
        raise FieldValueError("expected a finite number")
    _sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    whole = len(digits) + exponent  # digits before the point (<= 0: none)
    if whole > DECIMAL_INTEGER_DIGITS or -exponent > DECIMAL_FRACTION_DIGITS:
        raise FieldValueError(_DECIMAL_RANGE)
    return number


_DECIMAL_RANGE = (
    f"a number of at most {DECIMAL_INTEGER_DIGITS} digits before the decimal point and "
    f"{DECIMAL_FRACTION_DIGITS} after it only"
)


def _date(spec: FieldSpec, value: Any) -> str:
    day: date | None = None
    if isinstance(value, datetime):
        raise FieldValueError("expected a date, got a date and time")
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None
    if day is None:
        raise FieldValueError(f"expected a date like 2026-10-01, got {_kind(spec, value)}")
    problem = date_problem(day)
    if problem is not None:
        raise FieldValueError(f"a date in {problem}")
    return day.isoformat()


def _datetime(spec: FieldSpec, value: Any) -> str:
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) <= 60:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None:
        raise FieldValueError(
            f"expected a date and time like 2026-10-01T09:30:00+08:00, got {_kind(spec, value)}"
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise FieldValueError("naive date and time: give its UTC offset, e.g. +08:00")
    problem = moment_problem(moment)
    if problem is not None:
        raise FieldValueError(f"a date and time in {problem}")
    # Stored with a fixed offset: what fromisoformat reads back is the same value.
    return moment.isoformat()


def _list(spec: FieldSpec, value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise FieldValueError("expected a list of texts")
    limit = spec.max_length if spec.max_length is not None else LIST_ITEMS
    if len(value) > limit:
        raise FieldValueError(f"more than {limit} items")
    for item in value:
        if len(item) > LIST_ITEM_LENGTH:
            raise FieldValueError(f"an item is longer than {LIST_ITEM_LENGTH} characters")
        problem = text_problem(item)
        if problem is not None or "\n" in item or "\r" in item:
            raise FieldValueError(f"an item {problem or 'is not one line'}")
    return [str(v) for v in value]


def _table(spec: FieldSpec, value: Any, match_pattern: bool) -> list[dict[str, Any]]:
    """Rows of cells, each cell in its column's stored form; every column in every row
    (an empty cell is None), in the order the columns are written."""
    columns = spec.columns or {}
    if not isinstance(value, list | tuple):
        raise FieldValueError("expected a table: a list of rows, each a mapping of columns")
    limit = spec.max_rows if spec.max_rows is not None else TABLE_ROWS
    if len(value) > limit:
        raise FieldValueError(f"more than {limit} rows")
    # A pii table's cells are all pii: no message shows one.
    specs = {
        name: column.as_field.model_copy(update={"pii": True})
        if spec.pii and not column.pii
        else column.as_field
        for name, column in columns.items()
    }
    rows: list[dict[str, Any]] = []
    for index, row in enumerate(value):
        if not isinstance(row, dict):
            raise CellValueError(
                f"expected a row: a mapping of columns, got {type(row).__name__}", index
            )
        for name in row:
            if not isinstance(name, str) or name not in columns:
                shown = repr(name) if isinstance(name, str) and len(name) <= 60 else "a key"
                hint = did_you_mean(name, columns) if isinstance(name, str) else ""
                raise CellValueError(
                    f"unknown column {shown} (the columns: {', '.join(columns)}){hint}", index
                )
        cells: dict[str, Any] = {}
        for name, cell in specs.items():
            try:
                cells[name] = normalise(cell, row.get(name), match_pattern=match_pattern)
            except FieldValueError as exc:
                raise CellValueError(str(exc), index, name) from None
        rows.append(cells)
    return rows


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
    if kind == "table" and isinstance(stored, list):
        columns = spec.columns or {}
        return [
            {name: typed_value(column.as_field, row.get(name)) for name, column in columns.items()}
            for row in stored
            if isinstance(row, dict)
        ]
    return stored
