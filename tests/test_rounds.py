"""Repeated rounds without stale data: `round` on fields and on the branch that starts one.

A key may be lent again after it came back. Without rounds the second loan's `returned`
step would be satisfied by the first loan's return time; with `round: loan` the fields of
the round are emptied when a loan starts, before any rule of the step reads them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Actor, Case, Engine, Event, Rejected
from servflow.procedures import load_text
from servflow.render.sop import render_sop

KEYS = """
servflow: 1
id: keys
version: 1
title: {zh-Hant: 鑰匙借用, zh-Hans: 钥匙借用, en: Key loans}
roles:
  keeper: {title: {zh-Hant: 保管員, zh-Hans: 保管员, en: Keeper}, rank: 1}
fields:
  unit: {type: string, title: {en: Unit}}
  borrower: {type: string, round: loan, title: {zh-Hant: 借用人, zh-Hans: 借用人, en: Borrower}}
  returned_at: {type: datetime, round: loan, title: {zh-Hant: 歸還時間, zh-Hans: 归还时间, en: Returned at}}
states:
  in_safe: {title: {en: In the safe}}
  lent: {title: {en: Lent}}
  retired: {title: {en: Retired}, final: true}
start: {to: in_safe, roles: [keeper], requires: [unit]}
transitions:
  lend:
    from: in_safe
    to: lent
    roles: [keeper]
    round: loan
    requires: [borrower]
    when: "returned_at is none"
  give_back:
    from: lent
    to: in_safe
    roles: [keeper]
    requires: [returned_at]
  retire: {from: in_safe, to: retired, roles: [keeper]}
"""

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
KEEPER = Actor(id="k1", roles={"keeper"})


def _engine(text: str = KEYS) -> Engine:
    result = load_text(text, file="keys.yaml")
    assert result.ok, result.diagnostics
    assert result.procedure is not None
    return Engine([result.procedure])


ENGINE = _engine()


def _fire(case: Case, log: list[Event], trigger: str, **data: object) -> Case:
    out = ENGINE.fire(case, trigger, actor=KEEPER, data=data, at=AT + timedelta(hours=len(log)))
    log.extend(out.events)
    return out.case


def _lent_and_back() -> tuple[Case, list[Event]]:
    out = ENGINE.start("keys", actor=KEEPER, data={"unit": "A-1203"}, at=AT)
    case, log = out.case, list(out.events)
    case = _fire(case, log, "lend", borrower="Mr Wong")
    case = _fire(case, log, "give_back", returned_at="2026-11-23T12:00:00+00:00")
    return case, log


def test_a_new_loan_empties_the_last_ones_data_before_its_rules_read_it() -> None:
    case, log = _lent_and_back()
    # The guard reads returned_at as empty: the new round has not been returned yet.
    case = _fire(case, log, "lend", borrower="Ms Lee")
    assert case.data["borrower"] == "Ms Lee"
    assert case.data["returned_at"] is None
    assert log[-1].changes == {"borrower": "Ms Lee", "returned_at": None}
    # So the second give_back needs its own return time.
    with pytest.raises(Rejected) as info:
        ENGINE.fire(case, "give_back", actor=KEEPER, at=AT + timedelta(days=1))
    assert info.value.reason == "invalid_data"
    assert info.value.details["missing"] == ["returned_at"]
    assert ENGINE.replay(log) == case
    assert ENGINE.verify(log).ok


def test_a_round_must_be_given_its_own_values() -> None:
    case, _ = _lent_and_back()
    # The borrower of the last loan does not count for the next one.
    with pytest.raises(Rejected) as info:
        ENGINE.fire(case, "lend", actor=KEEPER, at=AT + timedelta(days=1))
    assert info.value.details["missing"] == ["borrower"]


def test_without_the_round_the_old_value_would_be_read() -> None:
    engine = _engine(KEYS.replace("    round: loan\n", ""))
    out = engine.start("keys", actor=KEEPER, data={"unit": "A-1203"}, at=AT)
    case = engine.fire(out.case, "lend", actor=KEEPER, data={"borrower": "a"}, at=AT).case
    case = engine.fire(
        case, "give_back", actor=KEEPER, data={"returned_at": "2026-11-23T12:00:00+00:00"}, at=AT
    ).case
    with pytest.raises(Rejected) as info:  # the old return time fails the guard
        engine.fire(case, "lend", actor=KEEPER, data={"borrower": "b"}, at=AT)
    assert info.value.reason == "guard_failed"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["Wong", "Lee", "Chan"]), min_size=1, max_size=5))
def test_every_loan_is_its_own_round_and_the_log_replays(borrowers: list[str]) -> None:
    out = ENGINE.start("keys", actor=KEEPER, data={"unit": "A-1203"}, at=AT)
    case, log = out.case, list(out.events)
    for i, name in enumerate(borrowers):
        case = _fire(case, log, "lend", borrower=name)
        assert case.data["returned_at"] is None
        with pytest.raises(Rejected):
            ENGINE.fire(case, "give_back", actor=KEEPER, at=AT + timedelta(days=1))
        case = _fire(case, log, "give_back", returned_at=f"2026-11-2{i + 3}T12:00:00+00:00")
    assert ENGINE.replay(log) == case
    assert ENGINE.verify(log, stored=case).ok


def test_stale_requires_is_reported_where_a_loop_can_meet_a_requirement_with_old_data() -> None:
    looped = KEYS.replace("    round: loan\n", "")
    codes = [(d.code, d.line) for d in load_text(looped, file="k.yaml").diagnostics]
    assert ("stale-requires", 22) in codes  # lend requires borrower
    assert ("stale-requires", 28) in codes  # give_back requires returned_at
    assert not [d for d in load_text(KEYS, file="k.yaml").diagnostics if d.code == "stale-requires"]
    # A `clear` on the loop is as good as a round.
    cleared = looped.replace(
        "    requires: [returned_at]\n", "    requires: [returned_at]\n    clear: [borrower]\n"
    )
    found = [(d.code, d.line) for d in load_text(cleared, file="k.yaml").diagnostics]
    assert ("stale-requires", 22) not in found
    assert ("stale-requires", 28) in found


def test_a_branch_that_starts_an_unknown_round_is_an_error() -> None:
    result = load_text(KEYS.replace("round: loan\n    requires", "round: lone\n    requires"))
    assert [d.code for d in result.diagnostics if d.severity == "error"] == ["unknown-round"]


def test_fields_without_a_round_keep_the_digest_input() -> None:
    proc = ENGINE.procedure("keys")
    dumped = proc.model_dump(mode="json", by_alias=True)
    assert "round" not in dumped["fields"]["unit"]
    assert dumped["fields"]["borrower"]["round"] == "loan"
    assert "round" not in dumped["transitions"]["give_back"][0]


@pytest.mark.parametrize(
    ("lang", "note"),
    [
        ("zh-Hant", "此步驟開始新一輪「loan」，先清空：借用人、歸還時間。"),
        ("zh-Hans", "此步骤开始新一轮「loan」，先清空：借用人、归还时间。"),
        ("en", "This step starts a new round “loan”, emptying first: Borrower, Returned at."),
    ],
)
def test_the_sop_says_what_a_new_round_empties(lang: str, note: str) -> None:
    assert note in render_sop(ENGINE.procedure("keys"), lang)
