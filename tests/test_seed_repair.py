"""The repair procedure, version 2 (procedures/repair.v2.yaml), run end to end, refused, and timed.

Version 2 keeps its own callback steps; the cases opened on it run on it until they
close. Version 3, whose callback is a linked case, is tested in test_seed_callback.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from servflow import Case, Effect, Rejected

M = timedelta(minutes=1)

REQUEST = {
    "resident_name": "陳大文",
    "address": "A座 1203",
    "phone": "138 0013 8000",
    "fault": "廚房水龍頭漏水",
    "appointment_at": "2026-11-09T14:00:00+08:00",
}


def _open(seed_engine, seed_actors, at, **extra):
    return seed_engine.start(
        "repair",
        actor=seed_actors["repair_reception"],
        data={**REQUEST, **extra},
        at=at,
        version=2,
    )


def _effects(outcome):
    return [(e.kind, e.recipient, e.template) for e in outcome.effects]


def test_happy_path_with_rework_loop(seed_engine, seed_actors, seed_t0):
    a = seed_actors
    t0 = seed_t0
    log = []

    out = _open(seed_engine, a, t0)
    case = out.case
    log += out.events
    (started,) = out.events
    assert (started.seq, started.kind, started.trigger, started.role) == (
        1,
        "started",
        "start",
        "repair_reception",
    )
    assert (started.source, started.target, started.actor) == (
        None,
        "recorded",
        "u-repair_reception",
    )
    assert started.changes == {**REQUEST, "priority": "normal"}
    assert _effects(out) == [("record", "住戶報修記錄表", None)]
    assert out.effects[0].at == t0
    assert case.state == "recorded"
    assert case.version == 1
    assert case.data["technician"] is None

    steps = [
        (
            "dispatch",
            "repair_reception",
            {"technician": "王師傅"},
            10 * M,
            "recorded",
            "dispatched",
        ),
        ("chase", "repair_reception", {}, 60 * M, "dispatched", "dispatched"),
        (
            "complete",
            "repair_reception",
            {"work_order_no": "WO-001", "completed_at": "2026-11-09T11:30:00+08:00"},
            150 * M,
            "dispatched",
            "completed",
        ),
        (
            "designate_callback",
            "cs_supervisor",
            {"callback_officer": "u-callback_officer"},
            160 * M,
            "completed",
            "awaiting_callback",
        ),
        (
            "callback",
            "callback_officer",
            {"satisfied": False, "callback_notes": "仍在滴水"},
            180 * M,
            "awaiting_callback",
            "dispatched",
        ),
    ]
    expected_effects = {
        "dispatch": [("notify", "maintenance", "work_order")],
        "chase": [("notify", "maintenance", "repair_reminder")],
        "complete": [("record", "維修任務單", None)],
        "designate_callback": [("notify", "callback_officer", "callback_assignment")],
        "callback": [("record", "回訪記錄表", None), ("notify", "maintenance", "rework_order")],
    }
    for trigger, role, data, offset, source, target in steps:
        out = seed_engine.fire(
            case, trigger, actor=a[role], data=data, at=t0 + offset, expected_version=case.version
        )
        (event,) = out.events
        assert event.seq == case.version + 1
        assert (event.kind, event.trigger, event.role, event.actor) == (
            "fired",
            trigger,
            role,
            f"u-{role}",
        )
        assert (event.source, event.target, event.at) == (source, target, t0 + offset)
        assert _effects(out) == expected_effects[trigger]
        if trigger == "callback":
            # The unsatisfied branch (the second) sends the repair back and clears the
            # completion it refused.
            assert event.detail == {"branch": 1}
            assert event.changes == {
                **data,
                "work_order_no": None,
                "completed_at": None,
            }
        else:
            assert event.changes == data
        case = out.case
        log += out.events
        assert case.state == target
    assert case.version == 6
    assert case.data["work_order_no"] is None
    assert case.data["satisfied"] is False
    # Back in `dispatched`: the completion limit runs a second cycle.
    assert case.timers["completion"].cycle == 2
    assert case.timers["completion"].status == "running"

    for trigger, role, data, offset, target in [
        (
            "complete",
            "repair_reception",
            {"work_order_no": "WO-002", "completed_at": "2026-11-09T13:45:00+08:00"},
            290 * M,
            "completed",
        ),
        (
            "designate_callback",
            "cs_supervisor",
            {"callback_officer": "u-callback_officer"},
            300 * M,
            "awaiting_callback",
        ),
        (
            "callback",
            "callback_officer",
            {"satisfied": True, "callback_notes": "已修好"},
            330 * M,
            "closed",
        ),
    ]:
        out = seed_engine.fire(case, trigger, actor=a[role], data=data, at=t0 + offset)
        (event,) = out.events
        assert (event.seq, event.source, event.target) == (case.version + 1, case.state, target)
        case = out.case
        log += out.events
    (last,) = out.events
    assert last.detail == {"branch": 0}
    # The officer is already designated: only the values that changed are recorded, and
    # the new callback round empties the first round's answer (so it is asked again).
    assert log[-2].changes == {"satisfied": None, "callback_notes": None}
    assert last.changes == {"satisfied": True, "callback_notes": "已修好"}
    assert _effects(out) == [("record", "回訪記錄表", None)]
    assert case.state == "closed"
    assert case.version == 9
    assert [e.seq for e in log] == list(range(1, 10))
    assert case.timers["callback_in_time"].status == "stopped"
    assert case.timers["callback_in_time"].cycle == 2
    assert case.next_due is None

    assert seed_engine.replay(log) == case
    assert Case.model_validate(case.model_dump(mode="json")) == case


@pytest.fixture
def dispatched(seed_engine, seed_actors, seed_t0):
    case = _open(seed_engine, seed_actors, seed_t0).case
    return seed_engine.fire(
        case,
        "dispatch",
        actor=seed_actors["repair_reception"],
        data={"technician": "王師傅"},
        at=seed_t0 + 5 * M,
    ).case


def test_unknown_trigger(dispatched, seed_actors, seed_t0, seed_reject):
    r = seed_reject(
        dispatched,
        "finish",
        "unknown_trigger",
        actor=seed_actors["repair_reception"],
        at=seed_t0 + 10 * M,
    )
    assert r.details == {"trigger": "finish"}


def test_not_in_state(dispatched, seed_actors, seed_t0, seed_reject):
    r = seed_reject(
        dispatched,
        "designate_callback",
        "not_in_state",
        actor=seed_actors["cs_supervisor"],
        data={"callback_officer": "u-callback_officer"},
        at=seed_t0 + 10 * M,
    )
    assert r.details["state"] == "dispatched"
    assert r.details["allowed_from"] == ["completed"]
    assert (
        r.message
        == "'designate_callback' can only be taken from 'completed'; the case is in 'dispatched'"
    )


def test_not_in_state_names_every_state_the_step_is_taken_from(
    seed_engine, dispatched, seed_actors, seed_t0, seed_reject
):
    completed = seed_engine.fire(
        dispatched,
        "complete",
        actor=seed_actors["repair_reception"],
        data={"work_order_no": "WO-001", "completed_at": "2026-11-09T11:30:00+08:00"},
        at=seed_t0 + 150 * M,
    ).case
    r = seed_reject(
        completed,
        "cancel",
        "not_in_state",
        actor=seed_actors["repair_reception"],
        data={"cancel_reason": "duplicate"},
        at=seed_t0 + 160 * M,
    )
    assert (
        r.message
        == "'cancel' can only be taken from 'recorded' or 'dispatched'; the case is in 'completed'"
    )
    assert r.details == {
        "trigger": "cancel",
        "state": "completed",
        "allowed_from": ["recorded", "dispatched"],
    }


def test_forbidden(dispatched, seed_actors, seed_t0, seed_reject):
    r = seed_reject(
        dispatched,
        "complete",
        "forbidden",
        actor=seed_actors["maintenance"],
        data={"work_order_no": "WO-1", "completed_at": "2026-11-09T10:00:00+08:00"},
        at=seed_t0 + 10 * M,
    )
    assert r.details["roles"] == ["repair_reception"]
    assert r.details["actor"] == "u-maintenance"


def test_guard_failed_when_callback_gives_no_verdict(
    seed_engine, seed_actors, seed_t0, seed_reject
):
    a = seed_actors
    case = _open(seed_engine, a, seed_t0).case
    for trigger, role, data in [
        ("dispatch", "repair_reception", {"technician": "王師傅"}),
        (
            "complete",
            "repair_reception",
            {"work_order_no": "WO-1", "completed_at": "2026-11-09T10:00:00+08:00"},
        ),
        ("designate_callback", "cs_supervisor", {"callback_officer": "u-callback_officer"}),
    ]:
        case = seed_engine.fire(case, trigger, actor=a[role], data=data, at=seed_t0 + 10 * M).case
    r = seed_reject(
        case,
        "callback",
        "guard_failed",
        actor=a["callback_officer"],
        data={"callback_notes": "未接聽"},
        at=seed_t0 + 20 * M,
    )
    assert r.details["expression"] == ["satisfied", "satisfied == false"]


@pytest.mark.parametrize(
    ("trigger", "data", "field", "text"),
    [
        ("chase", {"technican": "王師傅"}, "technican", "unknown field"),
        (
            "complete",
            {"work_order_no": "WO-1", "completed_at": "yesterday"},
            "completed_at",
            "expected a date and time",
        ),
        (
            "complete",
            {"work_order_no": "WO-1", "completed_at": "2026-11-09T10:00:00"},
            "completed_at",
            "naive",
        ),
        ("complete", {"work_order_no": "WO-1"}, "completed_at", "requires completed_at"),
        ("chase", {"technician": "李師傅"}, "technician", "does not accept"),
        ("cancel", {"cancel_reason": 42}, "cancel_reason", "expected text"),
    ],
)
def test_invalid_data(dispatched, seed_actors, seed_t0, seed_reject, trigger, data, field, text):
    r = seed_reject(
        dispatched,
        trigger,
        "invalid_data",
        actor=seed_actors["repair_reception"],
        data=data,
        at=seed_t0 + 10 * M,
    )
    assert r.details["field"] == field
    assert text in r.message


def test_invalid_data_at_start_hides_pii(seed_engine, seed_actors, seed_t0):
    with pytest.raises(Rejected) as info:
        _open(seed_engine, seed_actors, seed_t0, phone="call me")
    assert info.value.reason == "invalid_data"
    assert info.value.details["field"] == "phone"
    assert "call me" not in str(info.value)
    with pytest.raises(Rejected) as info:
        seed_engine.start(
            "repair",
            actor=seed_actors["repair_reception"],
            data={"phone": "138 0013 8000"},
            at=seed_t0,
        )
    assert info.value.reason == "invalid_data"
    assert info.value.details["missing"] == ["resident_name", "address", "fault", "appointment_at"]


def test_stale_version(dispatched, seed_actors, seed_t0, seed_reject):
    r = seed_reject(
        dispatched,
        "chase",
        "stale_version",
        actor=seed_actors["repair_reception"],
        at=seed_t0 + 10 * M,
        expected_version=1,
    )
    assert r.details == {"expected": 1, "actual": 2}


def test_final_state_after_cancel(seed_engine, seed_actors, dispatched, seed_t0, seed_reject):
    out = seed_engine.fire(
        dispatched,
        "cancel",
        actor=seed_actors["cs_supervisor"],
        data={"cancel_reason": "住戶自行修好"},
        at=seed_t0 + 10 * M,
    )
    case = out.case
    assert (case.state, case.version, out.events[0].role) == ("cancelled", 3, "cs_supervisor")
    r = seed_reject(
        case, "chase", "final_state", actor=seed_actors["repair_reception"], at=seed_t0 + 20 * M
    )
    assert r.details == {"state": "cancelled", "trigger": "chase"}


def test_dispatch_limit_warns_then_breaches(seed_engine, seed_actors, seed_t0):
    t0 = seed_t0
    case = _open(seed_engine, seed_actors, t0).case
    # 30 minutes round the clock; the warning at 80% is 24 minutes in.
    assert case.next_due == t0 + 24 * M

    early = seed_engine.advance(case, at=t0 + 23 * M)
    assert early.events == ()
    assert early.case == case

    warned = seed_engine.advance(case, at=t0 + 25 * M)
    (event,) = warned.events
    assert (event.kind, event.trigger, event.time_limit, event.at) == (
        "warned",
        "dispatch_in_time",
        "dispatch_in_time",
        t0 + 24 * M,
    )
    assert (event.seq, event.actor, event.source, event.target) == (
        2,
        "servflow",
        "recorded",
        "recorded",
    )
    assert warned.effects == (
        Effect(
            kind="notify",
            case_id=case.id,
            at=t0 + 24 * M,
            trigger="dispatch_in_time",
            recipient="repair_reception",
            time_limit="dispatch_in_time",
            detail={"warning": 80.0},
        ),
    )
    assert warned.case.next_due == t0 + 30 * M

    breached = seed_engine.advance(warned.case, at=t0 + 60 * M)
    (event,) = breached.events
    assert (event.kind, event.at, event.seq) == ("breached", t0 + 30 * M, 3)
    assert breached.effects == (
        Effect(
            kind="notify",
            case_id=case.id,
            at=t0 + 30 * M,
            trigger="dispatch_in_time",
            recipient="cs_supervisor",
            template="dispatch_overdue",
            time_limit="dispatch_in_time",
            detail={"breach": True},
        ),
    )
    assert breached.case.timers["dispatch_in_time"].breached_at == t0 + 30 * M
    assert breached.case.next_due is None
    # Advancing in two steps or in one gives the same case.
    assert seed_engine.advance(case, at=t0 + 60 * M).case == breached.case
    assert (
        seed_engine.replay(
            [*_open(seed_engine, seed_actors, t0).events, *warned.events, *breached.events]
        )
        == breached.case
    )

    # A late dispatch first applies what fell due, then the dispatch; the case's clock is
    # still stopped by it (a breach is never undone).
    late = seed_engine.fire(
        case,
        "dispatch",
        actor=seed_actors["repair_reception"],
        data={"technician": "王師傅"},
        at=t0 + 61 * M,
    )
    assert [(e.kind, e.seq, e.at) for e in late.events] == [
        ("warned", 2, t0 + 24 * M),
        ("breached", 3, t0 + 30 * M),
        ("fired", 4, t0 + 61 * M),
    ]
    assert [(e.recipient, e.template) for e in late.effects] == [
        ("repair_reception", None),
        ("cs_supervisor", "dispatch_overdue"),
        ("maintenance", "work_order"),
    ]
    timer = late.case.timers["dispatch_in_time"]
    assert (timer.status, timer.breached_at, timer.stopped_at) == (
        "stopped",
        t0 + 30 * M,
        t0 + 61 * M,
    )
