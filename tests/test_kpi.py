"""KPI figures (servflow.kpi), each computed by hand on a small log written out here.

The log is three repair cases opened in the period (Monday 2026-11-02 to Wednesday
2026-11-04, Asia/Shanghai, the office calendar's zone) and two outside it, each step at a
known time. The expected numbers in the comments are worked out from those times and the
office hours (08:30-12:00, 13:30-17:30 on working days); docs/kpi.md defines each figure.
Then properties over random lives of every seed procedure.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servflow import Actor, Desk, Engine, Event
from servflow.kpi import compute, nearest_rank, ratio
from servflow.procedures import load_text
from tests.strategies import lives
from tests.test_engine_properties import SETTINGS, _live

REPO = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_directory(REPO / "procedures")
SH = ZoneInfo("Asia/Shanghai")
CLERK = Actor(id="clerk", roles={"repair_reception"})
BOSS = Actor(id="boss", roles={"cs_supervisor"})
CALLER = Actor(id="caller", roles={"callback_officer"})
OPENING = {
    "resident_name": "Chan",
    "address": "Block A",
    "phone": "12345678",
    "fault": "tap",
    "appointment_at": "2026-11-05T10:00:00+08:00",
}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def _log(
    case_id: str,
    opened: datetime,
    steps: list[tuple[str, Actor, dict, datetime]],
    desk: Desk | None = None,
) -> list[Event]:
    """The case's log, written by the engine alone or, given a desk, kept in its store.

    The cases run on version 2 of the repair, whose callback is its own steps (version 3
    hands it to a linked callback case: see test_seed_callback.py).
    """
    if desk is not None:
        first = ENGINE.start(
            "repair", actor=CLERK, data=OPENING, at=opened, case_id=case_id, version=2
        )
        desk.store.create(first.case, first.events)
        for trigger, actor, data, when in steps:
            desk.fire(case_id, trigger, actor=actor, data=data, at=when)
        return desk.history(case_id)
    out = ENGINE.start("repair", actor=CLERK, data=OPENING, at=opened, case_id=case_id, version=2)
    case, events = out.case, list(out.events)
    for trigger, actor, data, when in steps:
        out = ENGINE.fire(case, trigger, actor=actor, data=data, at=when)
        case = out.case
        events.extend(out.events)
    return events


def _done(day: int, hour: int, minute: int = 0) -> dict:
    return {"work_order_no": "W1", "completed_at": at(day, hour, minute).isoformat()}


def repair_logs(desk: Desk | None = None) -> list[list[Event]]:
    a = _log(  # closed, satisfied, everything on time
        "a",
        at(2, 9),
        [
            ("dispatch", CLERK, {"technician": "T"}, at(2, 9, 10)),
            ("complete", CLERK, _done(2, 10, 10), at(2, 10, 10)),
            ("designate_callback", BOSS, {"callback_officer": CALLER.id}, at(2, 10, 40)),
            ("callback", CALLER, {"satisfied": True, "callback_notes": "ok"}, at(2, 11, 40)),
        ],
        desk,
    )
    b = _log(  # dispatched 50 minutes late; unsatisfied, so back with maintenance
        "b",
        at(2, 11),
        [
            ("dispatch", CLERK, {"technician": "T"}, at(2, 11, 50)),
            ("complete", CLERK, _done(3, 14), at(3, 14)),
            ("designate_callback", BOSS, {"callback_officer": CALLER.id}, at(3, 14, 30)),
            ("callback", CALLER, {"satisfied": False, "callback_notes": "leaks"}, at(3, 15)),
        ],
        desk,
    )
    c = _log("c", at(3, 9), [("cancel", CLERK, {"cancel_reason": "fixed it"}, at(3, 9, 5))], desk)
    before = _log("before", at(1, 23), [], desk)  # opened the day before the period
    after = _log("after", at(4, 0), [], desk)  # opened at the period's end: not in it
    return [a, b, c, before, after]


@pytest.fixture(scope="module")
def repair():
    [figures] = compute(ENGINE, repair_logs(), start=date(2026, 11, 2), end=date(2026, 11, 4))
    return figures


def test_opened_closed_cancelled_and_open_are_counted_at_the_period_end(repair):
    # a closed, b back with maintenance, c cancelled; "before" and "after" are outside.
    assert (repair.opened, repair.closed, repair.cancelled, repair.open) == (3, 1, 1, 1)


def test_completion_rate_is_closed_over_the_cases_not_cancelled(repair):
    assert repair.completion_rate == 1 / (3 - 1)


def test_on_time_per_time_limit_counts_each_cycle(repair):
    limits = {f.name: (f.measured, f.on_time, f.breached) for f in repair.limits}
    # dispatch within 30 minutes: a in 10, b in 50 (breached), c cancelled after 5 (met).
    assert limits["dispatch_in_time"] == (3, 2, 1)
    # completion within 2 working days: a's and b's first cycle met; b's rework cycle
    # started on the 3rd at 15:00 and is not due before the period ends: not measured.
    assert limits["completion"] == (2, 2, 0)
    # callback within 2 working days of completion: a after 1h30, b after 1h.
    assert limits["callback_in_time"] == (2, 2, 0)
    assert [f.on_time_rate for f in repair.limits] == [2 / 3, 1.0, 1.0]


def test_business_time_per_step_counts_office_hours_only(repair):
    steps = {s.state: (s.visits, s.median_seconds, s.p90_seconds) for s in repair.steps}
    # recorded: a 10 min, b 50 min, c 5 min -> [300, 600, 3000]: median 600, p90 3000.
    assert steps["recorded"] == (3, 600, 3000)
    # dispatched: a 1h; b from Mon 11:50 to Tue 14:00 in office hours:
    # 11:50-12:00 + 13:30-17:30 + 08:30-12:00 + 13:30-14:00 = 10 + 240 + 210 + 30 minutes.
    assert steps["dispatched"] == (2, 3600, (10 + 240 + 210 + 30) * 60)
    assert steps["completed"] == (2, 1800, 1800)
    # awaiting_callback: a 1h, b 30 min -> [1800, 3600]: median 1800, p90 3600.
    assert steps["awaiting_callback"] == (2, 1800, 3600)


def test_callback_rate_and_satisfaction(repair):
    assert repair.callback is not None
    assert repair.satisfaction is not None
    # a and b entered `completed` (due), both were called back (b unsatisfied).
    assert (repair.callback.due, repair.callback.reached, repair.callback.unreachable) == (2, 2, 0)
    assert repair.callback.rate == 1.0
    # two answers, one satisfied.
    assert (repair.satisfaction.answers, repair.satisfaction.satisfied) == (2, 1)
    assert repair.satisfaction.rate == 0.5


def test_breakdown_counts_cases_by_each_value_of_the_field(repair):
    assert [(c.key, c.value, c.cases) for c in repair.breakdown] == [
        ("priority", "emergency", 0),
        ("priority", "urgent", 0),
        ("priority", "normal", 3),
    ]
    assert repair.escalations == ()  # repair has no escalation ladder


def test_a_period_ending_earlier_sees_the_cases_as_they_stood_then():
    # At Tuesday midnight b is still being repaired: no callback yet, c not yet opened.
    [early] = compute(ENGINE, repair_logs(), start=date(2026, 11, 2), end=date(2026, 11, 3))
    assert (early.opened, early.closed, early.cancelled, early.open) == (2, 1, 0, 1)
    assert early.callback is not None
    assert (early.callback.due, early.callback.reached) == (1, 1)


def test_other_procedures_and_empty_logs_are_left_out():
    assert compute(ENGINE, [[], *repair_logs()], procedure="complaint") == []
    [everything] = compute(ENGINE, repair_logs())
    assert everything.opened == 5


# -- a procedure of its own: unreachable callbacks and escalations ----------------------

DESK = """
servflow: 1
id: desk
version: 1
title: {en: Desk}
roles:
  staff: {title: {en: Staff}, rank: 1}
  lead: {title: {en: Lead}, rank: 2}
