"""Schedules: the cases the calendar opens, exactly once, whatever the windows or workers."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow import CalendarError, Desk, Engine, Opening, Outcome
from servflow.calendar_spec import CalendarSpec
from servflow.procedures import load_text
from servflow.store import MemoryStore
from tests.test_store_contract import open_backend

REPO = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
FILES = (
    REPO / "tests" / "procedures" / "routine_check.yaml",
    REPO / "procedures" / "calendars.yaml",
)


def local(*parts: int, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_directory(*FILES)


def ids(openings: list[Opening]) -> list[str]:
    return [o.case_id for o in openings]


def started(outcomes: list[Outcome]) -> list[str]:
    """The cases ``run_due`` opened (it also returns the due cases it advanced)."""
    return [o.case.id for o in outcomes if o.events[0].kind == "started"]


# A procedure in a zone with daylight saving time, on a calendar open every day, with
# times in the spring gap (02:30) and the autumn repeat (01:30), and an rrule.
DST = """
servflow: 1
id: night_round
version: 1
title: {en: Night round}
calendar: ny
roles:
  guard: {title: {en: Guard}}
fields:
  day: {type: date, title: {en: Day}}
states:
  due: {title: {en: Due}}
  done: {title: {en: Done}, final: true}
start: {to: due, roles: [guard]}
transitions:
  finish: {from: due, to: done, roles: [guard]}
schedule:
  - {every: day, at: "02:30", role: guard, date_field: day}
  - {every: day, at: "01:30", role: guard}
  - {every: month, days: [-1], at: "01:30", role: guard}
  - {rrule: "FREQ=MONTHLY;BYDAY=1MO", at: "23:59", role: guard}
