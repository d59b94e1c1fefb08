"""The procedure model's strict scalar types: a key takes only a value of its type.

pydantic's lax mode reads ``version: true`` as version 1, ``version: '1'`` and
``version: 1.0`` as 1, and ``final: "on"`` or ``pii: "yes"`` as true: a file that wrote
them meant something the model would silently change. The YAML reader
(:mod:`servflow.procedures.source`) already gives real ints and bools, so the model's
whole-number, boolean and number keys check the Python type before pydantic converts
anything, and refuse the rest as ``wrong-type`` with a message that says what was
written and, when the text was only quoted, to write it without quotes. The same types
hold for a procedure built in Python.

``WarnAt`` refuses, with :func:`percent_form_problem`, a percentage the engine could not
hold as written: one with a third decimal (rounded away when stored in hundredths) or not
written in digits. :meth:`servflow.engine.limits.Percent.parse` calls the same function
before it checks the range, so the whole rule for a ``warn_at`` entry is that one call.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

__all__ = [
    "TrueOrFalse",
    "WarnAt",
    "WholeNumber",
    "number",
    "percent_form_problem",
    "whole_number",
]


def _written(value: Any) -> str:
    """A wrongly typed value as the file wrote it, for a message (short, never huge)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, int):
        return f"the number {value}" if abs(value) < 10**18 else "a very large number"
    if isinstance(value, float):
        return f"the number {value!r}"
    return f"a {type(value).__name__}" if value is not None else "null"


def _wrong_type(expected: str, value: Any, *, meant: str = "") -> PydanticCustomError:
    """``meant``: the hint for text that reads as the expected type ('1' for a number)."""
    hint = f"; {meant}" if isinstance(value, str) and meant else ""
    return PydanticCustomError(
        "wrong_type", "{message}", {"message": f"expected {expected}, got {_written(value)}{hint}"}
    )


# Text that a YAML reader would have read as a number or a boolean had it not been quoted.
_NUMBER_TEXT = re.compile(r"\s*[+-]?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?\s*", re.ASCII)
_UNQUOTE = "write it without quotes"


def whole_number(value: Any) -> Any:
    # pydantic's lax int takes true, 1.0 and "1"; a file that wrote them meant something else.
    if isinstance(value, bool) or not isinstance(value, int):
        quoted = isinstance(value, str) and _NUMBER_TEXT.fullmatch(value) is not None
        raise _wrong_type("a whole number", value, meant=_UNQUOTE * quoted)
    return value


def _true_or_false(value: Any) -> Any:
    # pydantic's lax bool takes 1, "on" and "yes"; only true and false say what they mean.
    if not isinstance(value, bool):
        quoted = isinstance(value, str) and value.strip().lower() in ("true", "false")
        raise _wrong_type(
            "true or false", value, meant=_UNQUOTE if quoted else "write true or false"
        )
    return value


def number(value: Any) -> Any:
    # A Decimal is a number a host may build a field with; pydantic makes it a float.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        quoted = isinstance(value, str) and _NUMBER_TEXT.fullmatch(value) is not None
        raise _wrong_type("a number", value, meant=_UNQUOTE * quoted)
    return value


#: The model's int and bool keys take only what a YAML reader gives for them:
#: ``version: true``, ``version: '1'``, ``final: 1`` or ``pii: "yes"`` are `wrong-type`.
WholeNumber = Annotated[int, BeforeValidator(whole_number)]
TrueOrFalse = Annotated[bool, BeforeValidator(_true_or_false)]


# A warning is placed and stored to a hundredth of a percent (hundredths are what a case
# records), so a third decimal would be rounded away, and 99.999% would become 100%.
_FINE_PERCENT = re.compile(r"\s*[0-9]+\.[0-9]{3,}\s*%\s*", re.ASCII)
_DIGITS = frozenset("0123456789.")


def _not_in_digits(value: str) -> bool:
    """A percentage Percent.parse would call out of range though it is not written in
    digits (``1e-9%``, ``1,5%``). A loop, not a regex: the text may be long."""
    text = value.strip().lstrip("+-")  # -5% is out of range, not odd
    if "%" not in text:
        return False
    number, sign = text[:-1].rstrip(), text[-1]
    return sign != "%" or any(c not in _DIGITS for c in number)


def percent_form_problem(value: str) -> str | None:
    """Why ``value`` is not written as a ``warn_at`` percentage can be (a third decimal,
    or not in digits), or None; the range (0% to 100%) is checked by
    :meth:`servflow.engine.limits.Percent.parse`, which
    calls this first, so the whole rule is one call."""
    shown = value if len(value) <= 40 else value[:37] + "..."
    if _FINE_PERCENT.fullmatch(value):
        return (
            f"warning {shown!r} has more than two decimals: warnings are placed to a "
            "hundredth of a percent, e.g. 99.99%"
        )
    if _not_in_digits(value):
        return f"warning {shown!r} is not a percentage in digits: write e.g. 80% or 12.5%"
    return None


def _to_hundredths(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    message = percent_form_problem(value)
    if message is None:
        return value
    raise PydanticCustomError("bad_percentage", "{message}", {"message": message})


#: One ``warn_at`` entry; the rest of its rule (``%``, between 0 and 100) is Percent.parse.
WarnAt = Annotated[str, AfterValidator(_to_hundredths)]
