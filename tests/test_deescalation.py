"""Escalation that comes down: `deescalates` on a branch, live, in replay, in the SOP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Actor, Case, Engine, Event, Rejected
from servflow.procedures import load_text
from servflow.render.sop import render_sop

MATTER = """
servflow: 1
id: matter
version: 1
title: {zh-Hant: 事項, zh-Hans: 事项, en: Matter}
roles:
  staff: {title: {zh-Hant: 專員, zh-Hans: 专员, en: Officer}, rank: 1}
  supervisor: {title: {zh-Hant: 主管, zh-Hans: 主管, en: Supervisor}, rank: 2}
  manager: {title: {zh-Hant: 經理, zh-Hans: 经理, en: Manager}, rank: 3}
escalation: [staff, supervisor, manager]
states:
  open: {title: {en: Open}}
  done: {title: {en: Done}, final: true}
start: {to: open, roles: [staff]}
transitions:
  escalate: {from: open, to: open, roles: [staff, supervisor, manager], escalates: true}
  settle:
    from: open
    to: open
    roles: [staff, supervisor, manager]
    follows_escalation: true
    deescalates: true
  hand_back:
    from: open
    to: open
    roles: [supervisor, manager]
    follows_escalation: true
    deescalates: supervisor
  close: {from: open, to: done, roles: [staff, supervisor, manager], follows_escalation: true}
"""

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ALL = Actor(id="m1", roles={"staff", "supervisor", "manager"})
STAFF = Actor(id="s1", roles={"staff"})


def _engine() -> Engine:
    result = load_text(MATTER, file="matter.yaml")
    assert result.ok, result.diagnostics
    assert result.procedure is not None
    return Engine([result.procedure])


ENGINE = _engine()


def _opened() -> tuple[Case, list[Event]]:
    out = ENGINE.start("matter", actor=STAFF, at=AT)
    return out.case, list(out.events)


def _step(case: Case, log: list[Event], trigger: str, actor: Actor = ALL) -> Case:
    out = ENGINE.fire(case, trigger, actor=actor, at=AT + timedelta(minutes=len(log)))
    log.extend(out.events)
    return out.case


def test_a_settled_matter_comes_back_down_to_the_first_rung() -> None:
    case, log = _opened()
    case = _step(case, log, "escalate")
    case = _step(case, log, "escalate")
    assert case.escalation_level == 2
    with pytest.raises(Rejected) as info:
        ENGINE.fire(case, "close", actor=STAFF, at=AT + timedelta(hours=1))
    assert info.value.reason == "forbidden"
    case = _step(case, log, "settle")
    assert case.escalation_level == 0
    assert log[-1].detail == {"escalation_level": 0}
    # The officer may act again.
    assert _step(case, log, "close", STAFF).state == "done"
    assert ENGINE.replay(log) == ENGINE.verify(log).case
    assert ENGINE.verify(log).ok


def test_a_named_rung_is_a_ceiling_never_a_raise() -> None:
    case, log = _opened()
    case = _step(case, log, "escalate")
    case = _step(case, log, "escalate")
    case = _step(case, log, "hand_back")
    assert case.escalation_level == 1
    case = _step(case, log, "settle")
    case = _step(case, log, "hand_back")
    assert case.escalation_level == 0  # at the first rung already: it stays there
    assert ENGINE.replay(log) == case


def test_a_log_that_claims_another_level_is_refuted() -> None:
    case, log = _opened()
    case = _step(case, log, "escalate")
    _step(case, log, "settle")
    forged = log[-1].model_copy(update={"detail": {"escalation_level": 1}})
    report = ENGINE.verify([*log[:-1], forged])
    assert not report.ok
    assert report.first is not None
    assert report.first.seq == forged.seq


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["escalate", "settle", "hand_back"]), max_size=12))
def test_the_level_follows_the_ladder_and_replays(triggers: list[str]) -> None:
    case, log = _opened()
    level = 0
    for trigger in triggers:
        case = _step(case, log, trigger)
        if trigger == "escalate":
            level = min(level + 1, 2)
        elif trigger == "settle":
            level = 0
        else:
            level = min(level, 1)
        assert case.escalation_level == level
    assert ENGINE.replay(log) == case


def test_a_procedure_without_deescalates_keeps_its_digest_input() -> None:
    proc = ENGINE.procedure("matter")
    dumped = proc.model_dump(mode="json", by_alias=True)["transitions"]
    assert "deescalates" not in dumped["escalate"][0]
    assert dumped["settle"][0]["deescalates"] is True
    assert dumped["hand_back"][0]["deescalates"] == "supervisor"


@pytest.mark.parametrize(
    ("lang", "first", "named"),
    [
        ("zh-Hant", "上報層級回到專員。", "上報層級回到主管。"),
        ("zh-Hans", "上报层级回到专员。", "上报层级回到主管。"),
        ("en", "level back to Officer.", "level back to Supervisor."),
    ],
)
def test_the_sop_says_where_the_level_comes_down_to(lang: str, first: str, named: str) -> None:
    sop = render_sop(ENGINE.procedure("matter"), lang)
    assert first in sop
    assert named in sop
