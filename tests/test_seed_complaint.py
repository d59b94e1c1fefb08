"""The complaint procedure, version 2 (procedures/complaint.v2.yaml): path, refusals,
escalation, time.

Version 2 keeps its own callback steps; the cases opened on it run on it until they
close. Version 3 (its callback a linked case, the venting complaint closed after
listening) is tested in test_seed_callback.py and its scenarios.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from servflow import Case, Effect, Rejected

M = timedelta(minutes=1)
H = timedelta(hours=1)

COMPLAINT = {
    "complainant_name": "陳大文",
    "phone": "138 0013 8000",
    "unit": "A座 1203",
    "channel": "hotline",
    "content": "電梯夜間噪音，多次反映未解決",
    "received_at": "2026-11-09T08:55:00+08:00",
}


def _effects(outcome):
    return [(e.kind, e.recipient, e.template) for e in outcome.effects]


def _open(seed_engine, seed_actors, at, **extra):
    return seed_engine.start(
        "complaint",
        actor=seed_actors["operator"],
        data={**COMPLAINT, **extra},
        at=at,
        version=2,
    )


def _referred(seed_engine, seed_actors, t0):
    """A complaint accepted, classified and with the department: (case, events)."""
    out = _open(seed_engine, seed_actors, t0)
    case, log = out.case, list(out.events)
    for trigger, data, offset in [
        ("accept", {"handler": "李小姐"}, 10 * M),
        ("classify", {"category": "problem_solving"}, 15 * M),
        ("refer", {"department": "maintenance"}, 20 * M),
    ]:
        out = seed_engine.fire(
            case, trigger, actor=seed_actors["cs_staff"], data=data, at=t0 + offset
        )
        case = out.case
        log += out.events
    return case, log


def test_happy_path_with_unsatisfied_callback(seed_engine, seed_actors, seed_t0):
    a, t0 = seed_actors, seed_t0
    out = _open(seed_engine, a, t0)
    (started,) = out.events
    assert (
        started.seq,
        started.kind,
        started.trigger,
        started.role,
        started.source,
        started.target,
    ) == (
        1,
        "started",
        "start",
        "operator",
        None,
        "received",
    )
    assert started.changes == {**COMPLAINT, "kind": "complaint"}
    assert _effects(out) == [("record", "業主投訴記錄表", None)]
    case, log = out.case, list(out.events)
    assert sorted(case.timers) == ["acceptance", "referral", "reply_in_time"]

    steps = [
        (
            "accept",
            "cs_staff",
            {"handler": "李小姐"},
            10 * M,
            "received",
            "accepted",
            [("notify", "resident", "complaint_accepted")],
        ),
        (
            "classify",
            "cs_staff",
            {"category": "problem_solving"},
            15 * M,
            "accepted",
            "classified",
            [],
        ),
        (
            "refer",
            "cs_staff",
            {"department": "maintenance"},
            20 * M,
            "classified",
            "handling",
            [("notify", "responsible_department", "complaint_referral")],
        ),
        (
            "promise_reply",
            "cs_staff",
            {"reply_due": "2026-11-11"},
            60 * M,
            "handling",
            "reply_promised",
            [("notify", "resident", "complaint_reply_date")],
        ),
        (
            "reply",
            "cs_staff",
            {"reply": "已安排維修部更換電梯導軌滑塊", "compensation": "150"},
            120 * M,
            "reply_promised",
            "replied",
            [("notify", "resident", "complaint_reply"), ("record", "業主投訴記錄表", None)],
        ),
        (
            "callback",
            "cs_staff",
            {"satisfied": False, "callback_notes": "晚上仍有噪音"},
            180 * M,
            "replied",
            "handling",
            [
                ("record", "業主投訴記錄表", None),
                ("notify", "responsible_department", "complaint_reopened"),
            ],
        ),
    ]
    for trigger, role, data, offset, source, target, effects in steps:
        out = seed_engine.fire(
            case, trigger, actor=a[role], data=data, at=t0 + offset, expected_version=case.version
        )
        (event,) = out.events
        assert (event.seq, event.kind, event.trigger, event.role) == (
            case.version + 1,
            "fired",
            trigger,
            role,
        )
        assert (event.source, event.target, event.at) == (source, target, t0 + offset)
        assert _effects(out) == effects
        if trigger == "callback":
            assert event.detail == {"branch": 1}
            assert event.changes == {**data, "reply": None}
        else:
            # One branch leaves each of these states: no branch index is recorded.
            assert event.detail == {}
            assert event.changes == data
        case = out.case
        log += out.events
        assert case.state == target

    assert case.data["reply"] is None
    assert case.data["compensation"] == "150"
    assert case.data["reply_due"] == "2026-11-11"
    # The first reply clock was stopped by the promise; the reopened case starts a new one.
    reply_clock = case.timers["reply_in_time"]
    assert (reply_clock.cycle, reply_clock.status, reply_clock.started_at) == (
        2,
        "running",
        t0 + 180 * M,
    )
    assert reply_clock.history[0].ended_at == t0 + 60 * M
    assert reply_clock.history[0].met is True
    assert case.timers["callback_in_time"].status == "stopped"

    for trigger, data, offset, target in [
        ("reply", {"reply": "已更換滑塊並夜間復測"}, 240 * M, "replied"),
        ("callback", {"satisfied": True, "callback_notes": "噪音消除"}, 300 * M, "closed"),
    ]:
        out = seed_engine.fire(case, trigger, actor=a["cs_staff"], data=data, at=t0 + offset)
        (event,) = out.events
        # The new reply starts a new callback round: the first callback's answer is emptied.
        emptied = {"satisfied": None, "callback_notes": None} if trigger == "reply" else {}
        assert (event.seq, event.source, event.target, event.changes) == (
            case.version + 1,
            case.state,
            target,
            {**data, **emptied},
        )
        case = out.case
        log += out.events
    assert out.events[0].detail == {"branch": 0}
    assert _effects(out) == [("record", "業主投訴記錄表", None)]
    assert case.state == "closed"
    assert case.version == 9
    assert case.escalation_level == 0
    assert case.next_due is None
    assert [e.seq for e in log] == list(range(1, 10))
    assert seed_engine.replay(log) == case
    assert Case.model_validate(case.model_dump(mode="json")) == case


def test_suggestion_skips_classification(seed_engine, seed_actors, seed_t0, seed_reject):
    a, t0 = seed_actors, seed_t0
    case = _open(seed_engine, a, t0, kind="suggestion", content="建議增設快遞櫃").case
    case = seed_engine.fire(
        case, "accept", actor=a["cs_staff"], data={"handler": "李小姐"}, at=t0 + 5 * M
    ).case
    r = seed_reject(
        case,
        "classify",
        "guard_failed",
        actor=a["cs_staff"],
        data={"category": "expectation"},
        at=t0 + 6 * M,
    )
    assert r.details["expression"] == "kind == 'complaint'"
    out = seed_engine.fire(
        case, "refer", actor=a["cs_staff"], data={"department": "management_office"}, at=t0 + 7 * M
    )
    (event,) = out.events
    assert (event.source, event.target, event.detail) == ("accepted", "handling", {})
    assert out.case.data["category"] is None


def test_complaint_must_be_classified_before_referral(
    seed_engine, seed_actors, seed_t0, seed_reject
):
    a, t0 = seed_actors, seed_t0
    case = _open(seed_engine, a, t0).case
    case = seed_engine.fire(
        case, "accept", actor=a["cs_staff"], data={"handler": "李小姐"}, at=t0 + 5 * M
    ).case
    r = seed_reject(
        case,
        "refer",
        "guard_failed",
        actor=a["cs_staff"],
        data={"department": "security"},
        at=t0 + 6 * M,
    )
    assert r.details["expression"] == "kind == 'suggestion'"


def test_escalation_moves_the_reply_up(seed_engine, seed_actors, seed_t0, seed_reject):
    a, t0 = seed_actors, seed_t0
    case, log = _referred(seed_engine, a, t0)

    # 500 is beyond a customer-service officer's authority (200).
    r = seed_reject(
        case,
        "reply",
        "beyond_authority",
        actor=a["cs_staff"],
        data={"reply": "賠償清潔費", "compensation": 500},
        at=t0 + H,
    )
    assert r.details["could_decide"] == ["cs_supervisor", "cs_manager"]
    assert r.details["roles"] == ["cs_staff"]
    assert r.details["expression"] == "compensation is none or compensation <= 200"

    out = seed_engine.fire(
        case,
        "escalate",
        actor=a["cs_staff"],
        data={"escalation_reason": "賠償超出許可權"},
        at=t0 + H,
    )
    (event,) = out.events
    assert (event.seq, event.trigger, event.role, event.source, event.target) == (
        5,
        "escalate",
        "cs_staff",
        "handling",
        "escalated",
    )
    assert event.detail == {"branch": 0, "escalation_level": 1}
    assert event.changes == {"escalation_reason": "賠償超出許可權"}
    assert _effects(out) == [
        ("notify", "cs_supervisor", "complaint_escalation"),
        ("notify", "resident", "complaint_escalated"),
    ]
    case = out.case
    log += out.events
    assert (case.state, case.escalation_level) == ("escalated", 1)

    # Now only the supervisor (or above) may reply, even within the officer's authority.
    r = seed_reject(
        case, "reply", "forbidden", actor=a["cs_staff"], data={"reply": "已處理"}, at=t0 + 2 * H
    )
    assert r.details["escalation_level"] == 1
    assert r.details["roles"] == ["cs_supervisor", "cs_manager"]
    r = seed_reject(
        case,
        "promise_reply",
        "forbidden",
        actor=a["cs_staff"],
        data={"reply_due": "2026-11-12"},
        at=t0 + 2 * H,
    )
    assert r.details["escalation_level"] == 1
    r = seed_reject(
        case,
        "reply",
        "beyond_authority",
        actor=a["cs_supervisor"],
        data={"reply": "賠償", "compensation": "1500"},
        at=t0 + 2 * H,
    )
    assert r.details["could_decide"] == ["cs_manager"]

    out = seed_engine.fire(
        case,
        "reply",
        actor=a["cs_supervisor"],
        data={"reply": "賠償清潔費並道歉", "compensation": "500"},
        at=t0 + 2 * H,
    )
    (event,) = out.events
    assert (event.role, event.source, event.target) == ("cs_supervisor", "escalated", "replied")
    assert event.changes == {"reply": "賠償清潔費並道歉", "compensation": "500"}
    case = out.case
    log += out.events
    assert case.escalation_level == 1
    assert seed_engine.replay(log) == case


def test_escalation_ladder_tops_out_at_the_manager(seed_engine, seed_actors, seed_t0, seed_reject):
    a, t0 = seed_actors, seed_t0
    case, log = _referred(seed_engine, a, t0)
    out = seed_engine.fire(
        case, "escalate", actor=a["cs_staff"], data={"escalation_reason": "涉及多部門"}, at=t0 + H
    )
    case = out.case
    log += out.events

    # At level 1 the officer may no longer escalate, and a new reason is needed each time.
    seed_reject(
        case,
        "escalate",
        "forbidden",
        actor=a["cs_staff"],
        data={"escalation_reason": "x"},
        at=t0 + 2 * H,
    )
    r = seed_reject(case, "escalate", "invalid_data", actor=a["cs_supervisor"], at=t0 + 2 * H)
    assert r.details["missing"] == ["escalation_reason"]

    out = seed_engine.fire(
        case,
        "escalate",
        actor=a["cs_supervisor"],
        data={"escalation_reason": "投訴人要求經理處理"},
        at=t0 + 2 * H,
    )
    (event,) = out.events
    assert (event.source, event.target, event.detail) == (
        "escalated",
        "escalated",
        {"branch": 1, "escalation_level": 2},
    )
    assert _effects(out) == [
        ("notify", "cs_manager", "complaint_escalation"),
        ("notify", "resident", "complaint_escalated"),
    ]
    case = out.case
    log += out.events
    assert case.escalation_level == 2

    seed_reject(
        case,
        "reply",
        "forbidden",
        actor=a["cs_supervisor"],
        data={"reply": "已處理"},
        at=t0 + 3 * H,
    )
    r = seed_reject(
        case,
        "escalate",
        "guard_failed",
        actor=a["cs_manager"],
        data={"escalation_reason": "x"},
        at=t0 + 3 * H,
    )
    assert r.details["expression"] == ["escalation_level == 0", "escalation_level == 1"]

    out = seed_engine.fire(
        case,
        "reply",
        actor=a["cs_manager"],
        data={"reply": "經理上門致歉", "compensation": 3000},
        at=t0 + 3 * H,
    )
    assert out.events[0].role == "cs_manager"
    assert out.case.data["compensation"] == "3000"
    assert seed_engine.replay([*log, *out.events]) == out.case


def test_unknown_trigger(seed_engine, seed_actors, seed_t0, seed_reject):
    case, _ = _referred(seed_engine, seed_actors, seed_t0)
    r = seed_reject(
        case, "answer", "unknown_trigger", actor=seed_actors["cs_staff"], at=seed_t0 + H
    )
    assert r.details == {"trigger": "answer"}


def test_not_in_state(seed_engine, seed_actors, seed_t0, seed_reject):
    case = _open(seed_engine, seed_actors, seed_t0).case
    r = seed_reject(
        case,
        "reply",
        "not_in_state",
        actor=seed_actors["cs_staff"],
        data={"reply": "好"},
        at=seed_t0 + M,
    )
    assert r.details["state"] == "received"
    assert r.details["allowed_from"] == ["handling", "reply_promised", "escalated"]


def test_forbidden(seed_engine, seed_actors, seed_t0, seed_reject):
    case = _open(seed_engine, seed_actors, seed_t0).case
    r = seed_reject(
        case,
        "accept",
        "forbidden",
        actor=seed_actors["resident"],
        data={"handler": "我"},
        at=seed_t0 + M,
    )
    assert r.details["roles"] == ["cs_staff", "cs_supervisor", "cs_manager"]
    r = seed_reject(
        case,
        "accept",
        "forbidden",
        actor=seed_actors["operator"],
        data={"handler": "我"},
        at=seed_t0 + M,
    )
    assert r.details["actor"] == "u-operator"


@pytest.mark.parametrize(
    ("trigger", "data", "field", "text"),
    [
        ("reply", {"reply": "好", "compensaton": 5}, "compensaton", "unknown field"),
        ("reply", {"reply": "好", "compensation": "a lot"}, "compensation", "expected a number"),
        ("reply", {"reply": "好", "compensation": -5}, "compensation", "below the minimum"),
        ("reply", {"reply": "好", "department": "security"}, "department", "does not accept"),
        ("promise_reply", {"reply_due": "next week"}, "reply_due", "expected a date"),
        ("promise_reply", {}, "reply_due", "requires reply_due"),
        ("cancel", {}, "cancel_reason", "requires cancel_reason"),
    ],
)
def test_invalid_data(seed_engine, seed_actors, seed_t0, seed_reject, trigger, data, field, text):
    case, _ = _referred(seed_engine, seed_actors, seed_t0)
    r = seed_reject(
        case, trigger, "invalid_data", actor=seed_actors["cs_staff"], data=data, at=seed_t0 + H
    )
    assert r.details["field"] == field
    assert text in r.message


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        ({**COMPLAINT, "phone": "not a phone"}, "phone", "does not match the pattern"),
        (
            {**COMPLAINT, "kind": "praise"},
            "kind",
            "is not one of complaint (投訴 / 投诉 / Complaint), suggestion (合理化建議",
        ),
        ({**COMPLAINT, "received_at": "2026-11-09T08:55:00"}, "received_at", "naive"),
        ({k: v for k, v in COMPLAINT.items() if k != "unit"}, "unit", "requires unit"),
        ({**COMPLAINT, "department": "security"}, "department", "does not accept"),
    ],
)
def test_invalid_data_at_start(seed_engine, seed_actors, seed_t0, data, field, text):
    with pytest.raises(Rejected) as info:
        seed_engine.start("complaint", actor=seed_actors["operator"], data=data, at=seed_t0)
    assert info.value.reason == "invalid_data"
    assert info.value.details["field"] == field
    assert text in info.value.message
    # The phone is personal data: its value never appears in the refusal.
    assert "not a phone" not in str(info.value)


def test_stale_version(seed_engine, seed_actors, seed_t0, seed_reject):
    case, _ = _referred(seed_engine, seed_actors, seed_t0)
    r = seed_reject(
        case,
        "reply",
        "stale_version",
        actor=seed_actors["cs_staff"],
        data={"reply": "好"},
        at=seed_t0 + H,
        expected_version=3,
    )
    assert r.details == {"expected": 3, "actual": 4}


def test_withdrawn_complaint_is_final(seed_engine, seed_actors, seed_t0, seed_reject):
    a, t0 = seed_actors, seed_t0
    case, log = _referred(seed_engine, a, t0)
    out = seed_engine.fire(
        case, "cancel", actor=a["resident"], data={"cancel_reason": "問題已自行解決"}, at=t0 + H
    )
    (event,) = out.events
    assert (event.role, event.source, event.target) == ("resident", "handling", "cancelled")
    assert _effects(out) == [("record", "業主投訴記錄表", None)]
    case = out.case
    # Withdrawing stops every clock: nothing is left to fall due.
    assert case.next_due is None
    assert {name: t.status for name, t in case.timers.items()} == {
        "acceptance": "stopped",
        "referral": "stopped",
        "reply_in_time": "stopped",
    }
    r = seed_reject(
        case, "reply", "final_state", actor=a["cs_supervisor"], data={"reply": "好"}, at=t0 + 2 * H
    )
    assert r.details == {"state": "cancelled", "trigger": "reply"}
    assert seed_engine.replay([*log, event]) == case


def test_acceptance_limit_warns_then_breaches(seed_engine, seed_actors, seed_t0):
    t0 = seed_t0
    opened = _open(seed_engine, seed_actors, t0)
    case = opened.case
    assert case.next_due == t0 + 15 * M

    warned = seed_engine.advance(case, at=t0 + 20 * M)
    (event,) = warned.events
    assert (event.kind, event.trigger, event.time_limit, event.at, event.seq) == (
        "warned",
        "acceptance",
        "acceptance",
        t0 + 15 * M,
        2,
    )
    assert event.detail == {"percent": 50.0, "percent_key": 5000, "cycle": 1}
    assert warned.effects == (
        Effect(
            kind="notify",
            case_id=case.id,
            at=t0 + 15 * M,
            trigger="acceptance",
            recipient="cs_staff",
            time_limit="acceptance",
            detail={"warning": 50.0},
        ),
    )

    breached = seed_engine.advance(warned.case, at=t0 + 45 * M)
    (event,) = breached.events
    assert (event.kind, event.at, event.seq, event.source, event.target) == (
        "breached",
        t0 + 30 * M,
        3,
        "received",
        "received",
    )
    assert event.detail == {"steps": [0], "cycle": 1}
    assert breached.effects == (
        Effect(
            kind="notify",
            case_id=case.id,
            at=t0 + 30 * M,
            trigger="acceptance",
            recipient="cs_supervisor",
            template="complaint_acceptance_overdue",
            time_limit="acceptance",
            detail={"breach": True},
        ),
    )
    assert breached.case.escalation_level == 0
    # Next: the referral limit (2 hours).
    assert breached.case.next_due == t0 + 2 * H
    assert seed_engine.replay([*opened.events, *warned.events, *breached.events]) == breached.case


def test_overdue_reply_escalates_automatically(seed_engine, seed_actors, seed_t0, seed_reject):
    a, t0 = seed_actors, seed_t0
    case, log = _referred(seed_engine, a, t0)
    # Only the 24-hour reply clock still runs: warnings at 12 h and 19 h 12 min.
    assert {n for n, t in case.timers.items() if t.status == "running"} == {"reply_in_time"}
    assert case.next_due == t0 + 12 * H

    first = seed_engine.advance(case, at=t0 + 26 * H)
    assert [(e.kind, e.at, e.seq) for e in first.events] == [
        ("warned", t0 + 12 * H, 5),
        ("warned", t0 + 19 * H + 12 * M, 6),
        ("breached", t0 + 24 * H, 7),
    ]
    breach = first.events[-1]
    assert breach.detail == {"steps": [0, 1, 2], "cycle": 1, "escalation_level": 1}
    assert (breach.trigger, breach.actor, breach.source, breach.target) == (
        "reply_in_time",
        "servflow",
        "handling",
        "handling",
    )
    assert [(e.recipient, e.template, e.at, e.detail) for e in first.effects] == [
        ("cs_staff", None, t0 + 12 * H, {"warning": 50.0}),
        ("cs_staff", None, t0 + 19 * H + 12 * M, {"warning": 80.0}),
        ("cs_supervisor", "complaint_reply_overdue", t0 + 24 * H, {"breach": True}),
        ("resident", "complaint_escalated", t0 + 24 * H, {"breach": True}),
    ]
    assert first.case.escalation_level == 1
    assert first.case.state == "handling"
    # The manager is told 4 hours after the breach.
    assert first.case.next_due == t0 + 28 * H
    seed_reject(
        first.case, "reply", "forbidden", actor=a["cs_staff"], data={"reply": "好"}, at=t0 + 26 * H
    )

    second = seed_engine.advance(first.case, at=t0 + 30 * H)
    (step,) = second.events
    assert (step.kind, step.at, step.seq) == ("breach_step", t0 + 28 * H, 8)
    assert step.detail == {"steps": [3], "cycle": 1, "escalation_level": 2}
    assert second.effects == (
        Effect(
            kind="notify",
            case_id=case.id,
            at=t0 + 28 * H,
            trigger="reply_in_time",
            recipient="cs_manager",
            template="complaint_reply_overdue",
            time_limit="reply_in_time",
            detail={"breach": True},
        ),
    )
    assert second.case.escalation_level == 2
    assert second.case.next_due is None
    assert seed_engine.advance(case, at=t0 + 30 * H).case == second.case

    seed_reject(
        second.case,
        "reply",
        "forbidden",
        actor=a["cs_supervisor"],
        data={"reply": "好"},
        at=t0 + 30 * H,
    )
    out = seed_engine.fire(
        second.case, "reply", actor=a["cs_manager"], data={"reply": "經理親自回覆"}, at=t0 + 30 * H
    )
    assert (out.case.state, out.events[0].role) == ("replied", "cs_manager")
    assert seed_engine.replay([*log, *first.events, *second.events, *out.events]) == out.case
