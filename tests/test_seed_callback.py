"""The shared callback (回訪管理 §4.3) and the repair and complaint that open it (version 3).

Examples run a repair and a complaint through the desk: the completed repair (the replied
complaint) opens a callback case, the designated officer records the result, and the
outbox brings it back to the parent exactly once. Properties: whatever the callback's
result, the parent ends where the result says (closed, back to rework, closed
unreachable); replaying each log, parent and child, rebuilds the live case; delivering
the outbox again never resumes a parent twice; the callback ends unreachable after three
unanswered calls and never before. The rule tables of the two families name only keys
that exist.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Actor, Desk, Engine, Rejected, kpi
from servflow.store import MemoryStore

REPO = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_directory(REPO / "procedures")
TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)

CLERK = Actor(id="c1", roles={"repair_reception"})
STAFF = Actor(id="s1", roles={"cs_staff"})
BOSS = Actor(id="b1", roles={"cs_supervisor"})
OFFICER = Actor(id="o7", roles={"callback_officer"})

REPAIR = {
    "resident_name": "王小明",
    "address": "3棟1204室",
    "phone": "138 0013 8000",
    "fault": "廚房水龍頭漏水",
    "appointment_at": MONDAY + timedelta(hours=3),
}
COMPLAINT = {
    "complainant_name": "陳女士",
    "phone": "138 1111 2222",
    "unit": "7棟0601室",
    "content": "樓上漏水滲到天花板",
    "received_at": MONDAY,
}


def _deliver(desk: Desk, at: datetime) -> None:
    desk.deliver(lambda entry: None, at=at)


def _completed_repair(desk: Desk, case_id: str, at: datetime) -> str:
    """Open, dispatch and complete a repair; the id of the callback case it opened."""
    desk.open("repair", actor=CLERK, data=REPAIR, at=at, case_id=case_id)
    desk.fire(case_id, "dispatch", actor=CLERK, data={"technician": "李師傅"}, at=at)
    return _complete(desk, case_id, at + timedelta(hours=2))


def _complete(desk: Desk, case_id: str, at: datetime) -> str:
    data = {"work_order_no": f"WO-{at:%H%M}", "completed_at": at}
    desk.fire(case_id, "complete", actor=CLERK, data=data, at=at)
    [child] = desk.history(case_id)[-1].detail["opens"]
    return str(child)


def _call(desk: Desk, child: str, at: datetime, *, satisfied: bool | None) -> None:
    """Designate the officer and record the result (``None``: three unanswered calls)."""
    desk.fire(child, "designate", actor=BOSS, data={"callback_officer": "o7"}, at=at)
    if satisfied is None:
        for n in range(3):
            notes = {"callback_notes": f"第{n + 1}次無人接聽"}
            desk.fire(child, "unanswered", actor=OFFICER, data=notes, at=at)
        desk.fire(
            child, "close_unreachable", actor=OFFICER, data={"callback_notes": "無法聯繫"}, at=at
        )
    else:
        data = {"satisfied": satisfied, "callback_notes": "回訪記錄"}
        desk.fire(child, "record_result", actor=OFFICER, data=data, at=at)


def _replays(desk: Desk, *case_ids: str) -> None:
    for case_id in case_ids:
        assert ENGINE.replay(desk.history(case_id)) == desk.load(case_id)


# -- examples ------------------------------------------------------------------------------


def test_a_completed_repair_opens_its_callback_with_the_residents_details():
    desk = Desk(ENGINE, MemoryStore())
    child = _completed_repair(desk, "r-1", MONDAY)
    callback = desk.load(child)
    assert (callback.procedure, callback.state) == ("callback", "to_designate")
    assert callback.parent is not None
    assert (callback.parent.case, callback.parent.trigger) == ("r-1", "callback_done")
    assert callback.data["subject"] == "廚房水龍頭漏水"
    assert callback.data["phone"] == "138 0013 8000"
    assert desk.load("r-1").state == "awaiting_callback"
    assert "callback_in_time" in callback.timers


def test_only_the_designated_officer_records_the_result():
    desk = Desk(ENGINE, MemoryStore())
    child = _completed_repair(desk, "r-1", MONDAY)
    later = MONDAY + timedelta(hours=3)
    desk.fire(child, "designate", actor=BOSS, data={"callback_officer": "o7"}, at=later)
    other = Actor(id="o8", roles={"callback_officer"})
    with pytest.raises(Rejected) as info:
        desk.fire(
            child,
            "record_result",
            actor=other,
            data={"satisfied": True, "callback_notes": "滿意"},
            at=later,
        )
    assert info.value.reason == "forbidden"
    assert desk.load(child).state == "to_call"


def test_unsatisfied_sends_the_repair_back_and_the_second_callback_closes_it():
    desk = Desk(ENGINE, MemoryStore())
    first = _completed_repair(desk, "r-1", MONDAY)
    _call(desk, first, MONDAY + timedelta(hours=4), satisfied=False)
    _deliver(desk, MONDAY + timedelta(hours=5))
    repair = desk.load("r-1")
    assert repair.state == "dispatched"
    assert (repair.data["satisfied"], repair.data["work_order_no"]) == (False, None)
    second = _complete(desk, "r-1", MONDAY + timedelta(days=1))
    assert second != first
    assert desk.load("r-1").data["satisfied"] is None  # a new round: the old answer is gone
    _call(desk, second, MONDAY + timedelta(days=1, hours=2), satisfied=True)
    _deliver(desk, MONDAY + timedelta(days=1, hours=3))
    assert desk.load("r-1").state == "closed"
    _replays(desk, "r-1", first, second)


def test_a_complaint_replied_to_opens_its_callback_and_closes_on_its_result():
    desk = Desk(ENGINE, MemoryStore())
    desk.open("complaint", actor=STAFF, data=COMPLAINT, at=MONDAY, case_id="k-1")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("accept", {"handler": "李小姐"}),
        ("classify", {"category": "problem_solving"}),
        ("refer", {"department": "maintenance"}),
        ("reply", {"reply": "已安排維修部上門。"}),
    ]
    for trigger, data in steps:
        desk.fire("k-1", trigger, actor=STAFF, data=data, at=MONDAY + timedelta(hours=1))
    [child] = desk.history("k-1")[-1].detail["opens"]
    callback = desk.load(child)
    assert (callback.data["subject"], callback.data["resident_name"]) == (
        "樓上漏水滲到天花板",
        "陳女士",
    )
    _call(desk, child, MONDAY + timedelta(hours=3), satisfied=None)
    _deliver(desk, MONDAY + timedelta(hours=4))
    complaint = desk.load("k-1")
    assert complaint.state == "closed_unreachable"
    assert complaint.data["callback_attempts"] == 3
    _replays(desk, "k-1", child)


def test_a_venting_complaint_closes_after_listening_without_a_callback():
    desk = Desk(ENGINE, MemoryStore())
    desk.open("complaint", actor=STAFF, data=COMPLAINT, at=MONDAY, case_id="k-2")
    desk.fire("k-2", "accept", actor=STAFF, data={"handler": "李小姐"}, at=MONDAY)
    desk.fire("k-2", "classify", actor=STAFF, data={"category": "venting"}, at=MONDAY)
    case = desk.fire(
        "k-2",
        "close_after_listening",
        actor=STAFF,
        data={"listening_notes": "已傾聽勸慰"},
        at=MONDAY,
    )
    assert case.state == "closed"
    assert not any(e.detail.get("opens") for e in desk.history("k-2"))


@pytest.mark.parametrize("category", ["problem_solving", "expectation"])
def test_only_a_venting_complaint_closes_after_listening(category):
    out = ENGINE.start("complaint", actor=STAFF, data=COMPLAINT, at=MONDAY)
    case = ENGINE.fire(out.case, "accept", actor=STAFF, data={"handler": "李"}, at=MONDAY).case
    case = ENGINE.fire(case, "classify", actor=STAFF, data={"category": category}, at=MONDAY).case
    with pytest.raises(Rejected) as info:
        ENGINE.fire(
            case, "close_after_listening", actor=STAFF, data={"listening_notes": "x"}, at=MONDAY
        )
    assert info.value.reason == "guard_failed"


def test_the_callback_rate_counts_version_3_results_and_version_2_callbacks_alike():
    store = MemoryStore()
    desk = Desk(ENGINE, store)
    # Version 3: one satisfied, one unreachable, one still waiting for its callback.
    for case_id, satisfied in (("r-1", True), ("r-2", None)):
        child = _completed_repair(desk, case_id, MONDAY)
        _call(desk, child, MONDAY + timedelta(hours=4), satisfied=satisfied)
    _completed_repair(desk, "r-3", MONDAY)
    _deliver(desk, MONDAY + timedelta(hours=5))
    # Version 2: the callback is the repair's own step.
    v2 = ENGINE.start("repair", actor=CLERK, data=REPAIR, at=MONDAY, case_id="r-4", version=2)
    log, case = list(v2.events), v2.case
    done = {"work_order_no": "WO-4", "completed_at": MONDAY + timedelta(hours=1)}
    answer = {"satisfied": True, "callback_notes": "滿意"}
    for trigger, actor, data in (
        ("dispatch", CLERK, {"technician": "李師傅"}),
        ("complete", CLERK, done),
        ("designate_callback", BOSS, {"callback_officer": "o7"}),
        ("callback", OFFICER, answer),
    ):
        step = ENGINE.fire(case, trigger, actor=actor, data=data, at=MONDAY + timedelta(hours=2))
        log += step.events
        case = step.case
    assert case.state == "closed"
    logs = [store.history(case_id) for case_id in store.case_ids()] + [log]
    figures = {
        f.procedure: f
        for f in kpi.compute(ENGINE, logs, start=date(2026, 11, 1), end=date(2026, 12, 1))
    }
    repair = figures["repair"].callback
    assert repair is not None
    assert (repair.due, repair.reached, repair.unreachable) == (4, 2, 1)
    callback = figures["callback"].callback
    assert callback is not None
    assert (callback.due, callback.reached, callback.unreachable) == (3, 1, 1)


# -- properties ----------------------------------------------------------------------------

RESULTS = st.sampled_from([True, False, None])  # satisfied, not satisfied, unreachable


@settings(max_examples=25, deadline=None)
@given(result=RESULTS, deliveries=st.integers(min_value=1, max_value=4))
def test_the_parent_ends_where_the_result_says_and_is_resumed_once(result, deliveries):
    desk = Desk(ENGINE, MemoryStore())
    child = _completed_repair(desk, "r-1", MONDAY)
    _call(desk, child, MONDAY + timedelta(hours=4), satisfied=result)
    for n in range(deliveries):
        _deliver(desk, MONDAY + timedelta(hours=5, minutes=n))
    repair = desk.load("r-1")
    expected = {True: "closed", False: "dispatched", None: "closed_unreachable"}[result]
    assert repair.state == expected
    resumed = [e for e in desk.history("r-1") if e.trigger == "callback_done"]
    assert len(resumed) == 1
    assert resumed[0].actor == f"case {child}"
    assert repair.data["callback_result"] == ("unreachable" if result is None else "reached")
    _replays(desk, "r-1", child)


@settings(max_examples=25, deadline=None)
@given(calls=st.integers(min_value=0, max_value=5))
def test_a_callback_ends_unreachable_after_three_unanswered_calls_and_never_before(calls):
    out = ENGINE.start(
        "callback", actor=STAFF, data={"subject": "漏水", "phone": "138 0000 0000"}, at=MONDAY
    )
    events = list(out.events)
    case = ENGINE.fire(
        out.case, "designate", actor=BOSS, data={"callback_officer": "o7"}, at=MONDAY
    )
    events += case.events
    live = case.case
    for n in range(calls):
        step = ENGINE.fire(
            live, "unanswered", actor=OFFICER, data={"callback_notes": f"{n}"}, at=MONDAY
        )
        events += step.events
        live = step.case
    assert live.data["callback_attempts"] == (calls or None)
    give_up = {"callback_notes": "無法聯繫"}
    if calls >= 3:
        ended = ENGINE.fire(live, "close_unreachable", actor=OFFICER, data=give_up, at=MONDAY)
        assert ended.case.state == "unreachable"
        events += ended.events
        live = ended.case
    else:
        with pytest.raises(Rejected) as info:
            ENGINE.fire(live, "close_unreachable", actor=OFFICER, data=give_up, at=MONDAY)
        assert info.value.reason == "guard_failed"
    assert ENGINE.replay(events) == live


# -- the rule tables -----------------------------------------------------------------------

RULES = REPO / "docs" / "procedures" / "rules"
HEADER = "| § | Seed rule | Where it lives |"


@functools.cache
def _latest_mapping(procedure: str) -> dict[str, Any]:
    found: dict[int, dict[str, Any]] = {}
    for path in (REPO / "procedures").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if not re.search(rf"^id: {procedure}$", text, re.M):
            continue
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if isinstance(data, dict) and data.get("id") == procedure:
            found[int(data["version"])] = data
    return found[max(found)]


def _resolves(procedure: str, dotted: str) -> bool:
    node: Any = _latest_mapping(procedure)
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize("family", ["repair", "complaint"])
def test_the_rule_table_names_only_keys_that_exist(family):
    text = (RULES / f"{family}.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("# ")
    assert sum(line == HEADER for line in lines) == 1
    rows = [line for line in lines if line.startswith("| ") and line != HEADER]
    assert len(rows) >= 10
    for row in rows[1:]:  # after the separator row
        where = row.rstrip(" |").rsplit(" | ", 1)[1]
        refs = re.findall(r"`(\w+):([\w.]+)`", where)
        assert refs or where.startswith("Left out:"), row
        for procedure, dotted in refs:
            assert _resolves(procedure, dotted), (procedure, dotted)
    assert "`callback:" in text  # the callback rows point at the shared procedure
