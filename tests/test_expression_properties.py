"""Properties of the expression language over the whole grammar.

* One semantics: for any expression the grammar generates and any values, the evaluator
  gives what the documented meaning gives (Python's operators, and the stated domain of
  each filter, test and method), value and type, or fails where it fails. This includes
  the cases where a template engine would differ (``x|lower`` on none, ``x|upper`` on a
  number, ``x is defined``).
* Bounded: any expression text drawn from the grammar, however nested and with however
  large literals, is read, checked and evaluated under a time and memory ceiling and
  raises only the documented errors.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow.engine.expr import ExpressionSyntaxError, compile_expression
from servflow.errors import EvaluationError
from servflow.procedures import load_text
from tests.bounded import run_bounded
from tests.strategies_expr import Pair, pairs, texts, values


def _reference(ref: Any, scope: dict[str, Any]) -> tuple[str, Any]:
    try:
        return ("value", ref(scope))
    except Exception as exc:  # any failure of the documented meaning
        return ("error", type(exc).__name__)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=pairs, x=values, y=values, z=values)
def test_the_evaluator_has_the_documented_meaning(pair: Pair, x: Any, y: Any, z: Any) -> None:
    source, ref = pair
    scope = {"x": x, "w": y, "z": z}
    expected = _reference(ref, scope)
    compiled = compile_expression(source)
    assert compiled.names <= {"x", "w", "z"}
    try:
        got: tuple[str, Any] = ("value", compiled.evaluate(scope))
    except EvaluationError:
        got = ("error", None)
    assert got[0] == expected[0], (source, scope, expected, got)
    if got[0] == "value":
        assert got[1] == expected[1], (source, scope)
        assert type(got[1]) is type(expected[1]), (source, scope)


def test_filters_and_tests_on_none_and_mixed_types() -> None:
    """The cases where jinja2's own filters and the former fast path disagreed."""
    for source, scope in [
        ("x|lower", {"x": None}),
        ("x|upper == '5'", {"x": 5}),
        ("x|trim", {"x": ["a"]}),
        ("x|length", {"x": None}),
    ]:
        with pytest.raises(EvaluationError, match="applies to"):
            compile_expression(source).evaluate(scope)
    assert compile_expression("x is defined").evaluate({"x": None}) is True
    assert compile_expression("x is undefined").evaluate({"x": 1}) is False


def _read_check_evaluate(source: str) -> str:
    """What happened to ``source``, as one word; raises on anything undocumented."""
    try:
        compiled = compile_expression(source)
    except ExpressionSyntaxError as exc:
        refusal = exc
    else:
        refusal = None
    if refusal is not None:
        assert refusal.code in {
            "expression-syntax",
            "expression-unsupported",
            "expression-nesting",
            "expression-bound",
        }
        assert refusal.offset is not None
        assert 0 <= refusal.offset <= len(source)
        # jinja2's own words ("expected token ')'", "end of template") never reach analysts.
        assert "expected token" not in str(refusal)
        assert "end of template" not in str(refusal)
        return "refused"
    compiled.constant_failures()
    try:
        compiled.evaluate({"x": "ab" * 50_000, "w": list("ab") * 5000, "z": 10**29})
    except EvaluationError:
        return "failed"
    return "evaluated"


def _load(source: str) -> list[str]:
    text = (
        "servflow: 1\nid: p\nversion: 1\ntitle: {en: P}\n"
        "roles: {r: {title: {en: R}}}\n"
        "fields:\n  x: {type: text, title: {en: X}}\n  w: {type: list, title: {en: W}}\n"
        "  z: {type: integer, title: {en: Z}}\n"
        "states:\n  a: {title: {en: A}}\n  b: {title: {en: B}, final: true}\n"
        "start: {to: a, roles: [r]}\n"
        "transitions:\n  go:\n"
        f"    - {{from: a, to: b, roles: [r], when: {_quoted(source)}}}\n"
        f"    - {{from: a, to: b, roles: [r], when: {_quoted(source)}}}\n"
    )
    return [d.code for d in load_text(text, "p.yaml").diagnostics]


def _quoted(source: str) -> str:
    return "'" + source.replace("'", "''") + "'"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=texts)
def test_any_expression_is_read_and_evaluated_within_bounds(source: str) -> None:
    result = run_bounded(_read_check_evaluate, source, seconds=5.0, memory_mb=256)
    assert result.verdict == "returned", (source[:200], str(result))


@settings(max_examples=300, deadline=None)
@given(
    source=st.text(
        alphabet="xz01 .,'\"()[]{}|=!<>+-*/%~:#&@$_and or not is in if else", max_size=40
    )
)
def test_any_text_is_read_with_a_documented_error_at_most(source: str) -> None:
    assert _read_check_evaluate(source) in {"refused", "failed", "evaluated"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.one_of(texts, pairs.map(lambda p: p[0])))
def test_check_finishes_within_bounds_with_diagnostics_only(source: str) -> None:
    result = run_bounded(_load, source, seconds=5.0, memory_mb=256)
    assert result.verdict == "returned", (source[:200], str(result))
