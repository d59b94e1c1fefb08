"""Guards that read who takes a step and when: `actor.id`, `actor.roles`, `now`, `today`.

A key-loan procedure written for these tests: the clerk who applies may not approve
(four eyes), the supervisor designates the officer who hands the key over (`assignee`),
a loan may be taken back once it has run out (`now`), the hand-over is not before the
planned day in the office's zone (`today`), and only a supervisor may waive the deposit
(`actor.roles`). Each rule is checked live, then every log is replayed and verified.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Actor, Case, Engine, Event, Rejected
from servflow.engine.expr import ExpressionSyntaxError, compile_expression
from servflow.procedures import load_file, load_text
from servflow.render.diagram import render_mermaid
from servflow.render.sop import render_sop
from tests.conftest import SHANGHAI

REPO = Path(__file__).resolve().parent.parent

LOAN = """
servflow: 1
id: key_loan
version: 1
title: {en: Key loan}
calendar: office
roles:
  clerk: {title: {en: Clerk}, rank: 1}
  keeper: {title: {en: Key keeper}, rank: 1}
  supervisor: {title: {en: Supervisor}, rank: 2}
fields:
  applicant_officer: {type: string, title: {en: Applied by}}
  key_officer: {type: string, title: {en: Officer who hands the key over}}
  hand_over_on: {type: date, title: {en: Hand-over day}}
  return_by: {type: datetime, title: {en: Return by}}
  deposit_waived: {type: boolean, title: {en: Deposit waived}}
states:
  applied: {title: {en: Applied}}
  approved: {title: {en: Approved}}
  assigned: {title: {en: Assigned}}
  lent: {title: {en: Lent}}
  returned: {title: {en: Returned}, final: true}
start:
  to: applied
  roles: [clerk, supervisor]
  requires: [applicant_officer]
  when: "applicant_officer == actor.id"
transitions:
  approve:
    from: applied
    to: approved
    roles: [clerk, supervisor]
    when: "actor.id != applicant_officer"
  assign:
    from: approved
    to: assigned
    roles: [supervisor]
    requires: [key_officer, hand_over_on, return_by]
    accepts: [key_officer, hand_over_on, return_by, deposit_waived]
    authority: {supervisor: "not deposit_waived or 'supervisor' in actor.roles"}
  hand_over:
    from: assigned
    to: lent
    roles: [keeper, clerk]
    assignee: key_officer
    when: "today >= hand_over_on"
  take_back:
    - from: lent
      to: returned
      roles: [keeper, supervisor]
      when: "now > return_by and 'supervisor' in actor.roles"
    - from: lent
      to: returned
      roles: [keeper]
      when: "now <= return_by"
time_limits:
  returned_in_time:
    starts: {entered: applied}
    stops: {entered: returned}
    within:
      - {limit: 30wd}
