"""`servflow demo`: every sample case runs, replays, and no personal data is printed."""

from __future__ import annotations

import re
import tempfile
from datetime import datetime, timedelta

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Engine
from servflow.cli import main
from servflow.commands.demo import TZ, columns, format_timeline, pack
from servflow.engine import Effect, Event
from servflow.render.common import localized
from servflow.store import SqlStore
from servflow.testing._display import fit_width


def test_demo_runs_every_story_and_masks_personal_data(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the default database goes here
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("equals the live case: yes") == 17  # the sales chain five, callbacks three
    for story in (
        "repair:",
        "complaint:",
        "renovation:",
        "keys:",
        "archives:",
        "enquiry:",
        "fees:",
        "sales:",
    ):
        assert f"== {story}" in out
    for secret in (
        "王小明",
        "138 0000 0000",
        "A-1203",
        "馬先生",
        "136 5555 6666",
        "何太",
        "周小姐",
    ):
        assert secret not in out
    assert "住戶姓名: ***" in out
    assert re.search(r"^    3  2026-11-24 22:25 \+08:00  time limit missed: 及時派工", out, re.M)
    said = " ".join(out.split())  # the words, whatever the wrapping
    assert (
        "refused, as it should be: 回復投訴人 by officer-zhang: it is beyond this role's authority"
        in said
    )
    # The callbacks are linked cases: opened by the parent, their result brought back, and
    # told after the parent's timeline.
    assert "→ open a linked case, R-1001-3-0" in said
    assert "-- case R-1001-3-0: 回訪, opened by case R-1001" in said
    assert "step 記錄回訪結果: 待回訪 → 已回訪, by officer-zhao" in said
    assert "the closed linked case C-2001-6-0 takes this case on" in said


def test_the_enquiry_story_is_taken_over_when_late_and_masks_the_caller(capsys):
    assert main(["demo", "--store", "memory"]) == 0
    out = capsys.readouterr().out
    story = out[out.index("== enquiry:") :]
    for secret in ("孫先生", "135 3333 4444"):
        assert secret not in story
    said = " ".join(story.split())  # the words, whatever the wrapping
    # Refused while the caller has not understood, then refused to the operator once the
    # missed time limit has put the case at the supervisor's level.
    assert "說明時要確認客戶是否清楚明白你的回答 [guard_failed]" in said
    assert "it needs 客服主管 or 客服經理 [forbidden]" in said
    assert "the case is escalated to level 1" in said
    assert "→ tell 客服主管: the notice enquiry_answer_overdue" in said
    assert "time limit 按反饋期限答復: met" in said
    assert "now: 已答復，記錄保存 (closed), after 5 events; escalation level 1" in said


def test_demo_output_fits_100_columns_and_tells_events_in_the_readers_terms(capsys):
    assert main(["demo", "--store", "memory"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(columns(line) for line in lines) <= 100
    assert len(lines) > 100
    # No event names a time limit, a step or a state by its id: titles only.
    engine = Engine.standard()
    for proc in engine.procedures():
        ids = {*proc.time_limits, *proc.states, *proc.transitions, *proc.roles}
        for name in (i for i in ids if "_" in i):
            assert not re.search(rf"(?<![\w.]){name}(?![\w.])", out), name
    # Each event line starts with its number and its time with the offset from UTC.
    events = [line for line in lines if re.match(r"^ {2}[ \d]{3}  2026-", line)]
    assert events
    assert all(re.match(r"^ {2}[ \d]{3}  \d{4}-\d\d-\d\d \d\d:\d\d \+08:00  \S", e) for e in events)
    # The renovation's daily patrol counts calendar days: Saturday morning's is missed.
    assert re.search(
        r"^    9  2026-11-07 08:00 \+08:00  time limit missed: 每日巡視（日曆日，每24小時至少一次）",
        out,
        re.M,
    )
    # The keys story: a private loan refused in the procedure's words; the manager told late.
    said = " ".join(out.split())  # the words, whatever the wrapping
    assert "無工作需要任何人不得以私人名義借出 [guard_failed]" in said
    assert "→ tell 客服經理: the notice key_loan_overdue" in said
    # The archives story: nothing handed over before the office manager's permission.
    assert "refused, as it should be: 交付檔案 by archivist-he" in said
    # One effect a line: every effect line starts with an arrow, alone.
    assert all(line.count("→ tell") + line.count("→ file") <= 1 for line in lines)


def test_the_sales_story_follows_the_chain_of_linked_cases(capsys):
    assert main(["demo", "--store", "memory", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    story = out[out.index("== sales:") :]
    for secret in ("林小姐", "135 7777 8888"):
        assert secret not in story
    said = " ".join(story.split())  # the words, whatever the wrapping
    assert "by clerk-wang: it is beyond this role's authority" in said
    assert "Department manager could decide [beyond_authority]" in said
    # Each case of the chain is told in order, naming the case that opened it.
    chain = [
        "-- case S-2101: Subscription",
        "-- case S-2101-3-0: Contract signing, opened by case S-2101",
        "-- case S-2101-3-0-6-0: Mortgage and contract filing, opened by case S-2101-3-0",
        "-- case S-2101-3-0-6-0-4-0: Title certificate, opened by case S-2101-3-0-6-0",
        "-- case S-2101-3-0-6-0-4-0-5-0: Handover and move-in, opened by case S-2101-3-0-6-0-4-0",
    ]
    where = [said.index(line) for line in chain]
    assert where == sorted(where)
    # The signing's close takes the subscription on, through the outbox.
    assert "the closed linked case S-2101-3-0 takes this case on" in said
    # A refusal is told in the case it happened to, and only there.
    assert said.count("[beyond_authority]") == 1
    assert story.count("equals the live case: yes") == 5
    assert max(columns(line) for line in story.splitlines()) <= 100


def test_pack_never_cuts_an_item_and_counts_wide_characters():
    items = ["a" * 30, "記錄表" * 12, "b" * 120, "c"]
    lines = pack(items, "  ", "> ")
    assert lines == [
        "> " + "a" * 30 + ",",
        "  " + "記錄表" * 12 + ",",
        "  " + "b" * 120 + ",",
        "  c",
    ]
    assert pack([], "  ") == []
    assert columns("記錄表 ab") == 9


def test_demo_keeps_its_cases_in_a_new_sqlite_file_by_default(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["demo"]) == 0
    first_line = capsys.readouterr().out.splitlines()[0]
    found = re.search(r"SQLite at (\S+servflow\.db)", first_line)
    assert found is not None
    assert found.group(1).startswith(str(tmp_path))
    _check_stored(f"sqlite:///{found.group(1)}")


def test_demo_on_a_database_of_ones_choice_and_in_memory(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert main(["demo", "--db", url]) == 0
    on_sql = capsys.readouterr().out.splitlines()
    assert url in on_sql[0]
    _check_stored(url)
    assert main(["demo", "--store", "memory"]) == 0
    in_memory = capsys.readouterr().out.splitlines()
    assert "memory" in in_memory[0]
    # The same timelines, whichever the store; case ids are random (a linked case's id
    # is its parent's, the step and the link: <random>-3-0).
    assert _same_ids(in_memory[1:]) == _same_ids(on_sql[1:])


def test_demo_refuses_a_bad_choice_of_store(capsys, tmp_path):
    assert main(["demo", "--store", "memory", "--db", "sqlite://"]) == 2
    missing = tmp_path / "no" / "such" / "folder" / "demo.db"
    assert main(["demo", "--db", f"sqlite:///{missing}"]) == 1
    assert "cannot open the database" in capsys.readouterr().err


def _same_ids(lines: list[str]) -> list[str]:
    return [re.sub(r"\b[0-9a-f]{32}\b", "<id>", line) for line in lines]


def _check_stored(url: str) -> None:
    engine = Engine.standard()
    with SqlStore(url, create=False) as store:
        with store.bind.connect() as conn:
            ids = conn.execute(sa.select(store.cases.c.id)).scalars().all()
            text = " ".join(conn.execute(sa.select(store.cases.c.data)).scalars())
        # The stories open sixteen cases (the sales chain five, the
        # callbacks three); the calendar opened the rest
        # when the stories' workers woke (run_due): the fees close of its story, the other
        # days' closes, the archive inspection of 1 December and the statement of November.
        scheduled = [i for i in ids if "@" in i]
        assert len(ids) - len(scheduled) == 16
        assert "archive_inspection@2026-12-01T09:00+08:00" in scheduled
        assert "fees_daily_close@2026-11-25T17:00+08:00" in scheduled
        opened_by = {"archive_inspection", "fees_daily_close", "fees_monthly_statement"}
        assert all(i.split("@")[0] in opened_by for i in scheduled)
        assert "王小明" in text  # personal data is stored, in the JSON only
        for case_id in ids:
            assert engine.replay(store.history(case_id)) == store.load(case_id)


# -- every event kind, told in the reader's terms (a property over the catalogue) ------------

_ENGINE = Engine.standard()
_LATEST = [_ENGINE.procedure(i) for i in sorted({p.id for p in _ENGINE.procedures()})]
_KINDS = ("started", "fired", "auto_fired", "warned", "breached", "breach_step", "replanned")
_INDENT = " " * 32


@st.composite
def _events(draw):
    """An audit event of any kind on any procedure, with the effects it may ask for."""
    proc = draw(st.sampled_from(_LATEST))
    kind = draw(st.sampled_from(_KINDS))
    states = sorted(proc.states)
    trigger = draw(st.sampled_from(sorted(proc.transitions)))
    limits = sorted(proc.time_limits)
    limit = draw(st.sampled_from(limits)) if limits else None
    role = draw(st.sampled_from(sorted(proc.roles)))
    at = draw(st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(TZ)))
    detail: dict = {}
    if kind == "warned":
        detail["percent"] = draw(st.sampled_from([50.0, 75.0, 80.0]))
    if kind == "breach_step" and limit is not None:
        detail["steps"] = list(range(len(proc.time_limits[limit].on_breach)))
    if kind == "replanned":
        detail["due_at"] = (at + timedelta(hours=5)).isoformat()
    if kind in ("fired", "auto_fired"):
        detail["branch"] = 0
    if draw(st.booleans()):
        detail["escalation_level"] = 1
    timed = kind not in ("started", "fired")
    if timed and limit is None:
        kind, timed = "fired", False
    on = limit if timed and kind != "auto_fired" else ("start" if kind == "started" else trigger)
    # Every pii field set to a secret: none may be printed.
    changes = {n: f"SECRET-{n}" for n, spec in proc.fields.items() if spec.pii}
    event = Event(
        case_id="c1",
        seq=1,
        at=at,
        kind=kind,
        trigger=on,
        actor="staff-1" if kind in ("started", "fired") else "servflow",
        role=role if kind in ("started", "fired") else None,
        source=None if kind == "started" else draw(st.sampled_from(states)),
        target=draw(st.sampled_from(states)),
        changes=changes if kind in ("started", "fired") else {},
        time_limit=limit if timed else None,
        detail=detail,
        procedure=proc.id,
        procedure_version=proc.version,
        digest="sha256:0",
    )
    kinds = draw(st.lists(st.sampled_from(["notify", "record", "open", "resume"]), max_size=4))
    effects = [
        Effect(
            kind=k,
            case_id="c1",
            at=at,
            trigger=on,
            target=role if k == "notify" else "住戶報修記錄表",
            template="a_notice" if k == "notify" else None,
            time_limit=limit if timed else None,
            detail={"breach": True} if timed and kind != "warned" else {},
        )
        for k in kinds
    ]
    return proc, event, effects


@settings(max_examples=150, deadline=None)
@given(_events(), st.sampled_from(["zh-Hant", "zh-Hans", "en"]))
def test_every_event_kind_is_told_with_titles_its_zone_and_one_effect_a_line(drawn, lang):
    proc, event, effects = drawn
    lines = format_timeline(_ENGINE, [event], lang, effects=effects)
    text = "\n".join(lines)
    assert max(columns(line) for line in lines) <= 100
    assert lines[0].startswith(f"    1  {event.at.astimezone(TZ):%Y-%m-%d %H:%M} +08:00  ")
    # No bare id: no `kind:limit` code, and no snake_case id of the procedure at all.
    assert f"{event.kind}:" not in text
    ids = {*proc.time_limits, *proc.states, *proc.transitions, *proc.roles}
    for name in (i for i in ids if "_" in i):
        assert not re.search(rf"(?<![\w.]){name}(?![\w.])", text), (name, text)
    # What the event is about is named by its title, in the language asked for.
    said = " ".join(text.split())
    if event.time_limit is not None:
        assert " ".join(localized(proc.time_limits[event.time_limit].title, lang).split()) in said
    if event.kind in ("fired", "auto_fired") and event.source != event.target:
        for state in (event.source, event.target):
            assert localized(proc.states[state].title, lang) in said
    for secret in event.changes.values():
        assert secret not in text
    # One effect a line: each starts its own line, under the event.
    arrows = [line for line in lines if line.startswith(_INDENT + "→ ")]
    assert len(arrows) == len(effects)
    assert all(line.count("→") == 1 for line in arrows)


def test_the_fees_story_reports_the_large_sum_and_refuses_a_partial_hand_over(capsys):
    assert main(["demo", "--store", "memory"]) == 0
    out = capsys.readouterr().out
    story = out[out.index("== fees: a large sum") :]
    assert "馬先生" not in story
    said = " ".join(story.split())  # the words, whatever the wrapping
    assert "→ file the record form 大型費用日報表" in said
    assert "→ tell 管理處經理: the notice fees_large_sum" in said
    assert "費用收取後不可挪作它用，上交金額須與收取金額相符 [guard_failed]" in said
    assert "time limit 日收日清: met (target by the close of business that working day)" in said
    # The calendar opened the day's close, not a person.
    assert "case opened (開始日結): now 待日結, by schedule" in said
    assert max(columns(line) for line in story.splitlines()) <= 100


def test_fit_width_counts_wide_characters_and_cuts_with_dots():
    assert fit_width("abc", 3) == "abc"
    assert fit_width("abcdef", 5) == "ab..."
    assert fit_width("收費登記表", 10) == "收費登記表"
    assert fit_width("收費登記表", 9) == "收費登..."
    assert columns(fit_width("收費登記表" * 20, 60)) <= 60
