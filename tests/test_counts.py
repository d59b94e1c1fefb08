"""`counts`: a step adds one to an integer field, and the engine, not a person, keeps it.

The count is in the event's changes, so replay rebuilds it; a log whose count is not the
one the engine writes is refused; a count cannot be given, nor pass the field's maximum;
the guard sees the count before the step, `requires` and the invariants after it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Actor, DefinitionError, Engine, Rejected
from servflow.errors import ReplayError
from servflow.model import Branch, Procedure
from servflow.procedures import load_text
from servflow.render import render_sop

AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
OFFICER = Actor(id="u1", roles={"officer"})

FILE = """\
servflow: 1
id: call
version: 1
title: {zh-Hant: 回訪, zh-Hans: 回访, en: Callback}
roles:
  officer: {title: {zh-Hant: 回訪人員, zh-Hans: 回访人员, en: Officer}}
fields:
  attempts: {type: integer, minimum: 0, maximum: 4, title: {zh-Hant: 未接通次數, zh-Hans: 未接通次数, en: Attempts}}
  notes: {type: text, title: {zh-Hant: 記錄, zh-Hans: 记录, en: Notes}}
  reached: {type: boolean, title: {zh-Hant: 已聯繫, zh-Hans: 已联系, en: Reached}}
states:
  calling: {title: {zh-Hant: 回訪中, zh-Hans: 回访中, en: Calling}}
  closed: {title: {zh-Hant: 已結案, zh-Hans: 已结案, en: Closed}, final: true}
start: {to: calling, roles: [officer], accepts: []}
transitions:
  unanswered:
    from: calling
    to: calling
    roles: [officer]
    counts: [attempts]
    requires: [notes]
    accepts: [notes]
  give_up:
    from: calling
    to: closed
    when: "attempts is not none and attempts >= 3"
    roles: [officer]
    accepts: []
  reached:
    from: calling
    to: closed
    roles: [officer]
    requires: [reached]
    accepts: [reached]
invariants:
  - {name: closed when reached or after three attempts, check: "state != 'closed' or reached or attempts >= 3"}
