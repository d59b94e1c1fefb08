"""Deadlines moved from a date field (`until: signing_date - 5wd`) and states that wait on
purpose (`waits`).

* ``parse_until`` is the one rule for an `until` (the checks, the engine and the SOP read
  it); an offset is a duration of the language, counted in the target's calendar;
* ``Calendar.subtract`` is ``add`` backwards: exact working time, the latest instant, and
  the same position N working days earlier;
* the engine's deadline is the field's moment plus or minus the offset by that rule, is
  re-planned when the field changes, and replay equals the live case;
* `waits` silences ``no-time-limit``, a paused clock does not, and the SOP (three
  languages) and the diagram say what the state waits for; a procedure without `waits`
  keeps its digest.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from servflow import Actor, Engine, Rejected
from servflow.engine.calendar import Calendar, CalendarSpec
from servflow.engine.durations import Duration
from servflow.engine.limits import Until, parse_until, until_field
from servflow.engine.registry import digest_of
from servflow.errors import CalendarError
from servflow.model import State
from servflow.procedures import load_file, load_procedure, load_text
from servflow.render import render_mermaid, render_sop
from tests.strategies_time import (
    calendar_specs,
    calendars,
    day_durations,
    instants,
    second_durations,
)

REPO = Path(__file__).resolve().parent.parent
CALENDARS = load_file(REPO / "procedures" / "calendars.yaml").calendars
SH = ZoneInfo("Asia/Shanghai")
CLERK = Actor(id="c1", roles={"clerk"})
prop = settings(deadline=None, max_examples=100)

SIGNING = """
servflow: 1
id: signing
version: 1
title: {zh-Hant: 簽約, zh-Hans: 签约, en: Contract signing}
calendar: office
roles:
  clerk: {title: {zh-Hant: 客服專員, zh-Hans: 客服专员, en: Clerk}, rank: 1}
fields:
  signing_date: {type: date, title: {zh-Hant: 簽約日期, zh-Hans: 签约日期, en: Signing date}}
  appointment_at: {type: datetime, title: {zh-Hant: 預約時間, zh-Hans: 预约时间, en: Appointment}}
states:
  booked: {title: {zh-Hant: 已預約, zh-Hans: 已预约, en: Booked}}
  prepared:
    title: {zh-Hant: 已準備, zh-Hans: 已准备, en: Prepared}
    waits: {zh-Hant: 客戶約定的簽約日, zh-Hans: 客户约定的签约日, en: the signing day the client chose}
  on_hold: {title: {zh-Hant: 暫停, zh-Hans: 暂停, en: On hold}}
  signed: {title: {zh-Hant: 已簽約, zh-Hans: 已签约, en: Signed}, final: true}
start: {to: booked, roles: [clerk], requires: [signing_date]}
transitions:
  reschedule: {from: [booked, prepared], to: booked, roles: [clerk], accepts: [signing_date]}
  hold: {from: booked, to: on_hold, roles: [clerk]}
  resume: {from: on_hold, to: booked, roles: [clerk]}
  prepare: {from: booked, to: prepared, roles: [clerk], accepts: [appointment_at]}
  sign: {from: prepared, to: signed, roles: [clerk]}
time_limits:
  preparation:
    title: {zh-Hant: 簽約準備, zh-Hans: 签约准备, en: Prepared in time}
    starts: {entered: booked}
    stops: {entered: [prepared, signed]}
    pauses: {in: on_hold}
    within:
      - {until: appointment_at + 2h}
      - {until: signing_date - 5wd}
