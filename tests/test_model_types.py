"""The model's whole-number, boolean and number keys take only values of their type.

pydantic's lax mode read ``version: true`` as version 1 and ``final: "on"`` as true; the
files of tests/hostile/definitions/ pin the diagnostics at their line and column. These
tests pin the rule on the models themselves, as a host building a procedure in Python
meets it, and the warn_at and minimum/maximum rules that came with it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from servflow.engine.limits import Percent
from servflow.model import BreachAction, FieldSpec, Role, State, TimeLimit
from servflow.procedures import load_text
from tests.bounded import run_bounded
from tests.test_hostile_corpora import REPO

WHOLE = [(Role, "rank", 2), (FieldSpec, "max_length", 20)]
BOOLEAN = [(State, "final", True), (FieldSpec, "pii", True), (BreachAction, "escalate", True)]
BASE: dict[type[BaseModel], dict[str, Any]] = {
    Role: {},
    FieldSpec: {"type": "string"},
    State: {},
    BreachAction: {},
}


def _wrong_type(model: type[BaseModel], key: str, value: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**BASE[model], key: value})
    (error,) = caught.value.errors()
    assert (error["type"], error["loc"]) == ("wrong_type", (key,))
    return str(error["msg"])


@pytest.mark.parametrize(("model", "key", "good"), WHOLE)
def test_a_whole_number_key_takes_an_int_only(model, key, good):
    assert getattr(model.model_validate({**BASE[model], key: good}), key) == good
    assert _wrong_type(model, key, True) == "expected a whole number, got true"
    assert _wrong_type(model, key, 2.0) == "expected a whole number, got the number 2.0"
    assert (
        _wrong_type(model, key, "2") == "expected a whole number, got the text '2'; write it "
        "without quotes"
    )


@pytest.mark.parametrize(("model", "key", "good"), BOOLEAN)
def test_a_boolean_key_takes_true_or_false_only(model, key, good):
    assert getattr(model.model_validate({**BASE[model], key: good}), key) is good
    assert _wrong_type(model, key, 1) == "expected true or false, got the number 1"
    assert (
        _wrong_type(model, key, "on")
        == "expected true or false, got the text 'on'; write true or false"
    )
    assert _wrong_type(model, key, "true") == (
        "expected true or false, got the text 'true'; write it without quotes"
    )
    assert _wrong_type(model, key, None) == "expected true or false, got null"


@given(st.one_of(st.integers(), st.text(), st.floats(), st.none(), st.lists(st.booleans())))
def test_anything_but_a_bool_is_refused_by_a_boolean_key(value):
    if isinstance(value, bool):
        return
    assert _wrong_type(State, "final", value).startswith("expected true or false, got ")


def test_a_huge_int_is_named_without_printing_it():
    # An int of 5,000 digits cannot be turned into text: the message must not try.
    assert _wrong_type(State, "final", 10**5000) == (
        "expected true or false, got a very large number"
    )


def test_a_bound_takes_a_number_not_text_or_a_boolean():
    assert FieldSpec(type="integer", minimum=0, maximum=2.5).maximum == 2.5
    assert FieldSpec(type="decimal", minimum=Decimal("0.5")).minimum == 0.5
    assert _wrong_type(FieldSpec, "minimum", "0").startswith("expected a number, got the text")
    assert _wrong_type(FieldSpec, "maximum", False) == "expected a number, got false"


def test_a_maximum_below_the_minimum_is_refused_at_the_maximum():
    assert FieldSpec(type="integer", minimum=3, maximum=3).maximum == 3
    with pytest.raises(ValidationError) as caught:
        FieldSpec(type="integer", minimum=10, maximum=1)
    (error,) = caught.value.errors()
    assert (error["type"], error["loc"], error["msg"]) == (
        "invalid_value",
        ("maximum",),
        "maximum 1 is below the minimum 10",
    )


@given(st.integers(1, 9999))
def test_every_warning_to_a_hundredth_of_a_percent_is_accepted(basis_points):
    text = f"{basis_points // 100}.{basis_points % 100:02d}%"
    limit = TimeLimit.model_validate(
        {
            "starts": {"entered": "a"},
            "stops": {"left": "a"},
            "within": [{"limit": "4h"}],
            "warn_at": [text],
        }
    )
    assert Percent.parse(limit.warn_at[0]).basis_points == basis_points


@pytest.mark.parametrize("text", ["99.995%", "0.001%", "99.99999999999999999%", " 50.125 %"])
def test_a_third_decimal_is_refused_with_a_precise_message(text):
    with pytest.raises(ValidationError) as caught:
        TimeLimit.model_validate(
            {
                "starts": {"entered": "a"},
                "stops": {"left": "a"},
                "within": [{"limit": "4h"}],
                "warn_at": [text],
            }
        )
    (error,) = caught.value.errors()
    assert error["type"] == "bad_percentage"
    assert error["loc"] == ("warn_at", 0)
    assert "has more than two decimals" in error["msg"]


@pytest.mark.parametrize("text", ["1e-9%", "1,5%", "abc%", "5%%", "٥٠%"])
def test_a_percentage_not_in_digits_is_refused_as_such(text):
    with pytest.raises(ValidationError) as caught:
        TimeLimit.model_validate(
            {
                "starts": {"entered": "a"},
                "stops": {"left": "a"},
                "within": [{"limit": "4h"}],
                "warn_at": [text],
            }
        )
    (error,) = caught.value.errors()
    assert error["type"] == "bad_percentage"
    assert (
        error["msg"] == f"warning {text!r} is not a percentage in digits: write e.g. 80% or 12.5%"
    )


@pytest.mark.parametrize("text", ["0%", "100%", "-5%", "0.8"])
def test_a_percentage_out_of_range_is_left_to_the_one_rule(text):
    # The model lets it through; Percent.parse (run by the checks) says what is wrong.
    limit = TimeLimit.model_validate(
        {
            "starts": {"entered": "a"},
            "stops": {"left": "a"},
            "within": [{"limit": "4h"}],
            "warn_at": [text],
        }
    )
    with pytest.raises(ValueError, match="must be a percentage strictly between 0% and 100%"):
        Percent.parse(limit.warn_at[0])


def _warn_at_error(text: str) -> str:
    try:
        TimeLimit.model_validate(
            {
                "starts": {"entered": "a"},
                "stops": {"left": "a"},
                "within": [{"limit": "4h"}],
                "warn_at": [text],
            }
        )
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"])
    return ""


@pytest.mark.parametrize("text", ["1" * 500_000 + "x%", "1." + "1" * 500_000 + "x", "%" * 500_000])
def test_a_long_warning_is_judged_in_linear_time(text):
    result = run_bounded(_warn_at_error, text, seconds=5, memory_mb=256)
    assert result.verdict == "returned", str(result)


def test_every_shipped_file_still_loads():
    files = sorted((REPO / "procedures").rglob("*.yaml")) + sorted(
        (REPO / "tests" / "hostile" / "values").glob("*.yaml")
    )
    for path in files:
        if path.parent.name == "scenarios":
            continue
        result = load_text(path.read_text(encoding="utf-8"), str(path))
        assert result.ok, [str(d) for d in result.diagnostics]
