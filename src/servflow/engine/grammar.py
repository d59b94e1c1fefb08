"""The closed grammar of expressions: what each construct means, and its bounds.

:mod:`servflow.engine.expr` reads an expression's text into jinja2's parse tree, and
:mod:`servflow.engine.closures` turns the nodes this grammar accepts into plain Python
closures; this module says what each operator, filter, test and method means and where
its results are bounded (the tables below, documented in ``docs/language.md``). Those
closures are the only evaluator: there is no second path (no rendering of a template),
so an expression has exactly one meaning.

The meaning is Python's, for the operators Python has (``a and b`` returns an operand,
``'a' in 'abc'`` is a substring test, ``1 < 'a'`` fails), with three kinds of exception:

* what could build a huge value is bounded: text results at :data:`MAX_TEXT` characters,
  lists at :data:`MAX_ITEMS` items (counted through nested lists), numbers below
  10^:data:`MAX_DIGITS`; the size of a result is computed *before* it is built;
* what Python does but a guard must not (``'%d' % x`` formatting, powers, attributes,
  indexing, calls other than the few text methods) is not in the grammar at all;
* filters, tests and methods have a stated domain: ``x | lower`` is for text, and on
  ``none`` it fails instead of reading "none".

An evaluation cannot loop: every node is evaluated at most once, and
:data:`MAX_NODES` bounds the nodes, so the steps of one evaluation are bounded by the
nodes times the largest value. Failure messages describe operations, names and kinds of
values (``text``, ``a number``, ``none``), never a value: a field may hold personal data.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any

from jinja2 import nodes

__all__ = [
    "ACTOR_ATTRIBUTES",
    "BINARY",
    "COMPARE",
    "FILTERS",
    "MAX_DIGITS",
    "MAX_ITEMS",
    "MAX_NODES",
    "MAX_TEXT",
    "METHODS",
    "NUMBER_LIMIT",
    "STEP_NAMES",
    "TESTS",
    "ExpressionSyntaxError",
    "Failure",
    "Fn",
    "Wrong",
    "bounded_number",
    "concat",
    "items_bound",
    "kind_of",
    "shown",
    "size_of",
]

# Bounds on results. Text at most as long as the longest `text` field, so that a filter
# applied to a field never fails for its size alone.
MAX_TEXT = 100_000
MAX_ITEMS = 10_000
MAX_DIGITS = 30
MAX_NODES = 500
NUMBER_LIMIT = 10**MAX_DIGITS

Fn = Callable[[Mapping[str, Any]], Any]

# The names that describe the step being taken rather than the case: who takes it and
# when. `actor.id` and `actor.roles` are the only dotted names (no attribute is ever
# read); the engine supplies all four as plain values of the scope.
ACTOR_ATTRIBUTES = ("id", "roles")
STEP_NAMES = frozenset({"actor.id", "actor.roles", "now", "today"})


class ExpressionSyntaxError(ValueError):
    """The expression is not in the language; ``offset`` is where, within the text (0-based).

    ``code`` is the diagnostic code ``servflow check`` reports: ``expression-syntax`` (it
    does not parse), ``expression-nesting`` (nested or long beyond the limits) or
    ``expression-unsupported`` (it parses, but uses something outside the closed grammar).
    """

    def __init__(self, message: str, offset: int | None, code: str = "expression-syntax") -> None:
        super().__init__(message)
        self.offset = offset
        self.code = code
        self.settled = False  # the reader has made sure no earlier problem is hidden


class Failure(Exception):
    """An evaluation failed; the message is safe to show (no values, only kinds and names)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Wrong(Exception):
    """A filter, test or method met a value outside its domain (the caller words it)."""


def kind_of(value: Any) -> str:
    """What kind of value this is, in an analyst's words, without showing it."""
    if value is None:
        return "none"
    if value is True or value is False:
        return "true/false"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, datetime):
        return "a date and time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, timedelta):
        return "a duration"
    if isinstance(value, Mapping):
        return "a record"
    return "a value"


def shown(value: Any, label: str | None) -> str:
    return f"{kind_of(value)} ({label})" if label else kind_of(value)


# -- bounds ----------------------------------------------------------------------------


def bounded_number(value: Any) -> Any:
    kind = type(value)
    if kind is int:
        if -NUMBER_LIMIT < value < NUMBER_LIMIT:
            return value
    elif kind is float:
        if math.isfinite(value) and -NUMBER_LIMIT < value < NUMBER_LIMIT:
            return value
    elif kind is Decimal:
        if value.is_finite() and -NUMBER_LIMIT < value < NUMBER_LIMIT:
            return value
    else:
        return value
    raise Failure(f"a number beyond {MAX_DIGITS} digits")


def size_of(value: list[Any] | tuple[Any, ...]) -> int:
    """Items in ``value``, nested lists counted through; stops counting past the bound."""
    total = 0
    todo: list[Any] = [value]
    while todo:
        for item in todo.pop():
            total += 1
            if isinstance(item, list | tuple):
                todo.append(item)
        if total > MAX_ITEMS:
            break
    return total


