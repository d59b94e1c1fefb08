"""Hypothesis strategies for expressions: the whole grammar, with its meaning in Python.

``pairs`` draws an expression's text together with a plain Python function that computes
what the language documents for it (``docs/language.md``): Python's operators, and for
each filter, test and method its stated domain. No ``eval``: the reference is built from
Python's own operators as the text is drawn. ``texts`` draws text only, deeper, wider
and with large literals, for the properties that only ask "bounded, and documented
errors only".
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import strategies as st

Ref = Callable[[Mapping[str, Any]], Any]
Pair = tuple[str, Ref]

NAMES = ("x", "w", "z")

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.decimals(min_value=-5, max_value=5, places=1, allow_nan=False),
    st.sampled_from([0.5, -2.0]),
    st.sampled_from(["a", "b", "ab", "", "A b ", "5"]),
    st.lists(st.sampled_from(["a", "b"]), max_size=3),
    st.sampled_from([date(2026, 1, 1), date(2026, 6, 30)]),
)


def _number(v: Any) -> bool:
    return isinstance(v, int | float | Decimal) and not isinstance(v, bool)


def _need(ok: bool) -> None:
    if not ok:
        raise TypeError("outside the documented domain")


def _seq(v: Any) -> Any:
    _need(isinstance(v, list | tuple))
    return v


def _round(v: Any) -> Any:
    _need(_number(v))
    if isinstance(v, int):
        return v
    exact = v if isinstance(v, Decimal) else Decimal(repr(v))
    out = exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return out if isinstance(v, Decimal) else float(out)


def _int(v: Any) -> int:
    if isinstance(v, str):
        return int(v.strip())  # ValueError for text that is no whole number
    _need(_number(v))
    return int(v)


def _whole(v: Any) -> int:
    _need(isinstance(v, int) and not isinstance(v, bool))
    return int(v)


def _mod(a: Any, b: Any) -> Any:
    _need(not isinstance(a, str))  # no printf formatting
    return a % b


def _concat(a: Any, b: Any) -> str:
    _need((isinstance(a, str) or _number(a)) and (isinstance(b, str) or _number(b)))
    return str(a) + str(b)


def _sized(v: Any) -> int:
    _need(isinstance(v, str | list | tuple))
    return len(v)


def _text(v: Any) -> str:
    _need(isinstance(v, str))
    return v


FILTERS: dict[str, Callable[[Any], Any]] = {
    "length": _sized,
    "count": _sized,
    "lower": lambda v: _text(v).lower(),
    "upper": lambda v: _text(v).upper(),
    "trim": lambda v: _text(v).strip(),
    "abs": lambda v: abs(v) if _number(v) else _need(False),
    "round": _round,
    "int": _int,
    "min": lambda v: min(_seq(v)),
    "max": lambda v: max(_seq(v)),
    "sum": lambda v: sum(_seq(v)) if all(_number(i) for i in v) else _need(False),
    "first": lambda v: (v if isinstance(v, str) else _seq(v))[0],
    "last": lambda v: (v if isinstance(v, str) else _seq(v))[-1],
    "join": lambda v: "".join(_seq(v)),
}
TESTS: dict[str, Callable[[Any], bool]] = {
    "none": lambda v: v is None,
    "defined": lambda v: True,
    "undefined": lambda v: False,
    "true": lambda v: v is True,
    "false": lambda v: v is False,
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "number": _number,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, float),
    "even": lambda v: _whole(v) % 2 == 0,
    "odd": lambda v: _whole(v) % 2 == 1,
}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": _mod,
    "~": _concat,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
}
CONSTANTS: list[tuple[str, Any]] = [
    ("0", 0),
    ("1", 1),
    ("2", 2),
    ("2.5", 2.5),
    ("'a'", "a"),
    ("'ab'", "ab"),
    ("''", ""),
    ("none", None),
    ("true", True),
    ("false", False),
    ("['a', 'b']", ["a", "b"]),
    ("('a', 1)", ("a", 1)),
]


def _name(name: str) -> Pair:
    return name, lambda scope: scope[name]


def _constant(text: str, value: Any) -> Pair:
    return text, lambda scope: value


atoms: st.SearchStrategy[Pair] = st.one_of(
    st.sampled_from(NAMES).map(_name),
    st.sampled_from(CONSTANTS).map(lambda c: _constant(*c)),
)


def _binary(op: str, a: Pair, b: Pair) -> Pair:
    fn = BINARY[op]
    return f"({a[0]} {op} {b[0]})", lambda s: fn(a[1](s), b[1](s))


def _logic(op: str, a: Pair, b: Pair) -> Pair:
    if op == "and":
        return f"({a[0]} and {b[0]})", lambda s: a[1](s) and b[1](s)
    return f"({a[0]} or {b[0]})", lambda s: a[1](s) or b[1](s)


def _chain(a: Pair, b: Pair, c: Pair) -> Pair:
    return f"({a[0]} < {b[0]} <= {c[0]})", lambda s: a[1](s) < b[1](s) <= c[1](s)


def _filter(name: str, a: Pair) -> Pair:
    fn = FILTERS[name]
    return f"({a[0]}|{name})", lambda s: fn(a[1](s))


def _test(name: str, negated: bool, a: Pair) -> Pair:
    fn = TESTS[name]
    if negated:
        return f"({a[0]} is not {name})", lambda s: not fn(a[1](s))
    return f"({a[0]} is {name})", lambda s: fn(a[1](s))


def _method(name: str, a: Pair) -> Pair:
    if name in ("startswith", "endswith"):

        def affix(s: Mapping[str, Any]) -> Any:
            value = a[1](s)
            _need(isinstance(value, str))
            return getattr(value, name)("a")

        return f"({a[0]}).{name}('a')", affix

    def plain(s: Mapping[str, Any]) -> Any:
        value = a[1](s)
        _need(isinstance(value, str))
        return getattr(value, name)()

    return f"({a[0]}).{name}()", plain


def _extend(children: st.SearchStrategy[Pair]) -> st.SearchStrategy[Pair]:
    return st.one_of(
        st.builds(_binary, st.sampled_from(sorted(BINARY)), children, children),
        st.builds(_logic, st.sampled_from(["and", "or"]), children, children),
        st.builds(_chain, children, children, children),
        children.map(lambda a: (f"(not {a[0]})", lambda s: not a[1](s))),
        children.map(lambda a: (f"(-{a[0]})", lambda s: -a[1](s))),
        st.builds(
            lambda c, y, n: (
                f"({y[0]} if {c[0]} else {n[0]})",
                lambda s: y[1](s) if c[1](s) else n[1](s),
            ),
            children,
            children,
            children,
        ),
        st.builds(_filter, st.sampled_from(sorted(FILTERS)), children),
        st.builds(_test, st.sampled_from(sorted(TESTS)), st.booleans(), children),
        st.builds(
            _method,
            st.sampled_from(["startswith", "endswith", "lower", "upper", "strip"]),
            children,
        ),
    )


pairs: st.SearchStrategy[Pair] = st.recursive(atoms, _extend, max_leaves=8)


# -- text only: deeper, wider, larger ---------------------------------------------------

big_literals = st.one_of(
    st.integers(-(10**40), 10**40).map(str),
    st.floats(allow_nan=False).map(repr),
    st.text(alphabet="ab%{}x", max_size=3000).map(lambda t: "'" + t + "'"),
    st.sampled_from(["1e999", "0x7fffffffffffffffffffffffffffffff", "'%999999999d'"]),
)
text_atoms = st.one_of(st.sampled_from(NAMES), big_literals, atoms.map(lambda p: p[0]))


def _wrap(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from([*BINARY, "and", "or"]), children).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"[{c}]"),
        children.map(lambda c: f"not {c}"),
        children.map(lambda c: f"-{c}"),
        st.tuples(children, st.sampled_from([*FILTERS, "random", "batch(9)"])).map(
            lambda t: f"{t[0]}|{t[1]}"
        ),
        st.tuples(children, st.integers(1, 120), st.sampled_from(["(", "[", "not ", "-"])).map(
            lambda t: t[2] * t[1] + t[0] + {"(": ")", "[": "]"}.get(t[2], "") * t[1]
        ),
        st.tuples(children, st.integers(1, 400)).map(lambda t: " + ".join([t[0]] * t[1])),
    )


texts: st.SearchStrategy[str] = st.recursive(text_atoms, _wrap, max_leaves=6)
