"""Time limits in the engine: the invariants of ANCHORS.md as properties, and examples.

The properties run random lives of ``tests/procedures/ticket.yaml`` (pauses, a target
that depends on the data, two warnings, a breach with an automatic escalation and a
delayed second step, reopening).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow import Actor, Case, Engine, Rejected
from servflow.engine.case import Event
from servflow.engine.durations import parse_duration

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ENGINE = Engine.from_directory(
    HERE / "procedures" / "ticket.yaml", REPO / "procedures" / "calendars.yaml"
)
SEED = Engine.from_directory(REPO / "procedures")
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)  # a Monday
AGENT = Actor(id="a", roles={"agent"})
BOSS = Actor(id="b", roles={"agent", "lead", "head"})

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

actions = st.sampled_from(
    [
        "wait",
        "resume",
        "mark_urgent",
        "note",
        "escalate",
        "finish",
        "reopen",
        "close",
        "advance",
        "advance",
    ]
)
gaps = st.sampled_from([timedelta(minutes=m) for m in (0, 1, 10, 45, 90, 240, 600, 1440, 2900)])
lives = st.lists(st.tuples(actions, gaps), max_size=20)


def run(
    life: list[tuple[str, timedelta]], *, start: datetime = T0
) -> tuple[Case, list[Event], list[Case]]:
    """Play a life; returns the final case, the log and the case after every step."""
    out = ENGINE.start("ticket", actor=AGENT, at=start, case_id="t")
    case, log, seen = out.case, list(out.events), [out.case]
    at = start
    for action, gap in life:
        at += gap
        if action == "advance":
            out = ENGINE.advance(case, at=at)
        else:
            data = {"urgent": True} if action == "mark_urgent" else {}
            try:
                out = ENGINE.fire(case, action, actor=BOSS, data=data, at=at)
            except Rejected:
                continue
        case = out.case
        log.extend(out.events)
        seen.append(case)
    return case, log, seen


@SETTINGS
@given(life=lives)
def test_replay_equals_live_with_timers(life):
    case, log, _ = run(life)
    assert ENGINE.replay(log) == case
    assert Case.model_validate(json.loads(json.dumps(case.model_dump(mode="json")))) == case


@SETTINGS
@given(life=lives)
def test_a_breach_is_sticky_within_its_cycle(life):
    _, _, seen = run(life)
    for before, after in itertools.pairwise(seen):
        for name, timer in before.timers.items():
            later = after.timers[name]
            if timer.breached_at is not None and later.cycle == timer.cycle:
                assert later.breached_at == timer.breached_at
            if later.cycle > timer.cycle:
                # The finished cycle is kept, breach and all.
                record = later.history[timer.cycle - 1]
                assert record.breached_at == timer.breached_at
                assert record.met == (timer.breached_at is None)


@SETTINGS
@given(life=lives)
def test_warnings_fire_at_most_once_per_cycle_in_order(life):
    _, log, _ = run(life)
    per_cycle: dict[tuple[str, int], list[float]] = {}
    for event in log:
        if event.kind == "warned":
            per_cycle.setdefault((event.time_limit or "", event.detail["cycle"]), []).append(
                event.detail["percent"]
            )
    for percents in per_cycle.values():
        assert percents == sorted(set(percents))


@SETTINGS
@given(life=lives)
def test_business_time_never_decreases_nor_exceeds_real_time(life):
    _, _, seen = run(life)
    for before, after in itertools.pairwise(seen):
        for name, timer in after.timers.items():
            old = before.timers.get(name)
            if old is not None and old.cycle == timer.cycle:
                assert timer.elapsed_seconds >= old.elapsed_seconds
    for case in seen:
        for timer in case.timers.values():
            end = timer.stopped_at or case.updated_at
            assert 0 <= timer.elapsed_seconds <= (end - timer.started_at).total_seconds()


@SETTINGS
@given(life=lives, split=st.integers(0, 5000), total=st.integers(0, 8000))
def test_advance_is_idempotent_and_split_independent(life, split, total):
    case, _, _ = run(life)
    t2 = case.updated_at + timedelta(minutes=total)
    t1 = case.updated_at + timedelta(minutes=min(split, total))
    once = ENGINE.advance(case, at=t2)
    twice = ENGINE.advance(once.case, at=t2)
    assert twice.case == once.case
    assert twice.events == ()
    step = ENGINE.advance(case, at=t1)
    split_run = ENGINE.advance(step.case, at=t2)
    assert split_run.case == once.case
    assert (*step.events, *split_run.events) == once.events
    # Every event is stamped with the moment it fell due, in order, never after `at`.
    moments = [e.at for e in once.events]
    assert moments == sorted(moments)
    assert all(m <= t2 for m in moments)
    assert once.case.next_due is None or once.case.next_due > t2


@SETTINGS
@given(life=lives, pause_at=st.integers(0, 600), pause_for=st.integers(1, 3000))
def test_pausing_never_moves_the_due_time_earlier(life, pause_at, pause_for):
    base, _, _ = run([(a, g) for a, g in life if a not in ("wait", "resume")][:3])
    timer = base.timers.get("respond")
    if timer is None or timer.status != "running" or timer.due_at is None:
        return
    paused = run(
        [
            *[(a, g) for a, g in life if a not in ("wait", "resume")][:3],
            ("wait", timedelta(minutes=pause_at)),
            ("resume", timedelta(minutes=pause_for)),
        ]
    )[0]
    later = paused.timers["respond"]
    if later.cycle == timer.cycle and later.breached_at is None and later.due_at is not None:
        assert later.due_at >= timer.due_at


@SETTINGS
@given(start=st.integers(0, 600), later=st.integers(0, 600))
def test_a_later_start_never_gives_an_earlier_due_time(start, later):
    first = ENGINE.start("ticket", actor=AGENT, at=T0 + timedelta(minutes=start)).case
    second = ENGINE.start("ticket", actor=AGENT, at=T0 + timedelta(minutes=start + later)).case
    assert second.timers["respond"].due_at >= first.timers["respond"].due_at


def test_escalation_ladder_on_breach():
    case = ENGINE.start("ticket", actor=AGENT, at=T0, case_id="t").case
    # 1 working day from Monday 09:00 in the office calendar: Tuesday 09:00.
    assert case.timers["respond"].due_at == datetime(2026, 11, 3, 9, 0, tzinfo=TZ)
    out = ENGINE.advance(case, at=datetime(2026, 11, 3, 12, 0, tzinfo=TZ))
    kinds = [(e.kind, e.trigger, e.at) for e in out.events]
    assert kinds == [
        # 50% of 7.5 working hours is 3h45 after 09:00 (the lunch break 12:00-13:30 counts not).
        ("warned", "respond", datetime(2026, 11, 2, 14, 15, tzinfo=TZ)),
        ("warned", "respond", datetime(2026, 11, 2, 16, 7, 30, tzinfo=TZ)),  # 75%: 5h37m30s
        ("breached", "respond", datetime(2026, 11, 3, 9, 0, tzinfo=TZ)),
        ("auto_fired", "escalate", datetime(2026, 11, 3, 9, 0, tzinfo=TZ)),
        ("breach_step", "respond", datetime(2026, 11, 3, 11, 0, tzinfo=TZ)),
    ]
    assert out.case.escalation_level == 2
    assert [(e.recipient, e.time_limit) for e in out.effects] == [
        ("agent", "respond"),
        ("agent", "respond"),
        ("lead", "respond"),
        ("head", "respond"),
    ]
    # At level 2 only the head may finish.
    with pytest.raises(Rejected) as info:
        ENGINE.fire(
            out.case,
            "finish",
            actor=Actor(id="l", roles={"lead"}),
            at=datetime(2026, 11, 3, 12, 0, tzinfo=TZ),
        )
    assert info.value.reason == "forbidden"
    assert info.value.details["escalation_level"] == 2
    done = ENGINE.fire(out.case, "finish", actor=BOSS, at=datetime(2026, 11, 3, 12, 0, tzinfo=TZ))
    assert done.case.timers["respond"].status == "stopped"
    assert done.case.timers["respond"].breached_at == datetime(2026, 11, 3, 9, 0, tzinfo=TZ)


def test_a_late_host_loses_no_deadline():
    """fire() first applies what fell due before the event, stamped with its own moment."""
    case = ENGINE.start("ticket", actor=AGENT, at=T0, case_id="t").case
    out = ENGINE.fire(case, "finish", actor=BOSS, at=datetime(2026, 11, 4, 10, 0, tzinfo=TZ))
    assert [e.kind for e in out.events] == [
        "warned",
        "warned",
        "breached",
        "auto_fired",
        "breach_step",
        "fired",
    ]
    assert out.case.timers["respond"].breached_at == datetime(2026, 11, 3, 9, 0, tzinfo=TZ)


def test_reopening_starts_a_new_cycle_and_keeps_the_old_one():
    case = ENGINE.start("ticket", actor=AGENT, at=T0, case_id="t").case
    case = ENGINE.fire(case, "finish", actor=BOSS, at=T0 + timedelta(hours=1)).case
    case = ENGINE.fire(case, "reopen", actor=BOSS, at=T0 + timedelta(hours=2)).case
    timer = case.timers["respond"]
    assert timer.cycle == 2
    assert timer.started_at == T0 + timedelta(hours=2)
    assert len(timer.history) == 1
    assert timer.history[0].met is True
    assert timer.history[0].business_seconds == 3600
    assert case.timers["close_out"].status == "stopped"


def test_pause_moves_the_due_time_by_the_business_time_paused():
    case = ENGINE.start("ticket", actor=AGENT, at=T0, case_id="t").case
    due = case.timers["respond"].due_at
    case = ENGINE.fire(case, "wait", actor=BOSS, at=T0 + timedelta(hours=1)).case
    assert case.timers["respond"].status == "paused"
    assert case.timers["respond"].due_at is None
    # Paused from 10:00 to 14:00 Monday: 2h of morning + 30m of afternoon = 2.5 business hours.
    case = ENGINE.fire(case, "resume", actor=BOSS, at=T0 + timedelta(hours=5)).case
    timer = case.timers["respond"]
    assert timer.status == "running"
    assert timer.paused_seconds == 4 * 3600
    assert timer.due_at == due + timedelta(hours=2, minutes=30)


def test_a_changed_priority_changes_the_running_target():
    case = ENGINE.start("ticket", actor=AGENT, at=T0, case_id="t").case
    assert case.timers["respond"].within == "1wd"
    case = ENGINE.fire(
        case, "mark_urgent", actor=BOSS, data={"urgent": True}, at=T0 + timedelta(minutes=30)
    ).case
    timer = case.timers["respond"]
    assert (timer.within, timer.calendar) == ("2h", "always")
    assert timer.due_at == T0 + timedelta(hours=2)
    # Marked urgent after the 2h had run out: the deadline was 11:00, the breach is
    # recorded at the change (12:00), the earliest moment it is known, and the warnings
    # the new target had already passed are skipped, not fired late.
    late = ENGINE.start("ticket", actor=AGENT, at=T0, case_id="t").case
    late = ENGINE.fire(
        late, "mark_urgent", actor=BOSS, data={"urgent": True}, at=T0 + timedelta(hours=3)
    )
    assert late.case.timers["respond"].due_at == T0 + timedelta(hours=2)
    after = ENGINE.advance(late.case, at=T0 + timedelta(hours=3))
    assert [(e.kind, e.at) for e in after.events][:2] == [
        ("breached", T0 + timedelta(hours=3)),
        ("auto_fired", T0 + timedelta(hours=3)),
    ]
    assert after.case.timers["respond"].breached_at == T0 + timedelta(hours=3)


# -- the seed procedures on real calendars --------------------------------------------

CLERK = Actor(id="c", roles={"repair_reception"})
SUPERVISOR = Actor(id="s", roles={"cs_supervisor"})
REPAIR = {
    "resident_name": "王小明",
    "address": "A-1203",
    "phone": "13800000000",
    "fault": "leak",
    "appointment_at": "2026-09-30T10:00:00+08:00",
}


def _completed(at: datetime) -> Case:
    case = SEED.start(
        "repair", version=2, actor=CLERK, data=REPAIR, at=at - timedelta(hours=2), case_id="r"
    ).case
    case = SEED.fire(
        case, "dispatch", actor=CLERK, data={"technician": "李"}, at=at - timedelta(hours=1)
    ).case
    return SEED.fire(
        case,
        "complete",
        actor=CLERK,
        data={"work_order_no": "W1", "completed_at": at.isoformat()},
        at=at,
    ).case


def test_callback_due_across_national_day_week():
    # Completed on Wednesday 30 September 2026, the eve of National Day. 1 Oct - 7 Oct
    # are off; Thursday 8 Oct is the first working day, Friday 9 Oct the second.
    case = _completed(datetime(2026, 9, 30, 16, 0, tzinfo=TZ))
    assert case.timers["callback_in_time"].due_at == datetime(2026, 10, 9, 16, 0, tzinfo=TZ)


def test_callback_due_across_a_make_up_working_day():
    # Saturday 10 October 2026 is a make-up working day (調休) on the mainland.
    case = _completed(datetime(2026, 10, 9, 16, 0, tzinfo=TZ))
    assert case.timers["callback_in_time"].due_at == datetime(2026, 10, 12, 16, 0, tzinfo=TZ)


def test_callback_due_across_the_lunch_break_and_a_weekend():
    # Friday 11:30: 2 working days later is Tuesday 11:30; the 50% warning falls 7.5
    # business hours later: Friday 11:30-12:00 and 13:30-17:30 (4.5h), Monday 08:30-11:30.
    case = _completed(datetime(2026, 11, 20, 11, 30, tzinfo=TZ))
    timer = case.timers["callback_in_time"]
    assert timer.due_at == datetime(2026, 11, 24, 11, 30, tzinfo=TZ)
    assert timer.budget_seconds == 15 * 3600
    assert timer.next_at == datetime(2026, 11, 23, 11, 30, tzinfo=TZ)


def test_dispatch_limit_runs_24x7():
    at = datetime(2026, 10, 1, 23, 50, tzinfo=TZ)  # a holiday, at night
    case = SEED.start(
        "repair",
        version=2,
        actor=CLERK,
        data={**REPAIR, "priority": "emergency"},
        at=at,
        case_id="r",
    ).case
    assert case.timers["dispatch_in_time"].due_at == at + timedelta(minutes=15)


def test_beyond_published_schedule_is_provisional_then_refused_past_the_horizon():
    from servflow.errors import CalendarError

    case = _completed(datetime(2026, 12, 31, 16, 0, tzinfo=TZ))
    callback = case.timers["callback_in_time"]
    assert (callback.provisional, callback.published_through) == (True, date(2026, 12, 31))
    # Not even a provisional answer more than three years past the published schedule.
    with pytest.raises(CalendarError, match="beyond the published schedule"):
        _completed(datetime(2030, 1, 7, 16, 0, tzinfo=TZ))


def _scenario_in_subprocess(tz: str) -> str:
    code = (
        "import json, sys\n"
        "from tests.test_time_limits import run\n"
        "from datetime import timedelta as d\n"
        "case, log, _ = run([('wait', d(hours=1)), ('resume', d(hours=20)), ('advance', d(days=2)), ('finish', d(minutes=5))])\n"
        "print(json.dumps(case.model_dump(mode='json'), sort_keys=True))\n"
    )
    env = {**os.environ, "TZ": tz}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_the_host_time_zone_changes_nothing():
    outputs = {
        tz: _scenario_in_subprocess(tz) for tz in ("UTC", "America/New_York", "Asia/Kathmandu")
    }
    assert len(set(outputs.values())) == 1
    payload: dict[str, Any] = json.loads(outputs["UTC"])
    assert payload["timers"]["respond"]["breached_at"] is not None


def test_closing_a_case_stops_every_clock():
    # `respond` stops only on entering `done`; abandoning goes straight to `closed`.
    case = ENGINE.start("ticket", actor=AGENT, at=T0, case_id="t").case
    assert case.timers["respond"].status == "running"
    closed = ENGINE.fire(case, "abandon", actor=BOSS, at=T0 + timedelta(minutes=70)).case
    assert {t.status for t in closed.timers.values()} == {"stopped"}
    assert closed.next_due is None
    assert ENGINE.advance(closed, at=T0 + timedelta(days=30)).events == ()


def test_the_shipped_hong_kong_calendar_closes_on_general_holidays():
    from datetime import date

    hk = SEED.calendars["office_hk"]
    # Easter 2026 in Hong Kong: Good Friday (3 April), the day following it (Saturday 4),
    # Tomb-Sweeping Day on Sunday 5, Easter Monday (6) and the day following Easter Monday,
    # which also carries Tomb-Sweeping Day observed (Tuesday 7): the office reopens on
    # Wednesday 8 April.
    off = [date(2026, 4, d) for d in (3, 4, 5, 6, 7)]
    assert [hk.is_working_day(d) for d in off] == [False] * 5
    assert hk.is_working_day(date(2026, 4, 2))
    assert hk.is_working_day(date(2026, 4, 8))
    thursday = datetime(2026, 4, 2, 17, 0, tzinfo=ZoneInfo("Asia/Hong_Kong"))
    # Thursday 17:00 + 3h of office time: 1h on Thursday, then Wednesday 09:00-11:00.
    assert hk.add(thursday, parse_duration("3h")) == datetime(
        2026, 4, 8, 11, 0, tzinfo=ZoneInfo("Asia/Hong_Kong")
    )
