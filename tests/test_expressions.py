"""Expressions: names, refusals, bounds. The meaning of the whole grammar is checked by
``tests/test_expression_properties.py`` against the documented semantics."""

from __future__ import annotations

import pytest

from servflow.engine.expr import ExpressionSyntaxError, compile_expression
from servflow.errors import EvaluationError


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
