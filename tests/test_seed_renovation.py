"""The renovation procedure (procedures/renovation.yaml): path, refusals, guards, time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Case, Effect, Rejected

SHANGHAI = ZoneInfo("Asia/Shanghai")

M = timedelta(minutes=1)
H = timedelta(hours=1)

APPLICATION = {
    "applicant_name": "林美玲",
    "phone": "139 2222 3333",
    "unit": "B座 0805",
    "works_description": "拆除廚房與客廳之間的非承重牆，更換地磚",
    "changes_structure": True,
    "contractor": "安居裝飾工程有限公司",
    "planned_start": "2026-11-16",
    "planned_end": "2026-12-18",
}


def _effects(outcome):
    return [(e.kind, e.recipient, e.template) for e in outcome.effects]


def _apply(seed_engine, seed_actors, at, **extra):
    return seed_engine.start(
        "renovation", actor=seed_actors["resident"], data={**APPLICATION, **extra}, at=at
    )


def _run(seed_engine, seed_actors, case, log, steps, t0):
    for trigger, role, data, offset in steps:
        out = seed_engine.fire(case, trigger, actor=seed_actors[role], data=data, at=t0 + offset)
        case = out.case
        log += out.events
    return case


def test_happy_path_with_review_patrols_and_reinspection(seed_engine, seed_actors, seed_t0):
    a, t0 = seed_actors, seed_t0
    out = _apply(seed_engine, a, t0)
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
        "resident",
        None,
        "applied",
    )
    assert started.changes == APPLICATION
    assert _effects(out) == [("record", "住戶裝修申請表", None)]
    case, log = out.case, list(out.events)

    steps = [
        (
            "explain_rules",
            "cs_staff",
            {"rules_acknowledged": True},
            15 * M,
            "applied",
            "rules_explained",
            [],
            {},
        ),
        (
            "submit",
            "cs_staff",
            {"fee_due": "1500.00"},
            30 * M,
            "rules_explained",
            "under_review",
            [("notify", "maintenance", "renovation_review_request")],
            {"branch": 0},
        ),
        (
            "pass_review",
            "maintenance",
            {"review_notes": "非承重牆，可拆除"},
            2 * H,
            "under_review",
            "fees_due",
            [("record", "住戶裝修申請表", None), ("notify", "cashier", "renovation_fees_due")],
            {},
        ),
        (
            "collect_fees",
            "cashier",
            {"fee_amount": 1500, "receipt_no": "RC-2026-0001"},
            3 * H,
            "fees_due",
            "awaiting_approval",
            [
                ("record", "裝修收費登記表", None),
                ("notify", "cs_supervisor", "renovation_for_approval"),
            ],
            {},
        ),
        (
            "approve",
            "cs_supervisor",
            {"permit_no": "ZX-2026-118"},
            4 * H,
            "awaiting_approval",
            "in_progress",
            [("record", "裝修許可證", None), ("notify", "resident", "renovation_permit")],
            {},
        ),
        (
            "patrol",
            "cs_staff",
            {"patrol_notes": "正常施工"},
            5 * H,
            "in_progress",
            "in_progress",
            [("record", "裝修巡視記錄表", None)],
            {},
        ),
        (
            "record_violation",
            "cs_staff",
            {"violation_notes": "中午施工噪音"},
            6 * H,
            "in_progress",
            "in_progress",
            [
                ("record", "裝修巡視記錄表", None),
                ("notify", "resident", "renovation_violation"),
                ("notify", "cs_supervisor", "renovation_violation"),
            ],
            {},
        ),
        (
            "stop_works",
            "cs_staff",
            {"stop_reason": "擅自改動煙道"},
            6 * H + 10 * M,
            "in_progress",
            "stopped",
            [
                ("record", "裝修巡視記錄表", None),
                ("notify", "resident", "renovation_stop_order"),
                ("notify", "cs_supervisor", "renovation_stopped"),
            ],
            {},
        ),
        (
            "resume_works",
            "cs_supervisor",
            {"resume_note": "煙道已恢復原狀"},
            7 * H,
            "stopped",
            "in_progress",
            [("notify", "resident", "renovation_resumed")],
            {},
        ),
        (
            "report_completion",
            "cs_staff",
            {"completed_on": "2026-11-09"},
            8 * H,
            "in_progress",
            "awaiting_inspection",
            [("notify", "maintenance", "renovation_inspection_request")],
            {},
        ),
    ]
    for trigger, role, data, offset, source, target, effects, detail in steps:
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
        assert (event.source, event.target, event.at, event.detail) == (
            source,
            target,
            t0 + offset,
            detail,
        )
        assert _effects(out) == effects
        case = out.case
        log += out.events
        assert case.state == target
    # Stored in canonical form: decimals as text.
    assert log[4].changes == {"fee_amount": "1500", "receipt_no": "RC-2026-0001"}
    assert case.data["fee_due"] == "1500.00"
    assert log[1].changes == {"rules_acknowledged": True}
    # The violation note and the stop reason are asked afresh each time: kept as given.
    assert log[7].changes == {"violation_notes": "中午施工噪音"}
    assert case.data["stop_reason"] == "擅自改動煙道"
    assert "technical_review" in case.timers
    assert case.timers["technical_review"].status == "stopped"

    # Inspection fails, the owner rectifies, the second inspection passes.
    fail = seed_engine.fire(
        case,
        "inspect",
        actor=a["maintenance"],
        data={"inspection_passed": False, "inspection_notes": "地漏未做閉水試驗"},
        at=t0 + 24 * H,
    )
    (event,) = fail.events
    assert (event.source, event.target, event.detail) == (
        "awaiting_inspection",
        "rectifying",
        {"branch": 1},
    )
    assert _effects(fail) == [
        ("record", "裝修驗收記錄表", None),
        ("notify", "resident", "renovation_rectification"),
    ]
    case = fail.case
    log += fail.events

    again = seed_engine.fire(
        case,
        "report_rectified",
        actor=a["cs_staff"],
        data={"rectification_notes": "已做閉水試驗"},
        at=t0 + 25 * H,
    )
    (event,) = again.events
    assert (event.source, event.target) == ("rectifying", "awaiting_inspection")
    assert event.changes == {
        "rectification_notes": "已做閉水試驗",
        "inspection_passed": None,
        "inspection_notes": None,
    }
    assert _effects(again) == [("notify", "maintenance", "renovation_inspection_request")]
    case = again.case
    log += again.events
    assert case.timers["acceptance_inspection"].cycle == 2

    done = seed_engine.fire(
        case,
        "inspect",
        actor=a["maintenance"],
        data={"inspection_passed": True, "inspection_notes": "合格"},
        at=t0 + 26 * H,
    )
    (event,) = done.events
    assert (event.seq, event.source, event.target, event.detail) == (
        14,
        "awaiting_inspection",
        "closed",
        {"branch": 0},
    )
    assert _effects(done) == [
        ("record", "裝修驗收記錄表", None),
        ("notify", "resident", "renovation_accepted"),
    ]
    case = done.case
    log += done.events
    assert case.state == "closed"
    assert case.version == 14
    assert case.next_due is None
    assert [e.seq for e in log] == list(range(1, 15))
    assert seed_engine.replay(log) == case
    assert Case.model_validate(case.model_dump(mode="json")) == case


def test_no_structural_change_skips_technical_review(
    seed_engine, seed_actors, seed_t0, seed_reject
):
    a, t0 = seed_actors, seed_t0
    out = _apply(seed_engine, a, t0, changes_structure=False, works_description="牆面翻新")
    case, log = out.case, list(out.events)
    case = _run(
        seed_engine,
        a,
        case,
        log,
        [("explain_rules", "cs_staff", {"rules_acknowledged": True}, 5 * M)],
        t0,
    )
    out = seed_engine.fire(
        case, "submit", actor=a["cs_staff"], data={"fee_due": "300"}, at=t0 + 10 * M
    )
    (event,) = out.events
    assert (event.source, event.target, event.detail) == (
        "rules_explained",
        "fees_due",
        {"branch": 1},
    )
    assert _effects(out) == [("notify", "cashier", "renovation_fees_due")]
    case = out.case
    log += out.events
    assert "technical_review" not in case.timers
    seed_reject(
        case,
        "pass_review",
        "not_in_state",
        actor=a["maintenance"],
        data={"review_notes": "x"},
        at=t0 + 15 * M,
    )

    case = _run(
        seed_engine,
        a,
        case,
        log,
        [
            (
                "collect_fees",
                "cashier",
                {"fee_amount": "300.00", "receipt_no": "RC-2026-0002"},
                20 * M,
            ),
            ("approve", "cs_supervisor", {"permit_no": "ZX-2026-119"}, 30 * M),
        ],
        t0,
    )
    assert case.state == "in_progress"
    assert case.data["review_notes"] is None
    assert seed_engine.replay(log) == case


def _submitted(seed_engine, seed_actors, t0, **extra):
    """An application with structural changes, waiting for the technical review."""
    out = _apply(seed_engine, seed_actors, t0, **extra)
    case, log = out.case, list(out.events)
    case = _run(
        seed_engine,
        seed_actors,
        case,
        log,
        [
            ("explain_rules", "cs_staff", {"rules_acknowledged": True}, 10 * M),
            ("submit", "cs_staff", {"fee_due": "1500"}, 30 * M),
        ],
        t0,
    )
    return case, log


def _awaiting_approval(seed_engine, seed_actors, t0):
    case, log = _submitted(seed_engine, seed_actors, t0)
    case = _run(
        seed_engine,
        seed_actors,
        case,
        log,
        [
            ("pass_review", "maintenance", {"review_notes": "可行"}, H),
            (
                "collect_fees",
                "cashier",
                {"fee_amount": "1500", "receipt_no": "RC-2026-0003"},
                2 * H,
            ),
        ],
        t0,
    )
    return case, log


def test_rejected_at_technical_review(seed_engine, seed_actors, seed_t0, seed_reject):
    a, t0 = seed_actors, seed_t0
    case, log = _submitted(seed_engine, a, t0)
    r = seed_reject(case, "reject", "invalid_data", actor=a["maintenance"], at=t0 + H)
    assert r.details["missing"] == ["reject_reason"]
    out = seed_engine.fire(
        case, "reject", actor=a["maintenance"], data={"reject_reason": "涉及承重牆"}, at=t0 + H
    )
    (event,) = out.events
    assert (event.role, event.source, event.target) == ("maintenance", "under_review", "rejected")
    assert _effects(out) == [("notify", "resident", "renovation_rejected")]
    assert out.case.next_due is None
    r = seed_reject(
        out.case,
        "approve",
        "final_state",
        actor=a["cs_supervisor"],
        data={"permit_no": "x"},
        at=t0 + 2 * H,
    )
    assert r.details == {"state": "rejected", "trigger": "approve"}
    assert seed_engine.replay([*log, event]) == out.case


def test_rejected_at_approval_refunds_the_fees(seed_engine, seed_actors, seed_t0, seed_reject):
    a, t0 = seed_actors, seed_t0
    case, _ = _awaiting_approval(seed_engine, a, t0)
    # Maintenance may refuse at review only; at approval it is the supervisor's call.
    r = seed_reject(
        case,
        "reject",
        "forbidden",
        actor=a["maintenance"],
        data={"reject_reason": "x"},
        at=t0 + 3 * H,
    )
    assert r.details["roles"] == ["cs_supervisor"]
    out = seed_engine.fire(
        case,
        "reject",
        actor=a["cs_supervisor"],
        data={"reject_reason": "施工單位無資質"},
        at=t0 + 3 * H,
    )
    (event,) = out.events
    assert (event.role, event.source, event.target) == (
        "cs_supervisor",
        "awaiting_approval",
        "rejected",
    )
    assert _effects(out) == [
        ("notify", "resident", "renovation_rejected"),
        ("notify", "cashier", "renovation_fee_refund"),
    ]


def test_unknown_trigger(seed_engine, seed_actors, seed_t0, seed_reject):
    case, _ = _submitted(seed_engine, seed_actors, seed_t0)
    r = seed_reject(
        case, "review", "unknown_trigger", actor=seed_actors["maintenance"], at=seed_t0 + H
    )
    assert r.details == {"trigger": "review"}
    assert "pass_review" in r.message


def test_not_in_state(seed_engine, seed_actors, seed_t0, seed_reject):
    case, _ = _submitted(seed_engine, seed_actors, seed_t0)
    r = seed_reject(
        case,
        "collect_fees",
        "not_in_state",
        actor=seed_actors["cashier"],
        data={"fee_amount": "1500", "receipt_no": "RC-1234"},
        at=seed_t0 + H,
    )
    assert r.details["state"] == "under_review"
    assert r.details["allowed_from"] == ["fees_due"]


def test_forbidden(seed_engine, seed_actors, seed_t0, seed_reject):
    case, _ = _submitted(seed_engine, seed_actors, seed_t0)
    r = seed_reject(
        case,
        "pass_review",
        "forbidden",
        actor=seed_actors["cs_staff"],
        data={"review_notes": "可"},
        at=seed_t0 + H,
    )
    assert r.details["roles"] == ["maintenance"]
    assert r.details["actor"] == "u-cs_staff"


def test_guard_failed_without_acknowledgement(seed_engine, seed_actors, seed_t0, seed_reject):
    case = _apply(seed_engine, seed_actors, seed_t0).case
    for data in ({"rules_acknowledged": False}, {}):
        r = seed_reject(
            case,
            "explain_rules",
            "guard_failed",
            actor=seed_actors["cs_staff"],
            data=data,
            at=seed_t0 + M,
        )
        assert r.details["expression"] == "rules_acknowledged"


@pytest.mark.parametrize("amount", ["1800", "1499.99"])
def test_guard_failed_on_a_wrong_charge(seed_engine, seed_actors, seed_t0, seed_reject, amount):
    a, t0 = seed_actors, seed_t0
    case, _ = _submitted(seed_engine, a, t0)
    case = seed_engine.fire(
        case, "pass_review", actor=a["maintenance"], data={"review_notes": "可行"}, at=t0 + H
    ).case
    r = seed_reject(
        case,
        "collect_fees",
        "guard_failed",
        actor=a["cashier"],
        data={"fee_amount": amount, "receipt_no": "RC-2026-0009"},
        at=t0 + 2 * H,
    )
    assert r.details["invariant"] == "no wrong or extra charges"
    assert r.details["expression"] == "fee_amount is none or fee_amount == fee_due"


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        ({"fee_amount": "1500", "reciept_no": "RC-1"}, "reciept_no", "unknown field"),
        (
            {"fee_amount": "fifteen hundred", "receipt_no": "RC-2026-0001"},
            "fee_amount",
            "expected a number",
        ),
        ({"fee_amount": True, "receipt_no": "RC-2026-0001"}, "fee_amount", "expected a number"),
        ({"fee_amount": "-1", "receipt_no": "RC-2026-0001"}, "fee_amount", "below the minimum"),
        ({"fee_amount": "1500", "receipt_no": "rc 1"}, "receipt_no", "does not match the pattern"),
        ({"fee_amount": "1500"}, "receipt_no", "requires receipt_no"),
        (
            {"fee_amount": "1500", "receipt_no": "RC-2026-0001", "fee_due": "1500"},
            "fee_due",
            "does not accept",
        ),
    ],
)
def test_invalid_data(seed_engine, seed_actors, seed_t0, seed_reject, data, field, text):
    a, t0 = seed_actors, seed_t0
    case, _ = _submitted(seed_engine, a, t0)
    case = seed_engine.fire(
        case, "pass_review", actor=a["maintenance"], data={"review_notes": "可行"}, at=t0 + H
    ).case
    r = seed_reject(
        case, "collect_fees", "invalid_data", actor=a["cashier"], data=data, at=t0 + 2 * H
    )
    assert r.details["field"] == field
    assert text in r.message


def test_invalid_data_at_start(seed_engine, seed_actors, seed_t0):
    for data, field in [
        ({**APPLICATION, "changes_structure": "yes"}, "changes_structure"),
        ({k: v for k, v in APPLICATION.items() if k != "changes_structure"}, "changes_structure"),
        ({**APPLICATION, "planned_start": "next Monday"}, "planned_start"),
        ({**APPLICATION, "rules_acknowledged": True}, "rules_acknowledged"),
    ]:
        with pytest.raises(Rejected) as info:
            seed_engine.start("renovation", actor=seed_actors["resident"], data=data, at=seed_t0)
        assert info.value.reason == "invalid_data"
        assert info.value.details["field"] == field
    with pytest.raises(Rejected) as info:
        _apply(seed_engine, seed_actors, seed_t0, planned_end="2026-11-01")
    assert info.value.reason == "guard_failed"
    assert info.value.details["invariant"] == "the works end after they start"
    with pytest.raises(Rejected) as info:
        seed_engine.start("renovation", actor=seed_actors["cashier"], data=APPLICATION, at=seed_t0)
    assert info.value.reason == "forbidden"


def test_stale_version(seed_engine, seed_actors, seed_t0, seed_reject):
    case, _ = _submitted(seed_engine, seed_actors, seed_t0)
    r = seed_reject(
        case,
        "pass_review",
        "stale_version",
        actor=seed_actors["maintenance"],
        data={"review_notes": "可"},
        at=seed_t0 + H,
        expected_version=2,
    )
    assert r.details == {"expected": 2, "actual": 3}


def test_a_violation_or_stop_needs_a_fresh_note(seed_engine, seed_actors, seed_t0, seed_reject):
    a, t0 = seed_actors, seed_t0
    case, _ = _awaiting_approval(seed_engine, a, t0)
    case = seed_engine.fire(
        case, "approve", actor=a["cs_supervisor"], data={"permit_no": "ZX-1"}, at=t0 + 3 * H
    ).case
    case = seed_engine.fire(
        case,
        "record_violation",
        actor=a["cs_staff"],
        data={"violation_notes": "占用公共走道"},
        at=t0 + 4 * H,
    ).case
    r = seed_reject(case, "record_violation", "invalid_data", actor=a["cs_staff"], at=t0 + 5 * H)
    assert r.details["missing"] == ["violation_notes"]
    case = seed_engine.fire(
        case,
        "stop_works",
        actor=a["cs_supervisor"],
        data={"stop_reason": "拒不整改"},
        at=t0 + 5 * H,
    ).case
    r = seed_reject(
        case,
        "resume_works",
        "forbidden",
        actor=a["cs_staff"],
        data={"resume_note": "已整改"},
        at=t0 + 6 * H,
    )
    assert r.details["roles"] == ["cs_supervisor"]


def test_technical_review_limit_warns_then_breaches(seed_engine, seed_actors, seed_t0):
    a, t0 = seed_actors, seed_t0
    case, log = _submitted(seed_engine, a, t0)
    submitted_at = t0 + 30 * M  # Monday 09:30
    timer = case.timers["technical_review"]
    # 3 working days: Thursday 09:30. The paperwork clock waits during the review.
    thursday = datetime(2026, 11, 12, 9, 30, tzinfo=SHANGHAI)
    assert (timer.started_at, timer.due_at) == (submitted_at, thursday)
    assert timer.budget_seconds == 3 * 7.5 * 3600
    assert case.timers["paperwork"].status == "paused"
    # Half of 22 h 30 min of office time: Monday 09:30-12:00 and 13:30-17:30 (6 h 30 min),
    # then Tuesday 08:30-12:00 and 13:30-14:45.
    tuesday = datetime(2026, 11, 10, 14, 45, tzinfo=SHANGHAI)
    assert case.next_due == tuesday

    out = seed_engine.advance(case, at=thursday + H)
    assert [(e.kind, e.trigger, e.at, e.seq) for e in out.events] == [
        ("warned", "technical_review", tuesday, 4),
        ("breached", "technical_review", thursday, 5),
    ]
    assert out.events[0].detail == {"percent": 50.0, "percent_key": 5000, "cycle": 1}
    assert out.events[1].detail == {"steps": [0], "cycle": 1}
    assert out.effects == (
        Effect(
            kind="notify",
            case_id=case.id,
            at=tuesday,
            trigger="technical_review",
            recipient="maintenance",
            time_limit="technical_review",
            detail={"warning": 50.0},
        ),
        Effect(
            kind="notify",
            case_id=case.id,
            at=thursday,
            trigger="technical_review",
            recipient="cs_supervisor",
            template="renovation_review_overdue",
            time_limit="technical_review",
            detail={"breach": True},
        ),
    )
    assert out.case.state == "under_review"
    assert out.case.next_due is None
    assert seed_engine.replay([*log, *out.events]) == out.case

    # The review, late, stops the clock and resumes the paperwork clock.
    late = seed_engine.fire(
        out.case,
        "pass_review",
        actor=a["maintenance"],
        data={"review_notes": "可行"},
        at=thursday + 2 * H,
    )
    assert late.case.timers["technical_review"].status == "stopped"
    assert late.case.timers["paperwork"].status == "running"
    assert late.case.timers["paperwork"].elapsed_seconds == 30 * 60


def _works_started(seed_engine, a, t0):
    """A renovation with no structural change, approved at ``t0``: works in progress."""
    case = _apply(seed_engine, a, t0, changes_structure=False).case
    steps = [
        ("explain_rules", "cs_staff", {"rules_acknowledged": True}),
        ("submit", "cs_staff", {"fee_due": "300"}),
        ("collect_fees", "cashier", {"fee_amount": "300", "receipt_no": "RC-2026-0009"}),
        ("approve", "cs_supervisor", {"permit_no": "ZX-2026-120"}),
    ]
    for trigger, role, data in steps:
        case = seed_engine.fire(case, trigger, actor=a[role], data=data, at=t0).case
    return case


# "每日巡視" (J 三 3 (1)): the patrol clock counts calendar days, weekends and public
# holidays included. 2026-11-28 and -29 are a weekend; 2026-10-01..07 the national holiday.
@settings(max_examples=40, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 9, 28),
        max_value=datetime(2026, 12, 20),
        timezones=st.just(SHANGHAI),
    ),
    gap=st.integers(min_value=1, max_value=48 * 60),
)
def test_the_daily_patrol_counts_calendar_days(seed_engine, seed_actors, start, gap):
    case = _works_started(seed_engine, seed_actors, start)
    timer = case.timers["daily_patrol"]
    assert timer.due_at == start + timedelta(hours=24)  # a real day, whatever the weekday
    at = start + gap * M
    out = seed_engine.fire(
        case, "patrol", actor=seed_actors["cs_staff"], data={"patrol_notes": "正常"}, at=at
    )
    breached = [e for e in out.events if e.kind == "breached"]
    # A patrol within 24 hours of the last one meets the limit; a later one comes after
    # its breach, which the engine records first.
    assert bool(breached) == (gap >= 24 * 60)
    assert out.case.timers["daily_patrol"].due_at == at + timedelta(hours=24)