escalation: [staff, lead]
fields:
  channel: {type: choice, choices: [phone, visit], title: {en: Channel}}
  happy: {type: boolean, title: {en: Happy}}
states:
  open: {title: {en: Open}}
  done: {title: {en: Done}}
  closed: {title: {en: Closed}, final: true}
  no_answer: {title: {en: No answer}, final: true}
  dropped: {title: {en: Dropped}, final: true}
start: {to: open, roles: [staff], accepts: [channel]}
transitions:
  finish: {from: open, to: done, roles: [staff, lead], follows_escalation: true}
  escalate: {from: open, to: open, roles: [staff, lead], escalates: true, follows_escalation: true}
  call: {from: done, to: closed, roles: [staff], requires: [happy], accepts: [happy]}
  give_up: {from: done, to: no_answer, roles: [staff]}
  drop: {from: open, to: dropped, roles: [staff, lead]}
measures:
  cancelled: dropped
  callback:
    due: {entered: done}
    reached: {event: call}
    unreachable: {entered: no_answer}
  satisfied: happy
  breakdown: [channel]
"""


def test_unreachable_callbacks_count_as_made_and_escalations_by_level():
    result = load_text(DESK, "desk.yaml")
    assert result.ok, result.diagnostics
    engine = Engine([result.procedure])
    staff = Actor(id="s", roles={"staff"})
    lead = Actor(id="l", roles={"lead"})
    t = datetime(2026, 11, 2, 9, tzinfo=SH)
    plans = {
        "one": ({"channel": "phone"}, [("finish", staff, {}), ("call", staff, {"happy": True})]),
        "two": ({"channel": "phone"}, [("finish", staff, {}), ("give_up", staff, {})]),
        "three": ({"channel": "visit"}, [("escalate", staff, {}), ("finish", lead, {})]),
        "four": ({}, [("escalate", staff, {}), ("drop", lead, {})]),
    }
    logs = []
    for case_id, (opening, steps) in plans.items():
        out = engine.start("desk", actor=staff, data=opening, at=t, case_id=case_id)
        case, events = out.case, list(out.events)
        for i, (trigger, actor, data) in enumerate(steps, 1):
            out = engine.fire(case, trigger, actor=actor, data=data, at=t + timedelta(hours=i))
            case = out.case
            events.extend(out.events)
        logs.append(events)
    [desk] = compute(engine, logs)
    # one closed, two closed as unreachable (a final state not cancelled), four dropped.
    assert (desk.opened, desk.closed, desk.cancelled, desk.open) == (4, 2, 1, 1)
    assert desk.callback is not None
    # due: one, two, three entered `done`; reached: one; unreachable: two; three waits.
    assert (desk.callback.due, desk.callback.reached, desk.callback.unreachable) == (3, 1, 1)
    assert desk.callback.rate == 2 / 3
    assert desk.satisfaction is not None
    assert desk.satisfaction.rate == 1.0
    # Level 1 (lead) reached by three and four.
    assert [(c.value, c.cases) for c in desk.escalations] == [("1", 2)]
    assert [(c.value, c.cases) for c in desk.breakdown] == [("phone", 2), ("visit", 1), ("", 1)]


# -- the rules of the arithmetic ---------------------------------------------------------


def test_nearest_rank_by_hand():
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert nearest_rank(values, 50) == 5.0
    assert nearest_rank(values, 90) == 9.0
    assert nearest_rank(values, 100) == 10.0
    assert nearest_rank([7.0], 90) == 7.0
    assert nearest_rank([], 50) is None
    assert ratio(1, 0) is None


@given(st.lists(st.floats(0, 1e9), min_size=1), st.integers(1, 100), st.integers(1, 100))
def test_percentiles_are_monotone_and_values_measured(values, p, q):
    values = sorted(values)
    low, high = sorted((p, q))
    assert nearest_rank(values, low) <= nearest_rank(values, high)
    assert nearest_rank(values, p) in values


@pytest.mark.parametrize(
    "proc_id",
    # Every procedure of the standard catalogue, at its latest version.
    sorted({p.id for p in Engine.standard().procedures()}),
)
@SETTINGS
@given(data=st.data())
def test_counts_add_up_and_rates_are_fractions(proc_id, data):
    proc = ENGINE.procedure(proc_id)
    logs = []
    for n in range(data.draw(st.integers(1, 3))):
        _, events = _live(proc_id, data.draw(lives(proc, max_steps=12)), case_id=f"c-{n}")
        logs.append(events)
    end = data.draw(st.sampled_from([None, date(2026, 11, 3), date(2026, 11, 9)]))
    [figures] = compute(ENGINE, logs, end=end) or [None]
    assert figures.opened == figures.closed + figures.cancelled + figures.open
    for limit in figures.limits:
        assert limit.on_time + limit.breached == limit.measured
    rates = [figures.completion_rate, *(f.on_time_rate for f in figures.limits)]
    for part in (figures.callback, figures.satisfaction):
        if part is not None:
            rates.append(part.rate)
    assert all(r is None or 0 <= r <= 1 for r in rates)
    if figures.callback is not None:
        assert figures.callback.reached + figures.callback.unreachable <= figures.callback.due
    for step in figures.steps:
        if step.visits:
            assert 0 <= step.median_seconds <= step.p90_seconds
    for name in proc.measures.breakdown if proc.measures else []:
        assert sum(c.cases for c in figures.breakdown if c.key == name) == figures.opened
    levels = [c.cases for c in figures.escalations]
    assert levels == sorted(levels, reverse=True)
    assert all(n <= figures.opened for n in levels)


# -- servflow report, end to end on a SQLite file filled through a Desk ------------------


def test_report_command_on_a_sqlite_store_filled_by_a_desk(tmp_path, capsys, monkeypatch):
    from servflow.cli import main
    from servflow.store import SqlStore

    url = f"sqlite:///{tmp_path / 'desk.db'}"
    with SqlStore(url) as store:
        repair_logs(Desk(ENGINE, store))
    monkeypatch.setenv("COLUMNS", "100")
    csv_file, html_file = tmp_path / "kpi.csv", tmp_path / "kpi.html"
    argv = ["report", "--db", url, "--from", "2026-11-02", "--to", "2026-11-03", "--lang", "en"]
    assert main([*argv, "--csv", str(csv_file), "--html", str(html_file)]) == 0
    printed = capsys.readouterr().out
    assert max(len(line) for line in printed.splitlines()) <= 100
    assert "Cases: opened 3  closed 1  cancelled 1  open 1" in printed
    assert "50.0%" in printed  # completion, and satisfaction
    lines = csv_file.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "procedure,figure,key,label,count,total,rate"
    dispatch = '"Dispatch in time (local policy, example)"'
    assert f"repair,on_time,dispatch_in_time,{dispatch},2,3,0.6667" in lines
    # Version 2's own callback limit, which version 3 lacks, keeps its title.
    assert "repair,on_time,callback_in_time,Callback in time,2,2,1.0000" in lines
    assert "repair,callback,,Callback rate,2,2,1.0000" in lines
    assert "repair,median_seconds,dispatched,Dispatched to maintenance,3600,," in lines
    page = html_file.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page
    assert "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for secret in ("Chan", "Block A", "12345678"):  # pii never reaches any output
        assert secret not in printed
        assert secret not in page
        assert secret not in csv_file.read_text(encoding="utf-8")
    # The same figures in Chinese headings.
    assert main([*argv[:-1], "zh-Hant", "--csv", str(csv_file), "--html", str(html_file)]) == 0
    assert "完成率" in capsys.readouterr().out
    assert "住戶報修" in html_file.read_text(encoding="utf-8")


def test_report_command_on_a_missing_store_says_so(tmp_path, capsys):
    from servflow.cli import main

    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert (
        main(["report", "--db", url, "--csv", str(tmp_path / "a"), "--html", str(tmp_path / "b")])
        == 2
    )
    error = capsys.readouterr().err
    assert "holds no servflow tables" in error
    assert "servflow db upgrade" in error


# -- the SOP shows what the report counts -------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "heading", "words"),
    [
        (
            "zh-Hant",
            "## 績效統計口徑",
            ["進入「已完成維修，待回訪」", "進入「已結案（無法聯繫住戶）」", "「住戶是否滿意」"],
        ),
        (
            "zh-Hans",
            "## 绩效统计口径",
            ["进入「已完成维修，待回访」", "进入「已结案（无法联系住户）」", "「住户是否满意」"],
        ),
        (
            "en",
            "## What the KPI report counts",
            ["“Repair completed, awaiting the callback”", "“Resident satisfied”"],
        ),
    ],
)
def test_the_sop_shows_the_measures_in_each_language(lang, heading, words):
    from servflow.render.sop import render_sop

    text = render_sop(ENGINE.procedure("repair"), lang)
    section = text.split(heading, 1)[1]
    for word in words:
        assert word in section
    plain = ENGINE.procedure("repair").model_copy(update={"measures": None})
    assert heading not in render_sop(plain, lang)


def test_the_sop_escapes_titles_named_by_the_measures():
    from servflow.render.sop import render_sop

    hostile = DESK.replace("Happy}", "<b>|Happy|</b>}")
    result = load_text(hostile, "desk.yaml")
    assert result.procedure is not None
    section = render_sop(result.procedure, "en").split("## What the KPI report counts", 1)[1]
    assert "<b>" not in section
    assert "\\|Happy\\|" in section


def test_report_command_names_a_procedure_the_folder_lacks(tmp_path, capsys):
    import shutil

    from servflow.cli import main
    from servflow.store import SqlStore

    url = f"sqlite:///{tmp_path / 'desk.db'}"
    with SqlStore(url) as store:
        repair_logs(Desk(ENGINE, store))
    folder = tmp_path / "procedures"
    folder.mkdir()
    for name in ("complaint.yaml", "callback.yaml", "calendars.yaml"):
        shutil.copy(REPO / "procedures" / name, folder / name)
    files = ["--csv", str(tmp_path / "a.csv"), "--html", str(tmp_path / "a.html")]
    assert main(["report", "--db", url, "--procedures", str(folder), *files]) == 2
    err = capsys.readouterr().err
    assert "'repair'" in err
    assert "--procedures" in err
    assert not (tmp_path / "a.csv").exists()


def test_outputs_escape_titles_and_fit_100_columns_in_every_language():
    import unicodedata

    from servflow.kpi.output import csv_text, html_page, table

    hostile = DESK.replace("title: {en: Desk}", 'title: {en: "<script>x</script>"}').replace(
        "title: {en: Channel}", 'title: {en: "=cmd|calc"}'
    )
    result = load_text(hostile, "desk.yaml")
    assert result.procedure is not None
    engine = Engine([result.procedure])
    out = engine.start("desk", actor=Actor(id="s", roles={"staff"}), data={}, at=at(2, 9))
    figures = compute(engine, [list(out.events)])
    page = html_page(figures, engine, "en", "all")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    import csv

    labels = [row["label"] for row in csv.DictReader(csv_text(figures, engine, "en").splitlines())]
    by_channel = [label for label in labels if "calc" in label]
    assert by_channel == ["'=cmd|calc: phone", "'=cmd|calc: visit", "'=cmd|calc: (none)"]
    for lang in ("zh-Hant", "zh-Hans", "en"):
        text = table(compute(ENGINE, repair_logs()), ENGINE, lang, "all")
        widths = [
            sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
            for line in text.splitlines()
        ]
        assert max(widths) <= 100