"""


def engine() -> Engine:
    return Engine([load_procedure(SIGNING)], calendars=CALENDARS)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


# -- the rule of an `until` -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reply_due", Until("reply_due")),
        ("signing_date - 5wd", Until("signing_date", Duration(working_days=5), before=True)),
        ("appointment_at + 2h", Until("appointment_at", Duration(7200))),
        ("  visit+1h30m ", Until("visit", Duration(5400))),
        ("visit - PT45M", Until("visit", Duration(2700), before=True)),
        ("visit - 1 working day", Until("visit", Duration(working_days=1), before=True)),
    ],
)
def test_an_until_is_a_field_and_maybe_an_offset(text: str, expected: Until) -> None:
    assert parse_until(text) == expected
    assert until_field(text) == expected.field


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("signing_date - 7d", "write 7wd for working days or 168h"),
        ("signing_date - P7D", "ISO 8601 years, months, weeks and days are calendar time"),
        ("signing_date -", "an offset after '-' is missing"),
        ("signing_date - 0h", "a time limit must be positive"),
        ("signing_date - -2h", "a time limit must be positive"),
        ("signing_date * 2", "write a date field, maybe with an offset"),
        ("Signing_date + 2h", "write a date field, maybe with an offset"),
        ("signing_date + 2h + 1h", "bad duration"),
        ("", "write a date field"),
        ("x" * 500, "write a date field"),
    ],
)
def test_an_until_written_wrong_says_what_to_write(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="bad") as caught:
        parse_until(text)
    assert fragment in str(caught.value)
    assert len(str(caught.value)) < 400  # a long text is not echoed whole


# -- Calendar.subtract ------------------------------------------------------------------


def test_subtract_in_the_office_calendar() -> None:
    office = engine().calendars["office"]
    # Working time: the latest instant that leaves that much; at the start of the
    # afternoon the count ends at 13:30, not at 12:00.
    assert office.subtract(at(11, 23, 14), Duration(1800)) == at(11, 23, 13, 30)
    assert office.subtract(at(11, 23, 14), Duration(3600)) == at(11, 23, 11, 30)
    assert office.subtract(at(11, 23, 9), Duration(3600)) == at(11, 20, 17)  # Friday
    # Working days: the same point of the working day N working days earlier.
    assert office.subtract(at(11, 27, 17, 30), Duration(working_days=5)) == at(11, 20, 17, 30)
    assert office.subtract(at(11, 25, 10), Duration(working_days=2)) == at(11, 23, 10)
    # From the opening of a day (or a day off) the position is the whole working day before.
    assert office.subtract(at(11, 24, 8, 30), Duration(working_days=1)) == at(11, 20, 17, 30)
    assert office.subtract(at(11, 29, 12), Duration(working_days=1)) == at(11, 26, 17, 30)
    assert office.subtract(at(11, 23, 9), Duration()) == at(11, 23, 9)
    always = engine().calendars["always"]
    assert always.subtract(at(11, 23, 9), Duration(7200, 1)) == at(11, 22, 7)


@prop
@given(calendars(), instants(), second_durations)
def test_subtract_leaves_exactly_that_much_working_time(
    cal: Calendar, end: datetime, d: Duration
) -> None:
    try:
        begin = cal.subtract(end, d)
    except CalendarError:
        assume(False)  # a calendar with too little working time for the duration
        raise
    assert begin.tzinfo is end.tzinfo
    assert cal.elapsed(begin, end) == d.as_timedelta()
    # The latest such instant: a working one, and a moment later leaves less.
    assert cal.is_working(begin)
    assert cal.elapsed(begin + timedelta(microseconds=1), end) < d.as_timedelta()


@prop
@given(calendars(uniform=True), instants(), day_durations)
def test_subtract_undoes_add_in_working_days_when_days_are_alike(
    cal: Calendar, end: datetime, d: Duration
) -> None:
    begin = cal.subtract(end, d)
    assert begin.astimezone(UTC) < end.astimezone(UTC)
    # Adding the days back reaches the end, or the last working instant before it.
    back = cal.add(begin, d)
    assert back.astimezone(UTC) <= end.astimezone(UTC)
    assert cal.elapsed(back, end) == timedelta(0)


# -- the engine -------------------------------------------------------------------------


def test_a_deadline_a_week_of_working_days_before_the_signing_date() -> None:
    desk = engine()
    # Signing on Friday 27 November: prepare by the close of business five working days
    # earlier, Friday 20 November 17:30.
    opened = desk.start(
        "signing", actor=CLERK, data={"signing_date": date(2026, 11, 27)}, at=at(11, 16, 9)
    )
    timer = opened.case.timers["preparation"]
    assert timer.due_at == at(11, 20, 17, 30)
    assert (timer.within, timer.fixed) == ("until signing_date - 5wd", True)
    # The client moves the signing a week on: the deadline follows the field.
    moved = desk.fire(
        opened.case,
        "reschedule",
        actor=CLERK,
        data={"signing_date": date(2026, 12, 4)},
        at=at(11, 17, 9),
    )
    assert moved.case.timers["preparation"].due_at == at(11, 27, 17, 30)
    # A pause does not move a deadline read from the case.
    held = desk.fire(moved.case, "hold", actor=CLERK, at=at(11, 18, 9))
    resumed = desk.fire(held.case, "resume", actor=CLERK, at=at(11, 19, 9))
    assert resumed.case.timers["preparation"].due_at == at(11, 27, 17, 30)
    log = [*opened.events, *moved.events, *held.events, *resumed.events]
    assert desk.replay(log) == resumed.case


def test_a_deadline_two_working_hours_after_an_appointment() -> None:
    # `reschedule` takes any field here, the appointment too.
    desk = Engine(
        [load_procedure(SIGNING.replace("accepts: [signing_date]}", "}"))], calendars=CALENDARS
    )
    without = desk.start(
        "signing", actor=CLERK, data={"signing_date": date(2026, 12, 11)}, at=at(11, 16, 9)
    )
    # While the appointment is empty its target is skipped: the signing date applies.
    assert without.case.timers["preparation"].within == "until signing_date - 5wd"
    # 16:00 on Friday 4 December plus two working hours: 17:30 closes the office, so
    # 09:00 on Monday.
    started = desk.fire(
        without.case,
        "reschedule",
        actor=CLERK,
        data={"appointment_at": at(12, 4, 16)},
        at=at(11, 16, 10),
    )
    timer = started.case.timers["preparation"]
    assert (timer.due_at, timer.within) == (at(12, 7, 9), "until appointment_at + 2h")
    assert timer.started_at == at(11, 16, 9)  # the same cycle, re-planned
    # Emptying the field hands the clock back to the next target, re-planned again.
    cleared = desk.fire(
        started.case, "reschedule", actor=CLERK, data={"appointment_at": None}, at=at(11, 17, 9)
    )
    assert cleared.case.timers["preparation"].due_at == at(12, 4, 17, 30)
    log = [*without.events, *started.events, *cleared.events]
    assert desk.replay(log) == cleared.case


def test_the_last_target_without_its_date_refuses_the_event() -> None:
    only = SIGNING.replace("      - {until: appointment_at + 2h}\n", "").replace(
        "requires: [signing_date]", "requires: []"
    )
    desk = Engine([load_procedure(only)], calendars=CALENDARS)
    with pytest.raises(Rejected) as caught:
        desk.start("signing", actor=CLERK, at=at(11, 16, 9))
    assert (caught.value.reason, caught.value.details["field"]) == ("invalid_data", "signing_date")


@prop
@given(
    st.dates(min_value=date(2026, 11, 20), max_value=date(2026, 12, 31)),
    st.sampled_from(["- 5wd", "- 2h", "+ 3h30m", "- 1wd 4h", "+ 2wd"]),
    st.sampled_from(["office", "always"]),
)
def test_the_deadline_is_the_field_moved_by_the_offset(
    signing: date, offset: str, calendar: str
) -> None:
    text = SIGNING.replace("signing_date - 5wd}", f"signing_date {offset}, calendar: {calendar}}}")
    desk = Engine([load_procedure(text)], calendars=CALENDARS)
    start = at(11, 2, 9)
    case = desk.start("signing", actor=CLERK, data={"signing_date": signing}, at=start).case
    cal = desk.calendars[calendar].extended  # the engine counts past the published year
    close = cal.close_of(signing)
    moment = (
        close
        if close is not None
        else datetime.combine(signing + timedelta(days=1), datetime.min.time(), tzinfo=cal.zone)
    )
    until = parse_until(f"signing_date {offset}")
    assert until.offset is not None
    expected = cal.subtract(moment, until.offset) if until.before else cal.add(moment, until.offset)
    timer = case.timers["preparation"]
    assert timer.due_at == expected.astimezone(UTC)
    assert timer.budget_seconds == int(cal.elapsed(start, expected).total_seconds())


GENERATED = """
servflow: 1
id: visit
version: 1
title: {en: Visit}
calendar: generated
roles:
  clerk: {title: {en: Clerk}}
