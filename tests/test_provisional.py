"""Deadlines past a calendar's published schedule: provisional, then re-planned.

The shipped ``office`` calendar is published through 2026-12-31. Past it the engine counts
with the holidays the law fixes (the ``holidays`` package's statutory days, no make-up
days) and marks the timer provisional; an engine given a calendar published further
re-plans such timers in ``advance`` (and so in ``fire``), one ``replanned`` event each,
and the log replays to the live case.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow import Actor, CalendarError, Case, Engine, Rejected, ReplayError
from servflow.engine import CalendarSpec, parse_duration
from servflow.engine.case import Event
from servflow.procedures import load_file, load_procedure

REPO = Path(__file__).resolve().parent.parent
SH = ZoneInfo("Asia/Shanghai")
CALENDARS: dict[str, CalendarSpec] = dict(
    load_file(REPO / "procedures" / "calendars.yaml").calendars
)
OFFICE = CALENDARS["office"]
END = datetime(2027, 1, 1, tzinfo=SH)  # the published schedule ends at this instant

# The 2027 schedule as it might be published: a make-up Saturday, a day off, a half day.
PUBLISHED_2027 = OFFICE.model_copy(
    update={
        "published_through": date(2027, 12, 31),
        "overrides": {
            date(2027, 1, 2): "workday",
            date(2027, 1, 5): "off",
            date(2027, 1, 8): ("08:30-12:00",),
        },
    }
)

SEED = Engine.from_directory(REPO / "procedures")
SEED_2027 = Engine(SEED.procedures(), calendars={**CALENDARS, "office": PUBLISHED_2027})
CLERK = Actor(id="c1", roles={"repair_reception"})

TICKET = """
servflow: 1
id: ticket
version: 1
title: {en: Ticket}
calendar: office
roles:
  agent: {title: {en: Agent}, rank: 1}
  lead: {title: {en: Lead}, rank: 2}
escalation: [agent, lead]
fields:
  urgent: {type: boolean, default: false, title: {en: Urgent}}
states:
  open: {title: {en: Open}}
  waiting: {title: {en: Waiting}}
  done: {title: {en: Done}}
  closed: {title: {en: Closed}, final: true}
start: {to: open, roles: [agent]}
transitions:
  wait: {from: open, to: waiting, roles: [agent, lead]}
  resume: {from: waiting, to: open, roles: [agent, lead]}
  mark_urgent: {from: [open, waiting], to: open, roles: [agent, lead], accepts: [urgent]}
  escalate: {from: [open, waiting], to: open, roles: [agent, lead], escalates: true}
  finish: {from: [open, waiting], to: done, roles: [agent, lead]}
  reopen: {from: done, to: open, roles: [agent, lead]}
  close: {from: done, to: closed, roles: [agent, lead]}
time_limits:
  respond:
    starts: {entered: open}
    stops: {entered: done}
    pauses: {in: waiting}
    within:
      - {when: "urgent", limit: 4h}
      - {limit: 2wd}
    warn_at: ["50%", "75%"]
    warn_notify: [agent]
    on_breach:
      - {notify: lead}
      - {fire: escalate}
      - {notify: lead, after: 3h}
  close_out:
    starts: {entered: done}
    stops: {left: done}
    within:
      - {limit: 1wd, end_of_working_day: true}