def _text_bound(length: int, what: str) -> None:
    if length > MAX_TEXT:
        raise Failure(f"the result of {what} would be longer than {MAX_TEXT:,} characters")


def items_bound(count: int, what: str) -> None:
    if count > MAX_ITEMS:
        raise Failure(f"the result of {what} would hold more than {MAX_ITEMS:,} items")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


# -- operators -------------------------------------------------------------------------


_SAME_NUMBER = frozenset({int, float, Decimal})


def _arith(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``op`` on numbers, bounded; two numbers of one kind take the short way."""

    def apply(a: Any, b: Any) -> Any:
        kind = type(a)
        if kind is type(b) and kind in _SAME_NUMBER:
            result = op(a, b)
            if -NUMBER_LIMIT < result < NUMBER_LIMIT:
                return result
        return bounded_number(op(a, b))

    return apply


def _add(a: Any, b: Any) -> Any:
    kind = type(a)
    if kind is type(b) and kind in _SAME_NUMBER:
        result = a + b
        if -NUMBER_LIMIT < result < NUMBER_LIMIT:
            return result
        return bounded_number(result)
    if isinstance(a, str) and isinstance(b, str):
        _text_bound(len(a) + len(b), "'+'")
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        items_bound(size_of(a) + size_of(b), "'+'")
    return bounded_number(a + b)


def _mul(a: Any, b: Any) -> Any:
    for seq, count in ((a, b), (b, a)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int):
            if isinstance(seq, str):
                _text_bound(len(seq) * count, "the repetition '*'")
            else:
                items_bound(size_of(seq) * count, "the repetition '*'")
    return bounded_number(a * b)


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, str):
        # Python's '%' on text is printf formatting, which can build text of any size.
        raise Failure("'%' is the remainder of a division; it does not format text")
    return bounded_number(a % b)


def concat(a: Any, b: Any) -> str:
    for side in (a, b):
        if not (isinstance(side, str) or _is_number(side)):
            raise Wrong
    left, right = str(a), str(b)
    _text_bound(len(left) + len(right), "'~'")
    return left + right


BINARY: dict[type[nodes.Node], tuple[str, Callable[[Any, Any], Any]]] = {
    nodes.Add: ("+", _add),
    nodes.Sub: ("-", _arith(operator.sub)),
    nodes.Mul: ("*", _mul),
    nodes.Div: ("/", _arith(operator.truediv)),
    nodes.FloorDiv: ("//", _arith(operator.floordiv)),
    nodes.Mod: ("%", _mod),
}

# operator's functions, not lambdas: a guard's comparison is its most frequent step.
COMPARE: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "eq": ("==", operator.eq),
    "ne": ("!=", operator.ne),
    "lt": ("<", operator.lt),
    "lteq": ("<=", operator.le),
    "gt": (">", operator.gt),
    "gteq": (">=", operator.ge),
    "in": ("in", lambda a, b: a in b),
    "notin": ("not in", lambda a, b: a not in b),
}


# -- filters, tests, methods -----------------------------------------------------------


def _abs(value: Any) -> Any:
    if not _is_number(value):
        raise Wrong
    return abs(value)


def _round(value: Any, precision: Any = 0) -> Any:
    if not _is_number(value):
        raise Wrong
    if type(precision) is not int or not 0 <= precision <= 10:
        raise Failure("filter 'round' takes a whole number of decimals from 0 to 10")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise Failure("filter 'round' met a number that is not finite")
    step = Decimal(1).scaleb(-precision)
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    rounded = bounded_number(exact).quantize(step, rounding=ROUND_HALF_UP)
    return rounded if isinstance(value, Decimal) else float(rounded)


_WHOLE = re.compile(r"[+-]?[0-9]+")


def _int(value: Any) -> int:
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_DIGITS or not _WHOLE.fullmatch(text):
            raise Failure(
                f"filter 'int' needs text that is a whole number of at most {MAX_DIGITS} digits"
            )
        return int(text)
    if not _is_number(value):
        raise Wrong
    if not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
        raise Failure("filter 'int' met a number that is not finite")
    return int(bounded_number(value))


def _items(value: Any, attribute: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise Wrong
    if attribute is None:
        return list(value)
    if not isinstance(attribute, str):
        raise Failure("'attribute=' names a field of the items, as text")
    picked = []
    for item in value:
        if not isinstance(item, Mapping) or attribute not in item:
            raise Failure(f"an item has no {attribute!r}")
        picked.append(item[attribute])
    return picked


def _extreme(pick: Callable[[list[Any]], Any], name: str) -> Callable[..., Any]:
    def apply(value: Any, attribute: Any = None) -> Any:
        items = _items(value, attribute)
        if not items:
            raise Failure(f"filter {name!r} of an empty list")
        try:
            return pick(items)
        except TypeError:
            raise Failure(f"filter {name!r}: the items cannot be compared") from None

    return apply


# Decimals are summed exactly: the default context keeps 28 digits, and a column of 15
# digits before the point and 12 after it (the bounds of a `decimal`) needs more. With
# more digits than any sum of bounded items can have, an inexact sum is an error.
_EXACT = Context(prec=120, traps=[Inexact, InvalidOperation, Overflow])


def _sum(value: Any, attribute: Any = None) -> Any:
    items = _items(value, attribute)
    if not all(_is_number(i) for i in items):
        raise Failure("filter 'sum' adds numbers; an item is not a number")
    if not any(type(i) is Decimal for i in items):
        return bounded_number(sum(items))
    if any(type(i) is float for i in items):
        raise Failure("filter 'sum' does not add exact decimals to fractions written as floats")
    try:
        with localcontext(_EXACT):
            total = sum(items, Decimal(0))
    except (Inexact, InvalidOperation, Overflow):
        raise Failure(f"a number beyond {MAX_DIGITS} digits") from None
    return bounded_number(total)


def _end(index: int, name: str) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if not isinstance(value, str | list | tuple):
            raise Wrong
        if not value:
            raise Failure(
                f"filter {name!r} of an empty {'text' if isinstance(value, str) else 'list'}"
            )
        return value[index]

    return apply


def _join(value: Any, separator: Any = "", attribute: Any = None) -> str:
    items = _items(value, attribute)
    if not isinstance(separator, str) or not all(isinstance(i, str) for i in items):
        raise Failure("filter 'join' joins text with text; an item or the separator is not text")
    _text_bound(sum(map(len, items)) + len(separator) * max(0, len(items) - 1), "'join'")
    return separator.join(items)


class Filter:
    """A filter: its function, the domain it states, and the arguments it takes."""

    def __init__(
        self,
        fn: Callable[..., Any],
        domain: str,
        params: tuple[str, ...] = (),
        keywords: frozenset[str] = frozenset(),
    ) -> None:
        self.fn, self.domain, self.params, self.keywords = fn, domain, params, keywords


_ATTR = frozenset({"attribute"})
FILTERS: dict[str, Filter] = {
    # Python's own functions where they already refuse every other kind of value (a
    # TypeError, worded by the caller): the frequent `x | length` stays one C call.
    "length": Filter(len, "text or a list"),
    "count": Filter(len, "text or a list"),
    "lower": Filter(str.lower, "text"),
    "upper": Filter(str.upper, "text"),
    "trim": Filter(str.strip, "text"),
    "abs": Filter(_abs, "numbers"),
    "round": Filter(_round, "numbers", ("precision",), frozenset({"precision"})),
    "int": Filter(_int, "numbers and text"),
    "min": Filter(_extreme(min, "min"), "a list", (), _ATTR),
    "max": Filter(_extreme(max, "max"), "a list", (), _ATTR),
    "sum": Filter(_sum, "a list", (), _ATTR),
    "first": Filter(_end(0, "first"), "text or a list"),
    "last": Filter(_end(-1, "last"), "text or a list"),
    "join": Filter(_join, "a list", ("separator",), _ATTR),
}


def _whole(fn: Callable[..., bool]) -> Callable[..., bool]:
    def apply(value: Any, *args: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Wrong
        return fn(value, *args)

    return apply


def _divisible(value: int, by: Any) -> bool:
    if isinstance(by, bool) or not isinstance(by, int) or by == 0:
        raise Failure("test 'divisibleby' needs a whole number other than 0")
    return value % by == 0


# name -> (function, number of arguments)
TESTS: dict[str, tuple[Callable[..., bool], int]] = {
    "none": (lambda v: v is None, 0),
    # Every name an expression may read is defined (an empty field is none): these two
    # exist for authors used to templates, and their answer never depends on the case.
    "defined": (lambda v: True, 0),
    "undefined": (lambda v: False, 0),
    "true": (lambda v: v is True, 0),
    "false": (lambda v: v is False, 0),
    "boolean": (lambda v: v is True or v is False, 0),
    "string": (lambda v: isinstance(v, str), 0),
    "number": (_is_number, 0),
    "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool), 0),
    "float": (lambda v: isinstance(v, float), 0),
    "even": (_whole(lambda v: v % 2 == 0), 0),
    "odd": (_whole(lambda v: v % 2 == 1), 0),
    "divisibleby": (_whole(_divisible), 1),
}


def _affix(fn: Callable[[str, Any], bool]) -> Callable[[str, Any], bool]:
    def apply(text: str, affix: Any) -> bool:
        if isinstance(affix, list):
            affix = tuple(affix)
        if not (
            isinstance(affix, str)
            or (isinstance(affix, tuple) and all(isinstance(a, str) for a in affix))
        ):
            raise Failure("startswith/endswith take text, or a list of texts")
        return fn(text, affix)

    return apply


# name -> (function on a text receiver, number of arguments)
METHODS: dict[str, tuple[Callable[..., Any], int]] = {
    "startswith": (_affix(str.startswith), 1),
    "endswith": (_affix(str.endswith), 1),
    "lower": (str.lower, 0),
    "upper": (str.upper, 0),
    "strip": (str.strip, 0),
}
