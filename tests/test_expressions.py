"""Expressions: the fast path agrees with jinja2's sandbox, and nothing escapes the sandbox."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from servflow.engine.expr import ExpressionSyntaxError, compile_expression
from servflow.errors import EvaluationError

_REFERENCE = ImmutableSandboxedEnvironment(undefined=StrictUndefined)

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.decimals(min_value=-5, max_value=5, places=1, allow_nan=False),
    st.sampled_from(["a", "b", "emergency", ""]),
    st.lists(st.sampled_from(["a", "b"]), max_size=3),
)

atoms = st.sampled_from(
    ["x", "y", "z", "1", "0", "2.5", "'a'", "'emergency'", "none", "true", "false", "['a', 'b']"]
)


def _expr(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(
            children, st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]), children
        ).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from(["and", "or", "+", "-", "*", "%"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        children.map(lambda c: f"(not {c})"),
        children.map(lambda c: f"({c} is none)"),
        children.map(lambda c: f"({c} is not none)"),
        children.map(lambda c: f"({c}|length)"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    )


expressions = st.recursive(atoms, _expr, max_leaves=6)


def _reference(source: str, scope: dict[str, Any]) -> tuple[str, Any]:
    try:
        value = _REFERENCE.compile_expression(source, undefined_to_none=False)(**scope)
    except Exception as exc:  # any failure counts as "fails" for the comparison
        return ("error", type(exc).__name__)
    return ("value", value)


@settings(max_examples=400, deadline=None)
@given(source=expressions, x=values, y=values, z=values)
def test_the_fast_path_agrees_with_the_sandbox(source, x, y, z):
    scope = {"x": x, "y": y, "z": z}
    expected = _reference(source, scope)
    compiled = compile_expression(source)
    assert compiled.names <= {"x", "y", "z"}
    try:
        got: tuple[str, Any] = ("value", compiled.evaluate(scope))
    except EvaluationError:
        got = ("error", None)
    if expected[0] == "error" or got[0] == "error":
        # Both fail, or jinja2 renders an undefined-ish value the fast path refuses.
        assert expected[0] == got[0], (source, scope, expected, got)
    else:
        assert got[1] == expected[1], (source, scope)
        assert type(got[1]) is type(expected[1]) or isinstance(got[1], int | float | Decimal)


def test_names_are_reported():
    assert compile_expression("priority != 'emergency' or technician_on_call").names == {
        "priority",
        "technician_on_call",
    }


@pytest.mark.parametrize(
    "source",
    [
        "x.__class__.__mro__",
        "x.__globals__",
        "(1).__class__.__subclasses__()",
        "x.append(1)",
        "range(10**9)|list",
        "lipsum()",
        "cycler",
    ],
)
def test_the_sandbox_holds(source):
    try:
        compiled = compile_expression(source)
    except ExpressionSyntaxError:
        return
    with pytest.raises(EvaluationError):
        compiled.evaluate({"x": [1]})


def test_powers_are_refused_at_compile_time():
    with pytest.raises(ExpressionSyntaxError):
        compile_expression("9 ** 9 ** 9")


def test_big_repetitions_are_refused():
    with pytest.raises(EvaluationError):
        compile_expression("'x' * n").evaluate({"n": 10**9})
    assert compile_expression("'ab' * n").evaluate({"n": 3}) == "ababab"


@pytest.mark.parametrize(
    "source",
    [
        "{{ x }}",
        "{% if x %}1{% endif %}",
        "x ==",
        "x +* 2",
        "'open",
        "a is none o| b",
        "a is frobbed",
    ],
)
def test_syntax_errors(source):
    with pytest.raises(ExpressionSyntaxError):
        compile_expression(source)


def test_missing_names_fail_loudly_not_as_none():
    with pytest.raises(EvaluationError, match="undefined"):
        compile_expression("y > 1").evaluate({})