"""


def _proc(text: str = FILE) -> Procedure:
    result = load_text(text, file="call.yaml")
    assert result.procedure is not None, result.diagnostics
    return result.procedure


def _engine(text: str = FILE) -> Engine:
    return Engine([_proc(text)])


def test_each_step_adds_one_and_the_event_records_it():
    engine = _engine()
    out = engine.start("call", actor=OFFICER, at=AT)
    case = out.case
    assert case.data["attempts"] is None
    for n in (1, 2, 3):
        out = engine.fire(case, "unanswered", actor=OFFICER, at=AT, data={"notes": f"call {n}"})
        case = out.case
        assert case.data["attempts"] == n
        assert out.events[-1].changes["attempts"] == n


def test_fewer_attempts_cannot_close_and_enough_can():
    engine = _engine()
    case = engine.start("call", actor=OFFICER, at=AT).case
    for n in (1, 2):
        case = engine.fire(case, "unanswered", actor=OFFICER, at=AT, data={"notes": "-"}).case
        with pytest.raises(Rejected) as caught:
            engine.fire(case, "give_up", actor=OFFICER, at=AT)
        assert caught.value.reason == "guard_failed"
        assert case.data["attempts"] == n
    case = engine.fire(case, "unanswered", actor=OFFICER, at=AT, data={"notes": "-"}).case
    assert engine.fire(case, "give_up", actor=OFFICER, at=AT).case.state == "closed"


def test_a_count_cannot_be_given():
    engine = _engine()
    case = engine.start("call", actor=OFFICER, at=AT).case
    with pytest.raises(Rejected) as caught:
        engine.fire(case, "unanswered", actor=OFFICER, at=AT, data={"attempts": 3, "notes": "-"})
    assert (caught.value.reason, caught.value.details["field"]) == ("invalid_data", "attempts")
    # A procedure built in Python, with no `accepts`, is not checked by the loader: the
    # engine refuses the given count itself.
    proc = _proc()
    branch = proc.transitions["unanswered"][0].model_copy(update={"accepts": None})
    loose = proc.model_copy(update={"transitions": {**proc.transitions, "unanswered": [branch]}})
    engine = Engine([loose])
    case = engine.start("call", actor=OFFICER, at=AT).case
    with pytest.raises(Rejected) as caught:
        engine.fire(case, "unanswered", actor=OFFICER, at=AT, data={"attempts": 3, "notes": "-"})
    assert caught.value.reason == "invalid_data"
    assert "counts field 'attempts' itself; it cannot be given" in caught.value.message


def test_a_count_past_the_maximum_is_refused_and_changes_nothing():
    engine = _engine()
    case = engine.start("call", actor=OFFICER, at=AT).case
    for _ in range(4):
        case = engine.fire(case, "unanswered", actor=OFFICER, at=AT, data={"notes": "-"}).case
    with pytest.raises(Rejected) as caught:
        engine.fire(case, "unanswered", actor=OFFICER, at=AT, data={"notes": "-"})
    assert caught.value.reason == "invalid_data"
    assert "cannot count field 'attempts'" in caught.value.message
    assert case.data["attempts"] == 4


def test_the_guard_sees_the_count_before_and_the_invariants_after():
    text = FILE.replace(
        "    counts: [attempts]\n",
        '    counts: [attempts]\n    when: "attempts is none or attempts < 2"\n',
    ).replace(
        "check: \"state != 'closed' or reached or attempts >= 3\"",
        "check: \"attempts is none or attempts != 2 or notes != 'second'\"",
    )
    engine = _engine(text)
    case = engine.start("call", actor=OFFICER, at=AT).case
    case = engine.fire(case, "unanswered", actor=OFFICER, at=AT, data={"notes": "-"}).case
    # The invariant sees 2, the count after the step.
    with pytest.raises(Rejected) as caught:
        engine.fire(case, "unanswered", actor=OFFICER, at=AT, data={"notes": "second"})
    assert caught.value.reason == "guard_failed"
    assert "would break the rule" in caught.value.message
    case = engine.fire(case, "unanswered", actor=OFFICER, at=AT, data={"notes": "-"}).case
    assert case.data["attempts"] == 2
    # The guard sees 2, the count before the step.
    with pytest.raises(Rejected) as caught:
        engine.fire(case, "unanswered", actor=OFFICER, at=AT, data={"notes": "-"})
    assert caught.value.reason == "guard_failed"


def test_a_log_with_another_count_is_refused_at_that_event():
    engine = _engine()
    out = engine.start("call", actor=OFFICER, at=AT)
    events = list(out.events)
    case = out.case
    for n in range(3):
        out = engine.fire(
            case, "unanswered", actor=OFFICER, at=AT + timedelta(minutes=n), data={"notes": "-"}
        )
        case = out.case
        events.extend(out.events)
    assert engine.replay(events) == case
    log = [e.model_dump(mode="json") for e in events]
    for wrong in (5, None):
        tampered = [dict(e) for e in log]
        tampered[2] = {**tampered[2], "changes": {**tampered[2]["changes"], "attempts": wrong}}
        with pytest.raises(ReplayError) as caught:
            engine.replay(tampered)
        assert caught.value.seq == 3
    left_out = [dict(e) for e in log]
    left_out[1] = {**left_out[1], "changes": {"notes": "-"}}
    with pytest.raises(ReplayError) as caught:
        engine.replay(left_out)
    assert caught.value.seq == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["unanswered", "give_up", "reached", "reached_no"]), max_size=8))
def test_replay_rebuilds_the_count_whatever_the_steps(steps):
    engine = _engine()
    out = engine.start("call", actor=OFFICER, at=AT)
    case, events, taken = out.case, list(out.events), 0
    for i, step in enumerate(steps):
        data = {"unanswered": {"notes": f"n{i}"}, "reached": {"reached": True}}.get(step, {})
        if step == "reached_no":
            step, data = "reached", {"reached": False}
        try:
            out = engine.fire(case, step, actor=OFFICER, at=AT + timedelta(minutes=i), data=data)
        except Rejected:
            continue
        case = out.case
        events.extend(out.events)
        taken += step == "unanswered"
    assert case.data["attempts"] == (taken or None)
    assert engine.replay([e.model_dump(mode="json") for e in events]) == case


def test_a_branch_without_counts_dumps_as_before():
    branch = Branch.model_validate({"from": "a", "to": "b", "roles": ["r"]})
    assert "counts" not in branch.model_dump(by_alias=True)
    counting = Branch.model_validate({"from": "a", "to": "a", "roles": ["r"], "counts": ["n"]})
    assert counting.model_dump(by_alias=True)["counts"] == ["n"]


@pytest.mark.parametrize(
    ("counted", "code"), [("notes", "count-not-integer"), ("atempts", "unknown-field")]
)
def test_the_engine_refuses_a_count_of_a_field_it_cannot_count(counted, code):
    proc = _proc()
    branch = proc.transitions["unanswered"][0].model_copy(update={"counts": [counted]})
    bad = proc.model_copy(update={"transitions": {**proc.transitions, "unanswered": [branch]}})
    with pytest.raises(DefinitionError) as caught:
        Engine([bad])
    assert [d.code for d in caught.value.diagnostics] == [code]
    assert "transitions.unanswered.counts" in caught.value.diagnostics[0].message


@pytest.mark.parametrize(
    ("lang", "note"),
    [
        ("zh-Hant", "系統為以下欄位加一（不由人填寫）：未接通次數"),
        ("zh-Hans", "系统为以下字段加一（不由人填写）：未接通次数"),
        ("en", "the system adds one to (no one fills it in): Attempts."),
    ],
)
def test_the_sop_says_what_a_step_counts(lang, note):
    assert note in render_sop(_proc(), lang=lang)