fields:
  visit_at: {type: datetime, title: {en: Visit}}
states:
  booked: {title: {en: Booked}}
  done: {title: {en: Done}, final: true}
start: {to: booked, roles: [clerk], requires: [visit_at]}
transitions:
  finish: {from: booked, to: done, roles: [clerk]}
time_limits:
  ready:
    starts: {entered: booked}
    stops: {left: booked}
    within:
      - {until: visit_at OFFSET}
"""


@settings(deadline=None, max_examples=60)
@given(
    calendar_specs(),
    instants(),
    st.sampled_from(["- 30m", "- 4h", "+ 2h", "- 1wd", "- 3wd", "+ 2wd", "- 1wd 2h"]),
)
def test_under_any_calendar_the_deadline_is_the_field_moved_by_the_offset(
    spec: CalendarSpec, visit: datetime, offset: str
) -> None:
    proc = load_procedure(GENERATED.replace("OFFSET", offset))
    desk = Engine([proc], calendars={"generated": spec})
    cal = desk.calendars["generated"]
    until = parse_until(f"visit_at {offset}")
    assert until.offset is not None
    try:
        expected = (
            cal.subtract(visit, until.offset) if until.before else cal.add(visit, until.offset)
        )
    except CalendarError:
        assume(False)  # a calendar with too little working time for the offset
        raise
    start = datetime(2025, 10, 1, tzinfo=UTC)
    case = desk.start("visit", actor=CLERK, data={"visit_at": visit}, at=start).case
    assert case.timers["ready"].due_at == expected.astimezone(UTC)
    assert case.timers["ready"].fixed


@prop
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["reschedule", "hold", "resume", "advance"]),
            st.dates(min_value=date(2026, 11, 10), max_value=date(2026, 12, 31)),
            st.integers(1, 3000),
        ),
        max_size=12,
    )
)
def test_replay_of_a_moving_deadline_equals_the_live_case(
    life: list[tuple[str, date, int]],
) -> None:
    desk = engine()
    moment = at(11, 2, 9)
    out = desk.start("signing", actor=CLERK, data={"signing_date": date(2026, 12, 18)}, at=moment)
    case, log = out.case, list(out.events)
    for action, day, minutes in life:
        moment += timedelta(minutes=minutes)
        try:
            if action == "advance":
                out = desk.advance(case, at=moment)
            else:
                data = {"signing_date": day} if action == "reschedule" else {}
                out = desk.fire(case, action, actor=CLERK, data=data, at=moment)
        except Rejected:
            continue
        case = out.case
        log.extend(out.events)
    assert desk.replay(log) == case


# -- waits ------------------------------------------------------------------------------


def _lint(text: str) -> list[tuple[int, str]]:
    result = load_text(text, "signing.yaml")
    return [(d.line or 0, d.message) for d in result.diagnostics if d.code == "no-time-limit"]


WAITS_LINE = (
    "    waits: {zh-Hant: 客戶約定的簽約日, zh-Hans: 客户约定的签约日,"
    " en: the signing day the client chose}\n"
)


def test_waits_silences_no_time_limit_and_a_paused_clock_does_not() -> None:
    assert WAITS_LINE in SIGNING
    # `on_hold` is covered by a clock, but one that is paused there: it watches nothing.
    assert _lint(SIGNING) == [
        (
            17,
            "every time limit is paused in state 'on_hold': a case can wait there for ever"
            " unnoticed; add a time limit that runs in it, or say what it waits for with"
            " `waits:`",
        )
    ]
    # Without `waits`, `prepared` is a state where a case waits unnoticed.
    found = _lint(SIGNING.replace(WAITS_LINE, ""))
    assert [(line, message.split(":")[0]) for line, message in found] == [
        (14, "no time limit runs in state 'prepared'"),
        (16, "every time limit is paused in state 'on_hold'"),
    ]
    # Saying what `on_hold` waits for settles it.
    settled = SIGNING.replace(
        "  on_hold: {title: {zh-Hant: 暫停, zh-Hans: 暂停, en: On hold}}",
        "  on_hold: {title: {en: On hold}, waits: {en: the client's papers}}",
    )
    assert _lint(settled) == []


def test_a_procedure_without_waits_keeps_its_digest() -> None:
    assert "waits" not in State().model_dump()
    assert State(waits={"en": "x"}).model_dump()["waits"] == {"en": "x"}
    for name in ("repair.v2", "complaint.v2", "renovation"):  # files that write no `waits`
        proc = load_file(REPO / "procedures" / f"{name}.yaml").procedure
        assert proc is not None
        assert "waits" not in str(proc.model_dump(mode="json", by_alias=True))
        assert digest_of(proc).startswith("sha256:")


@pytest.mark.parametrize(
    ("lang", "waits", "until"),
    [
        (
            "en",
            "waits for: the signing day the client chose",
            "5 working days before the date in “Signing date”",
        ),
        ("zh-Hant", "等候：客戶約定的簽約日", "至「簽約日期」所載日期前 5 個工作天"),
        ("zh-Hans", "等候：客户约定的签约日", "至「签约日期」所载日期前 5 个工作日"),
    ],
)
def test_the_sop_says_what_a_state_waits_for_and_how_a_deadline_moves(
    lang: str, waits: str, until: str
) -> None:
    proc = load_procedure(SIGNING)
    sop = render_sop(proc, lang)
    assert waits in sop
    assert until in sop
    assert "⏳" in render_mermaid(proc, lang)
