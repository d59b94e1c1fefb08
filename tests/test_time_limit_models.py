"""Time-limit clauses and breach actions as models: one rule, one schema, stored as before.

* ``Clause.matches`` is the rule of the documented language (entering or leaving counts
  only on a move, a trigger whether the case moves or not), and the engine, the lint and
  the SOPs all read clauses through it;
* a clause or breach action dumps exactly what the file wrote, so a procedure's digest
  (which pins every stored case) does not depend on how the model reads it;
* the generated JSON Schema accepts exactly what the models accept;
* the engine's typed dues and percentages convert to and from the stored forms losslessly;
* the hostile corpus ``tests/hostile/clauses.yaml``: shapes written wrong are reported at
  their place with their code and message, within time and memory ceilings.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from servflow import Case
from servflow.engine.case import TimerState
from servflow.engine.limits import (
    BREACH,
    ActionDue,
    Clock,
    Percent,
    WarnDue,
    due_text,
    parse_due,
)
from servflow.model import BreachAction, Clause, Pause, TimeLimit
from servflow.procedures import load_text
from servflow.procedures.schema import language_schema
from tests.bounded import run_bounded
from tests.saved_cases import SAVED
from tests.strategies import breach_actions, clause_junk, clause_names, clauses, one_or_many

REPO = Path(__file__).resolve().parent.parent
CORPUS = yaml.safe_load((REPO / "tests" / "hostile" / "clauses.yaml").read_text("utf-8"))
BASE = (REPO / "tests" / "mistakes" / "base.yaml").read_text("utf-8").splitlines()


def _set(value: str | list[str] | None) -> set[str]:
    if value is None:
        return set()
    return {value} if isinstance(value, str) else set(value)


@given(clauses, clause_names, st.one_of(st.none(), clause_names), clause_names)
def test_matches_is_the_documented_rule(clause, trigger, source, target):
    moved = source != target
    expected = (
        (moved and target in _set(clause.get("entered")))
        or (moved and source is not None and source in _set(clause.get("left")))
        or trigger in _set(clause.get("event"))
    )
    assert Clause.model_validate(clause).matches(trigger, source, target) == expected


@given(clauses, clauses, st.one_of(st.just({}), st.fixed_dictionaries({"in": one_or_many})))
def test_a_clause_dumps_what_the_file_wrote(starts, stops, pauses):
    # The digest of a procedure is computed from this dump: it must not change with the
    # model's own representation.
    limit = TimeLimit.model_validate(
        {"starts": starts, "stops": stops, "pauses": pauses, "within": [{"limit": "1h"}]}
    )
    dumped = limit.model_dump(mode="json", by_alias=True)
    assert (dumped["starts"], dumped["stops"], dumped["pauses"]) == (starts, stops, pauses)


@given(st.lists(breach_actions, max_size=3))
def test_a_breach_action_dumps_what_the_file_wrote(actions):
    acting = [a for a in actions if {"notify", "fire", "escalate"} & set(a)]
    limit = TimeLimit.model_validate(
        {"starts": {}, "stops": {}, "within": [{"limit": "1h"}], "on_breach": acting}
    )
    assert limit.model_dump(mode="json", by_alias=True)["on_breach"] == acting


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(language_schema())


@settings(max_examples=300)
@given(
    st.sampled_from([(Clause, "Clause"), (Pause, "Pause"), (BreachAction, "BreachAction")]),
    clause_junk,
)
@example((BreachAction, "BreachAction"), {"notify": None, "escalate": True})
@example((BreachAction, "BreachAction"), {"escalate": False})
@example((BreachAction, "BreachAction"), {"template": "late", "after": "2h"})
@example((Pause, "Pause"), {"in_": "open"})
@example((Clause, "Clause"), {"entered": [], "event": None})
def test_the_schema_accepts_exactly_what_the_models_accept(validator, model_and_name, value):
    model, name = model_and_name
    if type(value.get("escalate", True)) is not bool:
        # Like every boolean of the language (final, escalates, pii), the model reads
        # 1 or "yes" as true; the schema asks editors for true or false.
        return
    try:
        model.model_validate(value)
        accepted = True
    except ValidationError:
        accepted = False
    schema = {"$ref": f"#/$defs/{name}", "$defs": language_schema()["$defs"]}
    assert jsonschema.Draft202012Validator(schema).is_valid(value) == accepted, value


@pytest.mark.parametrize("text", ["breach", "warn:5000", "warn:1250", "step:0", "step:3", None])
def test_a_stored_due_reads_and_writes_back(text):
    assert due_text(parse_due(text)) == text


def test_dues_are_typed():
    assert parse_due("breach") is BREACH
    assert parse_due("warn:8000") == WarnDue(Percent.parse("80%"))
    assert parse_due("step:2") == ActionDue(2)
    for bad in ("warn:", "warn:x", "step:-1", "breach:1", "warn:1234567890", "Warn:5000"):
        with pytest.raises(ValueError, match="next_action is none of"):
            parse_due(bad)


@pytest.mark.parametrize("text", ["0.8", "0%", "100%", "80", "-5%", "%", ""])
def test_a_warning_that_is_no_percentage_is_refused(text):
    with pytest.raises(
        ValueError, match=r"must be a percentage strictly between 0% and 100%, e.g. 80%"
    ):
        Percent.parse(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1e1%", "is not a percentage in digits"),
        ("1,5%", "is not a percentage in digits"),
        ("80%%", "is not a percentage in digits"),
        ("99.999%", "has more than two decimals"),
        ("12.345%", "has more than two decimals"),
    ],
)
def test_percent_parse_holds_the_whole_rule_of_the_model(text, why):
    # The engine's parse refuses what the model refuses, with the same words.
    with pytest.raises(ValueError, match=why):
        Percent.parse(text)


def test_a_percentage_is_one_warning_to_a_hundredth():
    assert Percent.parse("12.5%") == Percent.stored(1250)
    assert Percent.parse(" 80 %").value == 80.0
    assert Percent.parse("12.34%").basis_points == 1234


def test_the_working_copy_has_every_stored_field():
    # A field added to the stored timer must be carried by the clock's working copy. The
    # clock names its fields as the timer does (`within`, not its stored key `target`).
    timer_fields = set(TimerState.model_fields)
    assert {f.name for f in dataclasses.fields(Clock)} == timer_fields


def test_every_saved_timer_survives_the_working_copy():
    import json

    saved = json.loads(SAVED.read_text(encoding="utf-8"))
    timers = [
        timer
        for run in saved["runs"].values()
        for step in run["steps"]
        for timer in Case.model_validate(step["case"]).timers.values()
    ]
    assert len(timers) > 50
    for timer in timers:
        assert Clock.of(timer).stored() == timer


def _load(case: dict[str, Any]) -> list[tuple[str, int, int, str]]:
    lines = list(BASE)
    lines[case["line"] - 1] = case["text"]
    result = load_text("\n".join(lines) + "\n", "t.yaml")
    return [(d.code, d.line, d.column, d.message) for d in result.diagnostics]


@pytest.mark.parametrize("case", CORPUS["cases"], ids=lambda c: c["text"].strip()[:40])
def test_each_clause_written_wrong_is_reported_at_its_place(case):
    code, line, column, message = case["expect"]
    result = run_bounded(_load, case, seconds=5.0, memory_mb=256)
    assert result.verdict == "returned", str(result)
    found = [d for d in result.value if (d[0], d[1], d[2]) == (code, line, column)]
    assert len(found) == 1, result.value
    assert message in found[0][3]