"""
PROC = load_procedure(TICKET)
A = Engine([PROC], calendars=CALENDARS)
B = Engine([PROC], calendars={**CALENDARS, "office": PUBLISHED_2027})
# The same calendar as A up to its published end, and different after it.
OTHER_FUTURE = Engine(
    [PROC],
    calendars={
        **CALENDARS,
        "office": OFFICE.model_copy(
            update={
                "published_through": date(2029, 12, 31),
                "overrides": {date(2027, 1, d): "off" for d in (4, 6, 7, 11, 12)},
            }
        ),
    },
)
AGENT = Actor(id="a1", roles={"agent", "lead"})


def _repair(when: datetime) -> dict[str, object]:
    return {
        "resident_name": "王小明",
        "address": "A-1203",
        "phone": "138 0000 0000",
        "fault": "Kitchen pipe leaking",
        "appointment_at": when,
    }


# -- pinned examples -------------------------------------------------------------------


def test_a_repair_dispatched_in_2027_is_provisional_then_replanned_and_replays():
    monday = datetime(2027, 1, 4, 9, 0, tzinfo=SH)
    opened = SEED.start(
        "repair", version=2, actor=CLERK, data=_repair(monday), at=monday, case_id="r"
    )
    dispatched = SEED.fire(
        opened.case, "dispatch", actor=CLERK, data={"technician": "李"}, at=monday
    )
    completion = dispatched.case.timers["completion"]
    assert completion.due_at == datetime(2027, 1, 6, 9, 0, tzinfo=SH)
    assert (completion.provisional, completion.published_through) == (True, date(2026, 12, 31))
    assert dispatched.case.timers["dispatch_in_time"].provisional is False  # `always`

    warned = SEED.advance(dispatched.case, at=datetime(2027, 1, 5, 10, 0, tzinfo=SH))
    assert [(e.kind, e.at, e.detail) for e in warned.events] == [
        (
            "warned",
            datetime(2027, 1, 5, 9, 0, tzinfo=SH),
            {
                "percent": 50.0,
                "percent_key": 5000,
                "cycle": 1,
                "provisional": True,
                "published_through": "2026-12-31",
                # The publication it was computed under: replay computes it in that one.
                "publications": {"office": "2026-12-31"},
            },
        )
    ]
    assert dispatched.events[0].detail == {"publications": {"office": "2026-12-31"}}

    # 2027 is published: 5 January is declared off, so the deadline moves to Thursday.
    later = SEED_2027.advance(warned.case, at=datetime(2027, 1, 5, 11, 0, tzinfo=SH))
    assert [(e.kind, e.trigger, e.actor, e.at) for e in later.events] == [
        ("replanned", "completion", "servflow", warned.case.updated_at)
    ]
    assert later.events[0].detail == {
        "cycle": 1,
        "published_through": "2027-12-31",
        "was_published_through": "2026-12-31",
        "was_due_at": "2027-01-06T01:00:00+00:00",
        "due_at": "2027-01-07T01:00:00+00:00",
        # The 80% warning: after 12 of the 15 business hours (Tuesday 15:00 as it was
        # planned; Wednesday 15:00 with the 5th off).
        "was_next_at": "2027-01-05T07:00:00+00:00",
        "next_at": "2027-01-06T07:00:00+00:00",
        "provisional": False,
        "publications": {"office": "2027-12-31"},
    }
    completion = later.case.timers["completion"]
    assert completion.due_at == datetime(2027, 1, 7, 9, 0, tzinfo=SH)
    assert (completion.provisional, completion.published_through) == (False, None)
    assert completion.warnings == (5000,)
    assert later.effects == ()

    log = [*opened.events, *dispatched.events, *warned.events, *later.events]
    assert SEED_2027.replay(log) == later.case
    assert SEED.replay(log[:3]) == warned.case
    # Idempotent; and an engine with the older calendar never re-plans backwards.
    assert SEED_2027.advance(later.case, at=datetime(2027, 1, 5, 11, 0, tzinfo=SH)).events == ()
    assert SEED.advance(later.case, at=datetime(2027, 1, 5, 11, 0, tzinfo=SH)).events == ()


def test_fire_replans_first_as_it_applies_what_fell_due():
    monday = datetime(2027, 1, 4, 9, 0, tzinfo=SH)
    case = SEED.start("repair", version=2, actor=CLERK, data=_repair(monday), at=monday).case
    case = SEED.fire(case, "dispatch", actor=CLERK, data={"technician": "李"}, at=monday).case
    out = SEED_2027.fire(
        case,
        "complete",
        actor=Actor(id="m", roles={"maintenance", "repair_reception"}),
        data={"work_order_no": "W-1", "completed_at": monday + timedelta(hours=1)},
        at=monday + timedelta(hours=1),
    )
    assert [e.kind for e in out.events] == ["replanned", "fired"]
    assert out.events[0].at == case.updated_at
    # The callback limit starts under the published 2027 calendar: not provisional.
    callback = out.case.timers["callback_in_time"]
    assert callback.provisional is False
    assert callback.due_at == datetime(2027, 1, 7, 10, 0, tzinfo=SH)  # the 5th is off


def test_spring_festival_2027_is_counted_from_the_statutory_holidays():
    # Completed on Thursday 4 February 2027: the eve (5th) and 6-10 February are off.
    done = datetime(2027, 2, 4, 16, 0, tzinfo=SH)
    case = SEED.start(
        "repair", version=2, actor=CLERK, data=_repair(done), at=done - timedelta(hours=2)
    ).case
    case = SEED.fire(
        case, "dispatch", actor=CLERK, data={"technician": "李"}, at=done - timedelta(hours=1)
    ).case
    case = SEED.fire(
        case,
        "complete",
        actor=CLERK,
        data={"work_order_no": "W-1", "completed_at": done},
        at=done,
    ).case
    callback = case.timers["callback_in_time"]
    assert callback.due_at == datetime(2027, 2, 12, 16, 0, tzinfo=SH)
    assert callback.provisional is True


def test_a_provisional_breach_stays_and_takes_the_new_deadline():
    start = datetime(2027, 1, 4, 9, 0, tzinfo=SH)
    opened = A.start("ticket", actor=AGENT, at=start, case_id="t")
    case = opened.case
    # 2wd from Monday 09:00: Wednesday 09:00 provisionally; breached then.
    out = A.advance(case, at=datetime(2027, 1, 6, 10, 0, tzinfo=SH))
    assert [e.kind for e in out.events] == ["warned", "warned", "breached", "auto_fired"]
    assert all(e.detail.get("provisional") for e in out.events[:3])
    again = B.advance(out.case, at=datetime(2027, 1, 6, 10, 0, tzinfo=SH))
    assert [e.kind for e in again.events] == ["replanned"]
    respond = again.case.timers["respond"]
    # Under the published calendar (5th off) the deadline is Thursday 09:00; the breach
    # already recorded stays (a breach is sticky), and its after-3h step is re-planned.
    assert respond.breached_at == datetime(2027, 1, 6, 9, 0, tzinfo=SH)
    assert respond.due_at == datetime(2027, 1, 7, 9, 0, tzinfo=SH)
    assert B.replay([*opened.events, *out.events, *again.events]) == again.case


# -- properties ------------------------------------------------------------------------

# Lives that start around the end of the published schedule, on either side of it.
MOMENTS = st.integers(min_value=-12 * 24 * 60, max_value=12 * 24 * 60).map(
    lambda minutes: datetime(2027, 1, 1, tzinfo=SH) + timedelta(minutes=minutes)
)
ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["wait", "resume", "mark_urgent", "finish", "reopen", "advance"]),
        st.integers(min_value=1, max_value=2 * 24 * 60),
    ),
    max_size=8,
)
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _life(
    start: datetime, actions: list[tuple[str, int]], switch: int
) -> tuple[Case, list[Event], datetime]:
    """Live processing: engine A up to action ``switch``, engine B from then on.

    At the switch the host sweeps its cases (``advance`` to the case's last change), as
    a host does when it deploys a new calendar file.
    """
    out = A.start("ticket", actor=AGENT, at=start, case_id="t")
    case, events, at = out.case, list(out.events), start
    for i, (op, minutes) in enumerate(actions):
        engine = A if i < switch else B
        if i == switch:
            out = B.advance(case, at=case.updated_at)
            case = out.case
            events.extend(out.events)
        at += timedelta(minutes=minutes)
        if op == "advance":
            out = engine.advance(case, at=at)
        else:
            data = {"urgent": True} if op == "mark_urgent" else None
            try:
                out = engine.fire(case, op, actor=AGENT, data=data, at=at)
            except Rejected:
                continue
        case = out.case
        events.extend(out.events)
    return case, events, at


def _ended_past(record_end: datetime | None, due: datetime | None) -> bool:
    return (record_end is not None and record_end > END) or (due is not None and due > END)


def _ended_provisionally(case: Case) -> bool:
    """A cycle that ended past the published end before the calendar was published."""
    for timer in case.timers.values():
        if any(_ended_past(r.ended_at, r.due_at) for r in timer.history):
            return True
        if timer.status == "stopped" and _ended_past(timer.stopped_at, timer.due_at):
            return True
    return False


@PROPS
@given(start=MOMENTS, actions=ACTIONS, data=st.data())
def test_replay_equals_the_live_case_across_a_re_plan(start, actions, data):
    switch = data.draw(st.integers(min_value=0, max_value=len(actions)))
    live, events, _ = _life(start, actions, switch)
    if switch == len(actions):
        # With the engine that ran it all, exactly; and a replanned event only ever comes
        # from an engine holding a calendar published further.
        assert A.replay(events) == live
        assert all(e.kind != "replanned" for e in events)
        return
    # Exactly, cycles that ended before the re-plan included: each event records the
    # publication it was counted under, and replay counts it in that one.
    assert B.replay(events) == live
    assert B.verify(events, stored=live).ok


@PROPS
@given(
    start=MOMENTS, actions=ACTIONS, t1=st.integers(0, 5 * 24 * 60), t2=st.integers(0, 5 * 24 * 60)
)
def test_advance_is_idempotent_and_split_invariant_across_the_publication(start, actions, t1, t2):
    case, _, at = _life(start, actions, len(actions))  # all under A
    first = at + timedelta(minutes=min(t1, t2))
    last = at + timedelta(minutes=max(t1, t2))
    straight = B.advance(case, at=last)
    split_one = B.advance(case, at=first)
    split_two = B.advance(split_one.case, at=last)
    assert split_two.case == straight.case
    assert (*split_one.events, *split_two.events) == straight.events
    assert B.advance(straight.case, at=last).events == ()
    provisional = [t for t in case.timers.values() if t.provisional]
    assert sum(e.kind == "replanned" for e in straight.events) == len(
        provisional if case.state != "closed" else []
    )


@PROPS
@given(start=MOMENTS, actions=ACTIONS)
def test_provisional_iff_the_plan_reaches_past_the_published_end(start, actions):
    case, events, _ = _life(start, actions, len(actions))
    # The same life under a calendar that agrees up to the published end and differs
    # after it: a timer that is not provisional did not look past the end.
    other = OTHER_FUTURE.replay(events)
    for name, timer in case.timers.items():
        counted = [timer.next_at, timer.resumed_at, timer.paused_at]
        if timer.breached_at is None:
            counted.append(timer.due_at)
        reaches = timer.status != "stopped" and any(m is not None and m > END for m in counted)
        assert timer.provisional is reaches
        assert timer.published_through == (date(2026, 12, 31) if reaches else None)
        if not timer.provisional and not _ended_provisionally(case) and timer.status != "stopped":
            mirror = other.timers[name]
            assert (mirror.due_at, mirror.next_at, mirror.budget_seconds) == (
                timer.due_at,
                timer.next_at,
                timer.budget_seconds,
            )


@pytest.mark.parametrize("engine", [A, B])
def test_a_case_closed_is_never_replanned(engine):
    start = datetime(2027, 1, 4, 9, 0, tzinfo=SH)
    case = A.start("ticket", actor=AGENT, at=start).case
    case = A.fire(case, "finish", actor=AGENT, at=start + timedelta(hours=1)).case
    case = A.fire(case, "close", actor=AGENT, at=start + timedelta(hours=2)).case
    assert not any(t.provisional for t in case.timers.values())
    assert engine.advance(case, at=start + timedelta(days=30)).events == ()


def test_a_host_with_an_older_calendar_keeps_the_plan_and_the_newer_host_replans_again():
    start = datetime(2027, 1, 4, 9, 0, tzinfo=SH)
    opened = A.start("ticket", actor=AGENT, at=start, case_id="t")
    replanned = B.advance(opened.case, at=start + timedelta(minutes=5))
    assert [e.kind for e in replanned.events] == ["replanned"]
    assert replanned.case.timers["respond"].provisional is False
    # The older host keeps that plan as long as it computes nothing new for the timer ...
    assert A.advance(replanned.case, at=start + timedelta(minutes=5)).events == ()
    # ... and what it does compute (a resume after a pause) is provisional by its calendar.
    waiting = A.fire(replanned.case, "wait", actor=AGENT, at=start + timedelta(hours=1))
    resumed = A.fire(waiting.case, "resume", actor=AGENT, at=start + timedelta(hours=2))
    respond = resumed.case.timers["respond"]
    assert (respond.provisional, respond.published_through) == (True, date(2026, 12, 31))
    # The newer host re-plans it once more, and the whole log replays to the live case.
    again = B.advance(resumed.case, at=start + timedelta(hours=3))
    assert [e.kind for e in again.events] == ["replanned"]
    respond = again.case.timers["respond"]
    assert respond.provisional is False
    # 2wd from Monday 09:00 with the 5th off is Thursday 09:00, plus the hour paused.
    assert respond.due_at == datetime(2027, 1, 7, 10, 0, tzinfo=SH)
    log = [*opened.events, *replanned.events, *waiting.events, *resumed.events, *again.events]
    assert B.replay(log) == again.case


# -- hosts holding different publications ----------------------------------------------


def _published(through: date, overrides: dict[date, object]) -> Engine:
    spec = OFFICE.model_copy(
        update={"published_through": through, "overrides": {**OFFICE.overrides, **overrides}}
    )
    return Engine([PROC], calendars={**CALENDARS, "office": spec})


# Successive publications of one calendar: each agrees with the next up to its own end.
_2027 = {date(2027, 1, 2): "workday", date(2027, 1, 5): "off", date(2027, 1, 8): ("08:30-12:00",)}
HOSTS = (
    A,
    _published(date(2027, 1, 5), {d: v for d, v in _2027.items() if d <= date(2027, 1, 5)}),
    _published(date(2027, 12, 31), _2027),
    _published(date(2028, 12, 31), {**_2027, date(2028, 1, 3): "off"}),
)
NEWEST = HOSTS[-1]


def _hosted_life(start: datetime, steps: list[tuple[str, int, int]]) -> tuple[Case, list[Event]]:
    """A life in which each call is made by one of HOSTS, whichever the draw says."""
    out = HOSTS[0].start("ticket", actor=AGENT, at=start, case_id="t")
    case, events, at = out.case, list(out.events), start
    for op, minutes, host in steps:
        engine = HOSTS[host]
        at += timedelta(minutes=minutes)
        if op == "advance":
            out = engine.advance(case, at=at)
        else:
            data = {"urgent": True} if op == "mark_urgent" else None
            try:
                out = engine.fire(case, op, actor=AGENT, data=data, at=at)
            except Rejected:
                continue
        case = out.case
        events.extend(out.events)
    return case, events


HOSTED = st.lists(
    st.tuples(
        st.sampled_from(["wait", "resume", "mark_urgent", "finish", "reopen", "advance"]),
        st.integers(min_value=1, max_value=2 * 24 * 60),
        st.integers(min_value=0, max_value=len(HOSTS) - 1),
    ),
    max_size=10,
)


def _recorded(events: list[Event]) -> list[date]:
    return [
        date.fromisoformat(e.detail["publications"]["office"])
        for e in events
        if "office" in e.detail.get("publications", {})
    ]


@PROPS
@given(start=MOMENTS, steps=HOSTED)
def test_replay_is_exact_whichever_publications_the_hosts_held(start, steps):
    live, events = _hosted_life(start, steps)
    assert NEWEST.replay(events) == live
    report = NEWEST.verify(events, stored=live)
    assert report.ok, report.problems
    # An older host replays it too, unless the log holds what only a newer one computed:
    # then it says so, naming the calendar, rather than computing something else.
    for host in HOSTS[:-1]:
        try:
            replayed = host.replay(events)
        except ReplayError as exc:
            problem = exc.problem
        else:
            assert replayed == live
            continue
        assert "calendar 'office'" in problem
        assert "replay the log with an engine holding that publication" in problem


@PROPS
@given(start=MOMENTS, steps=HOSTED, data=st.data())
def test_a_recorded_publication_altered_is_refused(start, steps, data):
    _, events = _hosted_life(start, steps)
    marked = [i for i, e in enumerate(events) if e.detail.get("publications")]
    if not marked:
        return
    i = data.draw(st.sampled_from(marked))
    altered = data.draw(
        st.sampled_from(
            [
                {"office": "2030-01-01"},  # newer than any host's
                {"office": "2027-02-30"},
                {"office": 20270101},
                {"nowhere": "2026-12-31"},
                {},
                "office",
            ]
        )
    )
    tampered = [e.model_dump() for e in events]
    if altered is None:
        del tampered[i]["detail"]["publications"]
    else:
        tampered[i]["detail"]["publications"] = altered
    with pytest.raises(ReplayError) as caught:
        NEWEST.replay(tampered)
    assert caught.value.seq == events[i].seq
    if altered == {"office": "2030-01-01"}:
        assert "published through 2030-01-01" in caught.value.problem
        assert "published through 2028-12-31 only" in caught.value.problem


def test_an_engine_older_than_the_log_names_both_publications():
    start = datetime(2027, 1, 4, 9, 0, tzinfo=SH)
    opened = A.start("ticket", actor=AGENT, at=start, case_id="t")
    replanned = NEWEST.advance(opened.case, at=start + timedelta(minutes=5))
    log = [*opened.events, *replanned.events]
    with pytest.raises(ReplayError) as caught:
        A.replay(log)
    assert caught.value.seq == 2
    assert caught.value.problem == (
        "it was computed with calendar 'office' published through 2028-12-31, but this "
        "engine's 'office' is published through 2026-12-31 only: replay the log with an "
        "engine holding that publication or a later one"
    )
    assert NEWEST.replay(log) == replanned.case
    report = A.verify(log)
    assert report.first is not None
    assert (report.ok, report.first.problem, report.verified) == (False, caught.value.problem, 1)


@PROPS
@given(start=MOMENTS, steps=HOSTED, data=st.data())
def test_a_publication_record_removed_or_moved_back_never_goes_unnoticed(start, steps, data):
    """What some host could have written is not refused by replay alone ...

    A log whose record says 2025, or nothing (a host with a newer calendar, within its
    publication, records none), may be another host's true log. Such an alteration is
    refused by replay, or the rebuilt case differs from the stored one (verify with
    ``stored``), or it changed nothing at all.
    """
    live, events = _hosted_life(start, steps)
    marked = [i for i, e in enumerate(events) if e.detail.get("publications")]
    if not marked:
        return
    i = data.draw(st.sampled_from(marked))
    tampered = [e.model_dump() for e in events]
    if data.draw(st.booleans()):
        del tampered[i]["detail"]["publications"]
    else:
        tampered[i]["detail"]["publications"] = {"office": "2025-12-31"}
    report = NEWEST.verify(tampered, stored=live)
    if report.first is not None and report.first.seq is not None:
        # Refused by replay, at the altered event or at a later one it contradicts.
        assert report.first.seq >= events[i].seq
        with pytest.raises(ReplayError):
            NEWEST.replay(tampered)
    else:
        assert report.case == live or not report.ok


def test_a_calendar_as_published_is_the_older_file_cached():
    newest = NEWEST.calendars["office"]
    older = HOSTS[1].calendars["office"]  # published through 2027-01-05
    view = newest.as_published(date(2027, 1, 5))
    assert view is newest.as_published(date(2027, 1, 5))  # built once
    assert view.published_through == date(2027, 1, 5)
    assert view.as_published(date(2028, 12, 31)) is newest
    assert newest.as_published(date(2028, 12, 31)) is newest
    assert view.spec == older.spec
    # The same answers as the older file, past its end too (its provisional view).
    monday = datetime(2027, 1, 4, 9, 0, tzinfo=SH)
    for days in ("1wd", "2wd", "5wd", "30wd"):
        duration = parse_duration(days)
        assert view.extended.add(monday, duration) == older.extended.add(monday, duration)
    # 8 January is a half day in the later publication only.
    thursday = datetime(2027, 1, 7, 14, 0, tzinfo=SH)
    assert view.extended.add(thursday, parse_duration("1wd")) == datetime(
        2027, 1, 8, 14, 0, tzinfo=SH
    )
    assert newest.add(thursday, parse_duration("1wd")) == datetime(2027, 1, 8, 12, 0, tzinfo=SH)
    with pytest.raises(CalendarError, match=r"published through 2028-12-31 only"):
        newest.as_published(date(2029, 1, 1))


TWO = """
servflow: 1
id: two
version: 1
title: {en: Two clocks}
calendar: office
roles:
  agent: {title: {en: Agent}, rank: 1}
states:
  open: {title: {en: Open}}
  closed: {title: {en: Closed}, final: true}
start: {to: open, roles: [agent]}
transitions:
  close: {from: open, to: closed, roles: [agent]}
time_limits:
  plain:
    starts: {entered: open}
    stops: {entered: closed}
    within: [{limit: 1h}]
  chased:
    starts: {entered: open}
    stops: {entered: closed}
    within: [{limit: 1h}]
    on_breach:
      - {notify: agent, after: 1wd}
"""


def test_a_batch_whose_later_event_alone_names_the_publication_replays_exactly():
    """Two breaches fall due together at 17:00 on 31 December. The first counts nothing
    past the published end and records nothing; the second plans its step into 2027 and
    records 2026. Replay derives the whole batch again in the 2026 publication."""
    procedure = load_procedure(TWO)
    hosts = [
        Engine([procedure], calendars={**CALENDARS, "office": h.calendars["office"].spec})
        for h in (A, NEWEST)
    ]
    old, new = hosts
    opened = old.start("two", actor=AGENT, at=datetime(2026, 12, 31, 16, 0, tzinfo=SH))
    due = old.advance(opened.case, at=datetime(2026, 12, 31, 18, 0, tzinfo=SH))
    assert [(e.kind, e.time_limit, e.detail.get("publications")) for e in due.events] == [
        ("breached", "plain", None),
        ("breached", "chased", {"office": "2026-12-31"}),
    ]
    # 1wd after the breach: Monday 4 January in 2026's view; the newer file makes
    # Saturday 2 January a working day.
    assert due.case.timers["chased"].next_at == datetime(2027, 1, 4, 17, 0, tzinfo=SH)
    log = [*opened.events, *due.events]
    assert new.replay(log) == due.case
    assert new.verify(log, stored=due.case).ok
    # The same batch written by the newer host records nothing, and replays too.
    fresh = new.advance(
        new.start("two", actor=AGENT, at=datetime(2026, 12, 31, 16, 0, tzinfo=SH)).case,
        at=datetime(2026, 12, 31, 18, 0, tzinfo=SH),
    )
    assert fresh.case.timers["chased"].next_at == datetime(2027, 1, 2, 17, 0, tzinfo=SH)
    assert all("publications" not in e.detail for e in fresh.events)