"""
NY = CalendarSpec.model_validate(
    {
        "timezone": "America/New_York",
        "hours": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
)


@pytest.fixture(scope="module")
def dst_engine() -> Engine:
    result = load_text(DST, file="night_round.yaml")
    assert result.ok, result.diagnostics
    assert result.procedure is not None
    return Engine([result.procedure], calendars={"ny": NY})


# -- the occurrences ----------------------------------------------------------------------


def test_working_days_follow_the_calendar_holidays_and_make_up_days(engine):
    found = engine.openings(local(2026, 9, 28), local(2026, 10, 13))
    daily = [o.at.date() for o in found if o.data["kind"] == "daily_close"]
    # National Day: 1-7 October off; Saturday 10 October is a make-up working day.
    assert daily == [
        date(2026, 9, 28),
        date(2026, 9, 29),
        date(2026, 9, 30),
        date(2026, 10, 8),
        date(2026, 10, 9),
        date(2026, 10, 10),
        date(2026, 10, 12),
    ]
    assert all(
        o.at.hour == 17 and o.at.minute == 30 for o in found if o.data["kind"] == "daily_close"
    )
    weekly = [o.at for o in found if o.data["kind"] == "weekly_statistics"]
    # Mondays, holiday or not: a weekly schedule is not a working-day one.
    assert weekly == [local(2026, 9, 28, 9), local(2026, 10, 5, 9), local(2026, 10, 12, 9)]


def test_twice_a_year_with_stable_ids_data_and_actor(engine):
    found = [
        o
        for o in engine.openings(local(2026, 1, 1), local(2027, 1, 1), "routine_check")
        if o.data["kind"] == "archive_inspection"
    ]
    assert ids(found) == [
        "routine_check@2026-03-01T09:00+08:00",
        "routine_check@2026-09-01T09:00+08:00",
    ]
    first = found[0]
    assert dict(first.data) == {"kind": "archive_inspection", "business_date": "2026-03-01"}
    assert (first.role, first.actor.id, first.actor.roles) == (
        "archivist",
        "schedule",
        {"archivist"},
    )
    assert (first.version, first.schedule) == (1, 2)


def test_windows_are_half_open(engine):
    at = local(2026, 3, 1, 9)
    assert ids(engine.openings(at, at + timedelta(microseconds=1))) == [
        "routine_check@2026-03-01T09:00+08:00"
    ]
    assert engine.openings(at - timedelta(hours=1), at) == []
    assert engine.openings(at, at) == []
    assert engine.openings(at, at - timedelta(days=1)) == []


def test_a_window_past_the_published_calendar_is_refused_not_guessed(engine):
    with pytest.raises(CalendarError):
        engine.openings(local(2026, 12, 30), local(2027, 1, 6))


def test_gap_and_repeated_times_resolve_as_the_calendar_does(dst_engine):
    spring = dst_engine.openings(local(2026, 3, 8, zone=NEW_YORK), local(2026, 3, 9, zone=NEW_YORK))
    # 02:30 never shows on the clock on 8 March: forward, to 03:30 EDT.
    assert "night_round@2026-03-08T03:30-04:00" in ids(spring)
    assert [o.data for o in spring if o.schedule == 0] == [{"day": "2026-03-08"}]
    autumn = dst_engine.openings(
        local(2026, 11, 1, zone=NEW_YORK), local(2026, 11, 2, zone=NEW_YORK)
    )
    # 01:30 shows twice on 1 November: its first occurrence (EDT), once.
    assert [o.case_id for o in autumn if o.schedule == 1] == ["night_round@2026-11-01T01:30-04:00"]


def test_two_schedules_on_one_instant_open_one_case(dst_engine):
    # 31 January 01:30 is both a daily and a last-day-of-the-month occurrence.
    found = dst_engine.openings(local(2026, 1, 31, zone=NEW_YORK), local(2026, 2, 1, zone=NEW_YORK))
    at_130 = [o for o in found if o.at.hour == 1]
    assert [(o.case_id, o.schedule) for o in at_130] == [("night_round@2026-01-31T01:30-05:00", 1)]


def test_the_rrule_escape_hatch(dst_engine):
    found = dst_engine.openings(local(2026, 1, 1, zone=NEW_YORK), local(2026, 5, 1, zone=NEW_YORK))
    firsts = [o.at.date() for o in found if o.schedule == 3]
    assert firsts == [date(2026, 1, 5), date(2026, 2, 2), date(2026, 3, 2), date(2026, 4, 6)]


# -- properties ---------------------------------------------------------------------------

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
moments = st.integers(min_value=0, max_value=360 * 24 * 60).map(
    lambda minutes: YEAR_START + timedelta(minutes=minutes)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(points=st.lists(moments, min_size=3, max_size=3, unique=True), dst=st.booleans())
def test_openings_are_exactly_once_whatever_the_window_split(engine, dst_engine, points, dst):
    a, b, c = sorted(points)
    subject = dst_engine if dst else engine
    whole = subject.openings(a, c)
    assert subject.openings(a, b) + subject.openings(b, c) == whole
    assert subject.openings(a, c) == whole  # deterministic
    keys = [(o.at.astimezone(UTC), o.procedure, o.schedule) for o in whole]
    assert keys == sorted(keys)
    assert len(set(ids(whole))) == len(whole)
    assert all(a <= o.at < c for o in whole)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=moments.filter(lambda m: m < datetime(2026, 12, 20, tzinfo=UTC)))
def test_a_scheduled_opening_replays_to_the_live_case(engine, dst_engine, start):
    for subject in (engine, dst_engine):
        for opening in subject.openings(start, start + timedelta(days=8))[:3]:
            out = subject.open(opening)
            assert out.case.id == opening.case_id
            assert subject.replay(out.events) == out.case
            assert (out.events[0].actor, out.events[0].at) == ("schedule", opening.at)


# -- the desk -------------------------------------------------------------------------------


def test_run_due_opens_from_the_first_run_then_catches_up_in_bounded_calls(engine):
    desk = Desk(engine, MemoryStore())
    first = local(2026, 3, 2, 9)  # a Monday: the weekly statistics fall due now
    opened = desk.run_due(first)
    assert [o.case.id for o in opened] == ["routine_check@2026-03-02T09:00+08:00"]
    assert desk.run_due(first) == []
    # Down for a week: the missed cases come in order, three per call.
    back = local(2026, 3, 10, 10)
    seen: list[str] = []
    while batch := desk.open_due(back, limit=3):
        assert len(batch) <= 3
        seen.extend(o.case.id for o in batch)
    expected = ids(engine.openings(first + timedelta(microseconds=1), back))
    assert len(expected) == 7  # five closes, Monday's statistics and close
    assert seen == expected
    assert desk.store.schedule_cursor("routine_check") == back + timedelta(microseconds=1)
    for case_id in seen:
        assert engine.replay(desk.history(case_id)) == desk.load(case_id)


def test_a_schedule_from_a_date_opens_from_that_date(engine):
    text = (REPO / "tests" / "procedures" / "routine_check.yaml").read_text(encoding="utf-8")
    text = text.replace(
        '    days: ["03-01", "09-01"]\n', '    days: ["03-01", "09-01"]\n    from: 2026-01-01\n'
    )
    result = load_text(text, file="routine_check.yaml")
    assert result.ok, result.diagnostics
    assert result.procedure is not None
    calendars = Engine.from_directory(*FILES).calendars
    subject = Engine([result.procedure], calendars={"office": calendars["office"]})
    desk = Desk(subject, MemoryStore())
    opened = desk.open_due(local(2026, 1, 5, 12), limit=100)
    # From 1 January: 1-3 January are off, Sunday the 4th is a make-up working day (its
    # close is opened), Monday the 5th brings the weekly statistics.
    assert [o.case.id for o in opened] == [
        "routine_check@2026-01-04T17:30+08:00",
        "routine_check@2026-01-05T09:00+08:00",
    ]


def test_a_window_the_calendar_cannot_answer_keeps_the_cursor_and_raises(engine):
    store = MemoryStore()
    desk = Desk(engine, store)
    store.move_schedule_cursor("routine_check", local(2026, 12, 30))
    with pytest.raises(CalendarError):
        desk.run_due(local(2027, 1, 5, 9))  # 2027 is not published in `office` yet
    assert store.schedule_cursor("routine_check") == local(2026, 12, 30)
    assert desk.store.history  # the store is untouched otherwise
    with pytest.raises(Exception, match="routine_check@"):
        store.load("routine_check@2026-12-30T17:30+08:00")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_concurrent_workers_open_each_occurrence_exactly_once(engine, kind, tmp_path):
    with open_backend(kind, tmp_path) as backend:
        desks = [Desk(engine, backend.another()) for _ in range(4)]
        barrier = threading.Barrier(len(desks))
        opened: list[list[str]] = [[] for _ in desks]
        errors: list[BaseException] = []
        start = local(2026, 2, 27, 8)
        backend.store.move_schedule_cursor("routine_check", start)
        steps = [start + timedelta(hours=7 * n) for n in range(1, 20)]

        def work(n: int) -> None:
            try:
                barrier.wait()
                for at in steps:
                    opened[n].extend(started(desks[n].run_due(at, limit=2)))
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(len(desks))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors
        while batch := desks[0].run_due(steps[-1], limit=2):  # what the last calls left
            opened[0].extend(started(batch))
        every = [case_id for batch in opened for case_id in batch]
        expected = ids(engine.openings(start, steps[-1] + timedelta(microseconds=1)))
        assert len(expected) == 7
        assert sorted(every) == sorted(expected)  # each once, by one of the workers
        for case_id in expected:
            assert backend.store.history(case_id)[0].actor == "schedule"


# -- the SOP ----------------------------------------------------------------------------------


def _sop(engine: Engine, procedure: str, lang: str) -> str:
    from servflow.render.sop import render_sop

    specs = {name: c.spec for name, c in engine.calendars.items() if c.spec is not None}
    return render_sop(engine.procedure(procedure), lang, calendars=specs)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "en",
            "- **Archive inspection**: every year on March 1, September 1 at 09:00 in "
            "Management office hours; opened as Archivist; with Kind = `archive_inspection`; "
            "the date goes into Date",
        ),
        (
            "zh-Hant",
            "- **檔案檢查**：每年3月1日、9月1日 09:00 按「管理處辦公時間」；開案身分：檔案管理員；"
            "預設資料：類別 = `archive_inspection`；日期記入「日期」",
        ),
        ("zh-Hans", "- **日收日清**：每个工作日 17:30 按「管理处办公时间」；开案身分：收銀員"),
    ],
)
def test_the_sop_says_when_the_calendar_opens_a_case(engine, lang, expected):
    text = _sop(engine, "routine_check", lang)
    assert expected in text
    assert text.count("\n- **") >= 3


def test_a_procedure_without_schedule_has_no_such_section(engine):
    assert "Scheduled cases" not in _sop(Engine.standard(), "repair", "en")


def test_schedule_text_in_the_sop_is_inert_and_personal_constants_are_hidden(dst_engine):
    text = DST.replace(
        "  day: {type: date, title: {en: Day}}",
        "  day: {type: date, title: {en: Day}}\n  code: {type: string, pii: true, title: {en: Code}}",
    ).replace(
        '  - {every: day, at: "02:30", role: guard, date_field: day}',
        '  - {every: day, at: "02:30", role: guard, date_field: day, data: {code: "S3CRET"},'
        ' title: {en: "<b>#x</b> | y"}}',
    )
    result = load_text(text, file="night_round.yaml")
    assert result.ok, result.diagnostics
    assert result.procedure is not None
    from servflow.render.sop import render_sop

    sop = render_sop(result.procedure, "en")
    assert "S3CRET" not in sop
    assert "Code 🔒 = 🔒" in sop
    assert "<b>" not in sop
    assert "by the rule `FREQ=MONTHLY;BYDAY=1MO` at 23:59" in sop
    assert "every month on the last day at 01:30" in sop


# -- the diagrams -----------------------------------------------------------------------------


def test_the_diagrams_mark_the_start_the_calendar_takes(engine):
    from servflow.render.diagram import render_dot, render_mermaid
    from tests.parsers import MermaidParser, dot_graph

    proc = engine.procedure("routine_check")
    graph = dot_graph(render_dot(proc, "en"))
    (start,) = [label for tail, _, label in graph.edges if tail == "__start__"]
    assert "⏰ Daily close, Weekly statistics, Archive inspection" in start
    parser = MermaidParser()
    try:
        for lang in ("en", "zh-Hant", "zh-Hans"):
            text = render_mermaid(proc, lang)
            parsed = parser.parse(text)
            assert parsed["ok"], f"{parsed.get('error')}\n{text}"
            assert "⏰" in text
    finally:
        parser.close()
    plain = Engine.standard().procedure("repair")
    assert "⏰" not in render_mermaid(plain) + render_dot(plain)


def test_a_catch_up_over_years_goes_on_call_after_call_in_order():
    text = DST.replace("calendar: ny\n", "").replace(
        '  - {every: day, at: "02:30", role: guard, date_field: day}\n'
        '  - {every: day, at: "01:30", role: guard}\n'
        '  - {every: month, days: [-1], at: "01:30", role: guard}\n'
        '  - {rrule: "FREQ=MONTHLY;BYDAY=1MO", at: "23:59", role: guard}\n',
        '  - {every: year, days: ["03-01", "09-01"], at: "09:00", role: guard, from: 2020-01-01}\n',
    )
    result = load_text(text, file="night_round.yaml")
    assert result.ok, result.diagnostics
    assert result.procedure is not None
    subject = Engine([result.procedure])
    desk = Desk(subject, MemoryStore())
    at = datetime(2026, 6, 1, tzinfo=UTC)
    calls: list[list[str]] = []
    while batch := desk.open_due(at, limit=5):
        calls.append(started(batch))
    opened = [case_id for batch in calls for case_id in batch]
    assert [len(batch) for batch in calls] == [5, 5, 3]
    assert opened == ids(subject.openings(datetime(2020, 1, 1, tzinfo=UTC), at))
    assert opened[0] == "night_round@2020-03-01T09:00+00:00"
    assert opened[-1] == "night_round@2026-03-01T09:00+00:00"
    assert desk.open_due(datetime(2026, 8, 31, tzinfo=UTC), limit=5) == []
    (september,) = desk.open_due(datetime(2026, 9, 1, 9, tzinfo=UTC), limit=5)
    assert september.case.id == "night_round@2026-09-01T09:00+00:00"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plans=st.lists(
        st.lists(
            st.tuples(st.integers(min_value=0, max_value=14 * 24), st.integers(1, 4)),
            min_size=1,
            max_size=6,
        ),
        min_size=2,
        max_size=4,
    )
)
def test_workers_with_any_wake_ups_and_limits_open_each_occurrence_once(engine, plans):
    store = MemoryStore()
    start = local(2026, 3, 2)
    store.move_schedule_cursor("routine_check", start)
    desks = [Desk(engine, store) for _ in plans]
    opened: list[list[str]] = [[] for _ in plans]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(plans))

    def work(n: int) -> None:
        try:
            barrier.wait()
            for hours, limit in sorted(plans[n]):
                opened[n].extend(
                    started(desks[n].run_due(start + timedelta(hours=hours), limit=limit))
                )
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(plans))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    last = start + timedelta(hours=max(hours for plan in plans for hours, _ in plan))
    while batch := desks[0].open_due(last, limit=3):
        opened[0].extend(started(batch))
    every = [case_id for batch in opened for case_id in batch]
    assert sorted(every) == sorted(ids(engine.openings(start, last + timedelta(microseconds=1))))