"""

CALENDARS = load_file(REPO / "procedures" / "calendars.yaml").calendars
NINE = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


def _engine(text: str = LOAN) -> Engine:
    result = load_text(text, file="key_loan.yaml")
    assert result.ok, result.diagnostics
    assert result.procedure is not None
    return Engine([result.procedure], calendars=CALENDARS)


ENGINE = _engine()
CLERK = Actor(id="c1", roles={"clerk"})
OTHER_CLERK = Actor(id="c2", roles={"clerk"})
BOSS = Actor(id="s1", roles={"supervisor", "clerk"})
KEEPER = Actor(id="k9", roles={"keeper"})


def _applied() -> tuple[Case, list[Event]]:
    out = ENGINE.start("key_loan", actor=CLERK, data={"applicant_officer": "c1"}, at=NINE)
    return out.case, list(out.events)


def _assigned(officer: str = "k9") -> tuple[Case, list[Event]]:
    case, log = _applied()
    out = ENGINE.fire(case, "approve", actor=OTHER_CLERK, at=NINE)
    log += out.events
    out = ENGINE.fire(
        out.case,
        "assign",
        actor=BOSS,
        at=NINE,
        data={
            "key_officer": officer,
            "hand_over_on": "2026-11-24",
            "return_by": "2026-11-30T17:00:00+08:00",
        },
    )
    return out.case, [*log, *out.events]


def _rejected(call: Any, *args: Any, **kwargs: Any) -> Rejected:
    with pytest.raises(Rejected) as info:
        call(*args, **kwargs)
    return info.value


def _replays(log: list[Event], case: Case) -> None:
    assert ENGINE.replay(log) == case
    assert ENGINE.verify(log, stored=case).ok


# -- four eyes: actor.id -------------------------------------------------------------------


def test_the_applicant_cannot_approve_their_own_application() -> None:
    case, log = _applied()
    exc = _rejected(ENGINE.fire, case, "approve", actor=CLERK, at=NINE)
    assert exc.reason == "guard_failed"
    assert exc.details["expression"] == "actor.id != applicant_officer"
    out = ENGINE.fire(case, "approve", actor=OTHER_CLERK, at=NINE)
    assert out.case.state == "approved"
    _replays([*log, *out.events], out.case)


def test_a_case_is_opened_only_by_the_officer_it_names() -> None:
    exc = _rejected(
        ENGINE.start, "key_loan", actor=CLERK, data={"applicant_officer": "c2"}, at=NINE
    )
    assert exc.reason == "guard_failed"


@settings(max_examples=80, deadline=None)
@given(
    applicant=st.text(alphabet="abc12", min_size=1, max_size=3),
    approver=st.text(alphabet="abc12", min_size=1, max_size=3),
)
def test_four_eyes_holds_for_any_pair_of_ids(applicant: str, approver: str) -> None:
    opener = Actor(id=applicant, roles={"clerk"})
    case = ENGINE.start(
        "key_loan", actor=opener, data={"applicant_officer": applicant}, at=NINE
    ).case
    actor = Actor(id=approver, roles={"clerk"})
    if approver == applicant:
        assert _rejected(ENGINE.fire, case, "approve", actor=actor, at=NINE).reason == (
            "guard_failed"
        )
    else:
        assert ENGINE.fire(case, "approve", actor=actor, at=NINE).case.state == "approved"


# -- assignee ------------------------------------------------------------------------------


def test_only_the_assignee_hands_the_key_over_and_the_refusal_names_the_field() -> None:
    case, log = _assigned()
    day_after = NINE + timedelta(days=1)
    exc = _rejected(
        ENGINE.fire, case, "hand_over", actor=Actor(id="k8", roles={"keeper"}), at=day_after
    )
    assert exc.reason == "forbidden"
    assert exc.details == {"trigger": "hand_over", "field": "key_officer", "actor": "k8"}
    assert "'key_officer'" in exc.message
    assert "k9" not in exc.message
    out = ENGINE.fire(case, "hand_over", actor=KEEPER, at=day_after)
    assert out.case.state == "lent"
    _replays([*log, *out.events], out.case)


@settings(max_examples=80, deadline=None)
@given(
    officer=st.text(alphabet="kK9 ", min_size=1, max_size=4),
    actor_id=st.text(alphabet="kK9 ", min_size=1, max_size=4),
    roles=st.sets(st.sampled_from(["keeper", "clerk", "supervisor", "guest"]), min_size=1),
)
def test_an_assignee_step_never_lets_another_actor_through(
    officer: str, actor_id: str, roles: set[str]
) -> None:
    case, _ = _assigned(officer)
    actor = Actor(id=actor_id, roles=roles)
    at = NINE + timedelta(days=1)
    lets_through = actor_id == officer and bool(roles & {"keeper", "clerk"})
    if lets_through:
        assert ENGINE.fire(case, "hand_over", actor=actor, at=at).events[-1].actor == officer
    else:
        assert _rejected(ENGINE.fire, case, "hand_over", actor=actor, at=at).reason == ("forbidden")
    allowed = {a.trigger: a.allowed for a in ENGINE.available(case, actor, at=at)}
    assert allowed["hand_over"] == lets_through


def test_an_empty_assignee_lets_nobody_through() -> None:
    case, _ = _assigned()
    emptied = case.model_copy(update={"data": {**case.data, "key_officer": None}})
    # A stored case whose officer is empty (a later step cleared it): nobody may take it.
    at = NINE + timedelta(days=1)
    exc = _rejected(ENGINE.fire, emptied, "hand_over", actor=KEEPER, at=at)
    assert exc.reason == "forbidden"
    assert "which is empty" in exc.message
    (hand_over,) = [a for a in ENGINE.available(emptied, KEEPER, at=at) if a.trigger == "hand_over"]
    assert not hand_over.allowed
    assert hand_over.reason == "forbidden"


# -- now and today -------------------------------------------------------------------------


def test_today_is_the_day_in_the_procedures_calendar_zone() -> None:
    case, log = _assigned()
    before = datetime(2026, 11, 23, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai, the 23rd
    after = datetime(2026, 11, 23, 16, 1, tzinfo=UTC)  # 00:01 in Shanghai, the 24th
    assert _rejected(ENGINE.fire, case, "hand_over", actor=KEEPER, at=before).reason == (
        "guard_failed"
    )
    out = ENGINE.fire(case, "hand_over", actor=KEEPER, at=after)
    _replays([*log, *out.events], out.case)


@settings(max_examples=60, deadline=None)
@given(minutes=st.integers(min_value=-3000, max_value=3000), boss=st.booleans())
def test_a_guard_on_now_decides_the_same_live_and_in_replay(minutes: int, boss: bool) -> None:
    case, log = _assigned()
    out = ENGINE.fire(case, "hand_over", actor=KEEPER, at=NINE + timedelta(days=1))
    log += out.events
    return_by = datetime(2026, 11, 30, 17, 0, tzinfo=SHANGHAI)
    at = return_by + timedelta(minutes=minutes)
    actor = Actor(id="s1", roles={"supervisor"}) if boss else KEEPER
    # Late: only a supervisor takes it back; on time: only the keeper.
    if (at > return_by) != boss:
        exc = _rejected(ENGINE.fire, out.case, "take_back", actor=actor, at=at)
        assert exc.reason in ("guard_failed", "forbidden")
        return
    done = ENGINE.fire(out.case, "take_back", actor=actor, at=at)
    assert done.events[-1].detail.get("branch") == (0 if boss else 1)
    full = [*log, *done.events]
    _replays(full, done.case)


# -- actor.roles ---------------------------------------------------------------------------


def test_the_roles_a_guard_reads_are_recorded_and_replayed() -> None:
    case, log = _applied()
    out = ENGINE.fire(case, "approve", actor=OTHER_CLERK, at=NINE)
    log += out.events
    data = {
        "key_officer": "k9",
        "hand_over_on": "2026-11-24",
        "return_by": "2026-11-30T17:00:00+08:00",
        "deposit_waived": True,
    }
    assigned = ENGINE.fire(out.case, "assign", actor=BOSS, at=NINE, data=data)
    event = assigned.events[-1]
    # Only the procedure's own roles, in order: the host's other roles are not recorded.
    assert event.detail["actor_roles"] == ["clerk", "supervisor"]
    assert log[0].detail["actor_roles"] == ["clerk"]
    _replays([*log, *assigned.events], assigned.case)
    # A log that claims other roles than the step was decided with is refuted.
    forged = event.model_copy(update={"detail": {**event.detail, "actor_roles": ["clerk"]}})
    report = ENGINE.verify([*log, forged])
    assert not report.ok
    assert report.first is not None
    assert report.first.seq == event.seq


def test_roles_are_not_recorded_by_a_procedure_whose_guards_do_not_read_them() -> None:
    engine = _engine(LOAN.replace("'supervisor' in actor.roles", "true").replace(" and true", ""))
    out = engine.start("key_loan", actor=CLERK, data={"applicant_officer": "c1"}, at=NINE)
    assert "actor_roles" not in out.events[0].detail


# -- the grammar ---------------------------------------------------------------------------


def test_actor_is_read_by_its_two_names_only() -> None:
    expr = compile_expression("actor.id != applicant and 'x' in actor.roles")
    assert expr.names == {"actor.id", "applicant", "actor.roles"}
    assert expr.positions["actor.id"] == 0
    for source in ("actor.name", "actor.id.__class__", "applicant.id"):
        with pytest.raises(ExpressionSyntaxError) as info:
            compile_expression(source)
        assert info.value.code == "expression-unsupported"
    # Still methods of text, applied to the actor's id.
    assert compile_expression("actor.id.startswith('k')").holds({"actor.id": "k9"})


@pytest.mark.parametrize(
    ("where", "code"),
    [
        (
            'invariants:\n  - {name: four eyes, check: "actor.id != applicant_officer"}\n',
            "step-name-outside-guard",
        ),
        (
            'invariants:\n  - {name: not late, check: "return_by is none or now < return_by"}\n',
            "step-name-outside-guard",
        ),
        ('invariants:\n  - {name: typo, check: "state != aplicant_officer"}\n', "unknown-name"),
    ],
)
def test_invariants_cannot_read_the_step(where: str, code: str) -> None:
    result = load_text(LOAN + where, file="key_loan.yaml")
    assert [d.code for d in result.diagnostics if d.severity == "error"] == [code]


def test_a_time_limit_target_cannot_read_the_step() -> None:
    text = LOAN.replace(
        "      - {limit: 30wd}",
        '      - {when: "today < hand_over_on", limit: 30wd}\n      - {limit: 30wd}',
    )
    result = load_text(text, file="key_loan.yaml")
    assert [d.code for d in result.diagnostics if d.severity == "error"] == [
        "step-name-outside-guard"
    ]


# -- documents -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "note"),
    [
        ("zh-Hant", "僅限「Officer who hands the key over」所指定的人員執行。"),
        ("zh-Hans", "仅限「Officer who hands the key over」所指定的人员执行。"),
        ("en", "Only the person named in “Officer who hands the key over” may take it."),
    ],
)
def test_the_sop_and_the_diagram_say_who_the_assignee_is(lang: str, note: str) -> None:
    proc = ENGINE.procedure("key_loan")
    assert note in render_sop(proc, lang)
    assert "Key keeper, Clerk (Officer who hands the key over)" in render_mermaid(proc, lang)
