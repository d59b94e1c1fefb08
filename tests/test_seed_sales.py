"""The sales chain of section H (procedures/sales_*.yaml), as linked cases.

Subscription (認購) opens the signing (簽約) and waits for it; the signed contract opens
the mortgage and filing (按揭, 備案), the filing the title certificate (產權), whose
collection opens the handover (交房入住). Here: the chain end to end through a Desk with
every log replaying to its stored case, a refused step that opens nothing, the authority
rules of the changed clauses and of refund / exchange / change of name, the lawyer's
confirmation before any signing, and the family's rule table.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow import Actor, Case, Desk, Engine, Rejected
from servflow.cli import main
from servflow.store import CaseNotFound, MemoryStore

REPO = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_directory(REPO / "procedures")
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI)  # a Monday
HOUR = timedelta(hours=1)
CHAIN = (
    "sales_subscription",
    "sales_signing",
    "sales_mortgage",
    "sales_title",
    "sales_handover",
)

CLERK = Actor(id="c1", roles={"sales_cs"})
BOSS = Actor(id="b1", roles={"cs_supervisor"})
MANAGER = Actor(id="m1", roles={"dept_manager"})
LAWYER = Actor(id="l1", roles={"lawyer"})
REP = Actor(id="r1", roles={"legal_rep"})
BUYER = {"unit": "A座 1203", "buyer_name": "王小明", "buyer_phone": "138 0000 0000"}
REVIEW = {
    "area_checked": True,
    "price_checked": True,
    "clauses_checked": True,
    "online_recorded": True,
    "signing_date": "2026-11-27",
    "documents_list": "身份證、首付款憑證",
}


def _opened(desk: Desk, case_id: str) -> str:
    """The id of the one case that the last step of ``case_id`` opened."""
    (child,) = desk.history(case_id)[-1].detail["opens"]
    assert isinstance(child, str)
    return child


def _replays(desk: Desk, *case_ids: str) -> None:
    for case_id in case_ids:
        log = desk.history(case_id)
        assert ENGINE.replay(log) == desk.load(case_id)
        assert ENGINE.verify(log, stored=desk.load(case_id)).ok


def _subscribed(desk: Desk, case_id: str = "s-1") -> str:
    desk.open(
        "sales_subscription",
        actor=CLERK,
        data={**BUYER, "area": "89.50", "price": "1850000"},
        at=T0,
        case_id=case_id,
    )
    desk.fire(case_id, "review", actor=BOSS, data=REVIEW, at=T0 + HOUR)
    return case_id


def test_the_chain_runs_end_to_end_through_linked_cases():
    desk = Desk(ENGINE, MemoryStore())
    sub = _subscribed(desk)
    at = T0 + 2 * HOUR
    desk.fire(sub, "open_signing", actor=BOSS, at=at)
    signing = _opened(desk, sub)
    opened = desk.load(signing)
    assert (opened.procedure, opened.state, opened.data["signing_date"]) == (
        "sales_signing",
        "preparing",
        "2026-11-27",
    )
    assert opened.parent is not None
    assert (opened.parent.case, opened.parent.trigger) == (sub, "signing_closed")

    desk.fire(
        signing, "prepare", actor=CLERK, data={"contract_no": "HT-1", "payment": "full"}, at=at
    )
    signed_on = {"fee_statement_no": "SF-1", "signed_on": "2026-11-27"}
    desk.fire(signing, "sign", actor=CLERK, data=signed_on, at=T0 + timedelta(days=11))
    assert desk.load(sub).state == "contracting"  # waits for its signing
    desk.fire(
        signing,
        "legal_rep_sign",
        actor=REP,
        data={"legal_rep_signed_at": T0 + timedelta(days=11, hours=5)},
        at=T0 + timedelta(days=11, hours=5),
    )
    mortgage = _opened(desk, signing)
    desk.deliver(lambda entry: None, at=T0 + timedelta(days=11, hours=6))
    assert desk.load(sub).state == "contracted"
    assert desk.load(sub).data["contract_outcome"] == "signed"

    assert desk.load(mortgage).data["signed_on"] == "2026-11-27"
    at = T0 + timedelta(days=14)
    desk.fire(mortgage, "no_loan", actor=BOSS, at=at)
    desk.fire(
        mortgage, "file", actor=BOSS, data={"filing_no": "BA-1", "filed_on": "2026-11-30"}, at=at
    )
    title = _opened(desk, mortgage)
    assert desk.load(title).data["filing_no"] == "BA-1"
    desk.fire(title, "plan", actor=MANAGER, data={"plan_date": "2026-12-18"}, at=at + HOUR)
    desk.fire(title, "apply", actor=BOSS, data={"applied_on": "2026-12-01"}, at=at + 2 * HOUR)
    desk.fire(title, "issue", actor=BOSS, data={"certificate_no": "CQ-1"}, at=at + 3 * HOUR)
    desk.fire(title, "collect", actor=CLERK, data={"collected_at": at + 4 * HOUR}, at=at + 4 * HOUR)
    handover = _opened(desk, title)
    desk.fire(
        handover, "arrange", actor=MANAGER, data={"move_in_date": "2026-12-10"}, at=at + 5 * HOUR
    )
    desk.fire(handover, "walk_through", actor=CLERK, data={"issues_found": False}, at=at + 6 * HOUR)
    handed = {"keys_handed_at": at + 7 * HOUR, "pass_no": "PASS-1"}
    desk.fire(handover, "hand_over", actor=CLERK, data=handed, at=at + 7 * HOUR)

    cases = [sub, signing, mortgage, title, handover]
    assert [desk.load(c).procedure for c in cases] == list(CHAIN)
    assert [desk.load(c).state for c in cases] == [
        "contracted",
        "signed",
        "filed",
        "collected",
        "moved_in",
    ]
    # Only the subscription waits for its child; the rest of the chain hands on.
    assert [getattr(desk.load(c).parent, "trigger", None) for c in cases] == [
        None,
        "signing_closed",
        None,
        None,
        None,
    ]
    assert desk.load(handover).data["buyer_name"] == "王小明"  # carried down the chain
    _replays(desk, *cases)


@pytest.mark.parametrize("who", [CLERK, LAWYER, BOSS, MANAGER], ids=lambda a: a.id)
def test_a_rejected_signing_opens_no_mortgage(who):
    desk = Desk(ENGINE, MemoryStore())
    sub = _subscribed(desk)
    desk.fire(sub, "open_signing", actor=BOSS, at=T0 + 2 * HOUR)
    signing = _opened(desk, sub)
    ready = {"contract_no": "HT-1", "payment": "full"}
    desk.fire(signing, "prepare", actor=CLERK, data=ready, at=T0 + 2 * HOUR)
    signed_on = {"fee_statement_no": "SF-1", "signed_on": "2026-11-27"}
    desk.fire(signing, "sign", actor=CLERK, data=signed_on, at=T0 + 3 * HOUR)
    before = desk.load(signing)
    with pytest.raises(Rejected) as refused:
        desk.fire(
            signing,
            "legal_rep_sign",
            actor=who,
            data={"legal_rep_signed_at": T0 + 4 * HOUR},
            at=T0 + 4 * HOUR,
        )
    assert refused.value.reason == "forbidden"  # only the legal representative signs
    assert desk.load(signing) == before
    with pytest.raises(CaseNotFound):
        desk.load(f"{signing}-{before.version + 1}-0")
    assert len(desk.history(signing)) == before.version


def test_a_subscription_not_reviewed_opens_no_signing():
    desk = Desk(ENGINE, MemoryStore())
    desk.open(
        "sales_subscription",
        actor=CLERK,
        data={**BUYER, "area": "89.50", "price": "1850000"},
        at=T0,
        case_id="s-1",
    )
    with pytest.raises(Rejected) as refused:
        desk.fire("s-1", "open_signing", actor=BOSS, at=T0 + HOUR)
    assert refused.value.reason == "not_in_state"
    with pytest.raises(CaseNotFound):
        desk.load("s-1-2-0")
    assert desk.load("s-1").version == 1


# -- lives across the chain: replay equals live, a child for every opening step ----------

ACTIONS = [
    ("sales_subscription", "open_signing", BOSS, {}),
    ("sales_subscription", "withdraw", CLERK, {"withdraw_reason": "改變主意"}),
    ("sales_signing", "prepare", CLERK, {"contract_no": "HT-9", "payment": "mortgage"}),
    ("sales_signing", "change_terms", CLERK, {"special_terms": "延期", "concession": "1500"}),
    ("sales_signing", "change_terms", CLERK, {"special_terms": "贈送", "concession": "9000"}),
    ("sales_signing", "lawyer_decides", LAWYER, {"lawyer_confirmed": True, "lawyer_opinion": "可"}),
    (
        "sales_signing",
        "lawyer_decides",
        LAWYER,
        {"lawyer_confirmed": False, "lawyer_opinion": "否"},
    ),
    ("sales_signing", "sign", CLERK, {"fee_statement_no": "SF-9", "signed_on": "2026-11-27"}),
    ("sales_signing", "legal_rep_sign", REP, {"legal_rep_signed_at": "2026-11-27T15:00:00+08:00"}),
    (
        "sales_signing",
        "legal_rep_sign",
        CLERK,
        {"legal_rep_signed_at": "2026-11-27T15:00:00+08:00"},
    ),
    ("sales_signing", "withdraw", CLERK, {"withdraw_reason": "放棄"}),
    ("sales_mortgage", "submit_loan", BOSS, {"bank": "海景銀行"}),
    ("sales_mortgage", "loan_returned", BOSS, {"refusal_note": "缺件"}),
    (
        "sales_mortgage",
        "loan_released",
        BOSS,
        {"loan_amount": "900000", "loan_released_on": "2026-11-30"},
    ),
    ("sales_mortgage", "file", BOSS, {"filing_no": "BA-9", "filed_on": "2026-12-01"}),
    ("deliver", "", CLERK, {}),
]


def _children(desk: Desk, case_id: str) -> list[str]:
    return [c for e in desk.history(case_id) for c in e.detail.get("opens", [])]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=st.lists(st.sampled_from(range(len(ACTIONS))), max_size=24))
def test_replay_equals_live_across_the_chain(plan):
    desk = Desk(ENGINE, MemoryStore())
    sub = _subscribed(desk)
    cases: dict[str, str] = {"sales_subscription": sub}
    at = T0 + 2 * HOUR
    for index in plan:
        procedure, trigger, actor, data = ACTIONS[index]
        at += timedelta(minutes=13)
        if procedure == "deliver":
            desk.deliver(lambda entry: None, at=at)
            continue
        if procedure not in cases:
            continue
        try:
            desk.fire(cases[procedure], trigger, actor=actor, data=data, at=at)
        except Rejected:
            continue
        for child in _children(desk, cases[procedure])[-1:]:
            cases.setdefault(desk.load(child).procedure, child)
    while desk.deliver(lambda entry: None, at=at + HOUR):
        pass
    for case_id in cases.values():
        _replays(desk, case_id)
        # A child for each step that opened one, and none for a refused step.
        opening = [e for e in desk.history(case_id) if e.detail.get("opens")]
        assert len(_children(desk, case_id)) == len(opening) <= 1
        for child in _children(desk, case_id):
            assert desk.load(child).parent.case == case_id
    signing = cases.get("sales_signing")
    if signing is not None:
        closed = desk.load(signing).state in ("signed", "withdrawn")
        expected = {"signed": "contracted", "withdrawn": "withdrawn"}
        state = desk.load(sub).state
        assert state == (expected[desk.load(signing).state] if closed else "contracting")


# -- the authority rules ------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False)


@settings(max_examples=80, deadline=None)
@given(concession=amounts)
def test_staff_agree_a_special_request_only_within_their_authority(concession):
    """F 二 4: "超出許可權范圍需向部門經理申報" (local policy, an example: 2,000 yuan)."""
    case = _prepared_contract()
    data = {"special_terms": "特殊要求", "concession": str(concession)}
    if concession <= 2000:
        out = ENGINE.fire(case, "change_terms", actor=CLERK, data=data, at=T0 + HOUR)
        assert (out.case.state, out.events[-1].role) == ("lawyer_review", "sales_cs")
    else:
        with pytest.raises(Rejected) as refused:
            ENGINE.fire(case, "change_terms", actor=CLERK, data=data, at=T0 + HOUR)
        assert refused.value.reason == "beyond_authority"
        assert refused.value.details["could_decide"] == ["dept_manager"]
    out = ENGINE.fire(case, "change_terms", actor=MANAGER, data=data, at=T0 + HOUR)
    assert (out.case.state, out.events[-1].role) == ("lawyer_review", "dept_manager")


requests = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["rename", "exchange", "refund"]),
        "amount": st.none() | amounts,
    }
)


def _within_staff_authority(kind: str, amount: Decimal | None) -> bool:
    return kind == "rename" or (kind == "refund" and amount is not None and amount <= 5000)


@settings(max_examples=120, deadline=None)
@given(request=requests)
def test_refund_exchange_and_change_of_name_beyond_the_staff_go_to_the_manager(request):
    """退/換房及更名: the staff decide a change of name and a refund up to 5,000 yuan (local
    policy, an example); anything else is refused them, names the department manager, and
    changes nothing; the manager decides every request."""
    kind, amount = request["kind"], request["amount"]
    data: dict[str, Any] = {
        **BUYER,
        "contract_no": "HT-1",
        "kind": kind,
        "reason": "客戶申請",
        "new_buyer_name": "陳美玲" if kind == "rename" else None,
        "new_unit": "A座 1205" if kind == "exchange" else None,
        "amount": None if amount is None else str(amount),
    }
    data = {k: v for k, v in data.items() if v is not None}
    if kind == "refund" and amount is None:
        with pytest.raises(Rejected) as unnamed:
            ENGINE.start("sales_change", actor=CLERK, data=data, at=T0)
        assert unnamed.value.reason == "guard_failed"
        return
    case = ENGINE.start("sales_change", actor=CLERK, data=data, at=T0).case
    decision = {"decision_note": "同意"}
    if _within_staff_authority(kind, amount):
        out = ENGINE.fire(case, "approve", actor=CLERK, data=decision, at=T0 + HOUR)
        assert out.case.state == "approved"
    else:
        with pytest.raises(Rejected) as refused:
            ENGINE.fire(case, "approve", actor=CLERK, data=decision, at=T0 + HOUR)
        assert refused.value.reason == "beyond_authority"
        assert refused.value.details["could_decide"] == ["dept_manager"]
        assert "王小明" not in str(refused.value)  # personal data never in a refusal
        referred = ENGINE.fire(case, "refer", actor=CLERK, at=T0 + HOUR).case
        assert referred.state == "with_manager"
        with pytest.raises(Rejected):
            ENGINE.fire(referred, "approve", actor=CLERK, data=decision, at=T0 + 2 * HOUR)
        case = referred
    assert ENGINE.fire(
        case, "approve", actor=MANAGER, data=decision, at=T0 + 2 * HOUR
    ).case.state == ("approved")


# -- the lawyer before every signing ------------------------------------------------------


def _prepared_contract() -> Case:
    data = {**BUYER, "price": "1850000", "signing_date": "2026-11-27"}
    case = ENGINE.start("sales_signing", actor=CLERK, data=data, at=T0).case
    ready = {"contract_no": "HT-1", "payment": "mortgage"}
    return ENGINE.fire(case, "prepare", actor=CLERK, data=ready, at=T0).case


@settings(max_examples=60, deadline=None)
@given(rounds=st.lists(st.tuples(amounts, st.booleans()), max_size=4))
def test_no_contract_is_signed_with_a_clause_the_lawyer_did_not_confirm(rounds):
    """H ②: "合同條款有變動的需經律師確定後再簽約", whatever the lawyer decides each round."""
    case = _prepared_contract()
    at = T0 + HOUR
    signing = {"fee_statement_no": "SF-1", "signed_on": "2026-11-27"}
    for concession, confirmed in rounds:
        data = {"special_terms": "變動條款", "concession": str(concession)}
        case = ENGINE.fire(case, "change_terms", actor=MANAGER, data=data, at=at).case
        with pytest.raises(Rejected) as waiting:  # nobody signs while the lawyer reviews
            ENGINE.fire(case, "sign", actor=CLERK, data=signing, at=at)
        assert waiting.value.reason == "not_in_state"
        opinion = {"lawyer_confirmed": confirmed, "lawyer_opinion": "意見"}
        case = ENGINE.fire(case, "lawyer_decides", actor=LAWYER, data=opinion, at=at).case
        assert case.state == "prepared"
        assert (case.data["special_terms"] is not None) == confirmed
    signed = ENGINE.fire(case, "sign", actor=CLERK, data=signing, at=at).case
    assert signed.state == "client_signed"
    assert signed.data["special_terms"] is None or signed.data["lawyer_confirmed"] is True


def test_the_buyer_moving_the_signing_day_moves_the_deadline_to_prepare():
    """F 二 1 and H ① 7): ready one working day before the signing date (local policy)."""
    data = {**BUYER, "price": "1850000", "signing_date": "2026-11-27"}
    case = ENGINE.start("sales_signing", actor=CLERK, data=data, at=T0).case
    assert case.timers["ready_before_signing"].due_at == datetime(
        2026, 11, 26, 17, 30, tzinfo=SHANGHAI
    )
    moved = ENGINE.fire(
        case, "reschedule", actor=CLERK, data={"signing_date": "2026-12-04"}, at=T0 + HOUR
    ).case
    assert moved.timers["ready_before_signing"].due_at == datetime(
        2026, 12, 3, 17, 30, tzinfo=SHANGHAI
    )


# -- the command line reads the chain's links ---------------------------------------------


def test_a_linking_procedure_is_explored_and_its_scenarios_run(capsys):
    for name in ("sales_subscription", "sales_signing", "sales_mortgage", "sales_title"):
        code = main(["explore", "--lives", "5", str(REPO / "procedures" / f"{name}.yaml")])
        out = capsys.readouterr().out
        assert code == 0, out
        assert f"{name}: 0 findings" in out
    scenarios = sorted((REPO / "procedures" / "scenarios").glob("sales_*.yaml"))
    assert len(scenarios) >= 6 * 3
    assert main(["test", *map(str, scenarios)]) == 0
    assert f"{len(scenarios)} passed, 0 failed" in capsys.readouterr().out


# -- the rule table -----------------------------------------------------------------------

RULES = REPO / "docs" / "procedures" / "rules" / "sales.md"
REFERENCE = re.compile(r"`([a-z][a-z0-9_]*):([a-z0-9_.]+)`")


def _resolves(procedure: str, path: str) -> bool:
    node: Any = ENGINE.procedure(procedure).model_dump(by_alias=True, exclude_none=True)
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return True


def test_the_rule_table_names_where_each_rule_lives():
    text = RULES.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("# ")
    assert "H" in lines[0]
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| § | Seed rule | Where it lives |"
    assert re.fullmatch(r"\|(\s*-+\s*\|){3}", table[1])
    rows = [[cell.strip() for cell in row.strip("|").split("|")] for row in table[2:]]
    assert len(rows) >= 30
    encoded = 0
    for section, rule, where in rows:
        assert section
        assert rule
        assert where
        assert re.search(r"[\u4e00-\u9fff]", rule), rule  # quotes the seed
        references = REFERENCE.findall(where)
        assert references or where.startswith("Left out:"), where
        for procedure, path in references:
            assert procedure.startswith("sales_"), where
            assert _resolves(procedure, path), f"{procedure}:{path}"
        encoded += bool(references)
    assert encoded >= 20
    # Every procedure of the family is named by the table.
    named = {p for _, _, where in rows for p, _ in REFERENCE.findall(where)}
    assert named == {*CHAIN, "sales_change"}
