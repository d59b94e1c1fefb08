"""`servflow demo`: every sample case runs, replays, and no personal data is printed."""

from __future__ import annotations

import re
import tempfile
from datetime import datetime, timedelta

import sqlalchemy as sa

from servflow import Actor, Desk, Engine
from servflow.cli import main
from servflow.commands.demo import TZ, columns, pack
from servflow.store import MemoryStore, SqlStore
from servflow.testing._display import Display


def test_demo_runs_every_story_and_masks_personal_data(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the default database goes here
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("equals the live case: yes") == 4
    for story in ("repair:", "complaint:", "renovation:"):
        assert f"== {story}" in out
    for secret in ("王小明", "138 0000 0000", "A-1203", "馬先生", "136 5555 6666", "何太"):
        assert secret not in out
    assert "resident_name=***" in out
    assert re.search(r"^    3  2026-11-24 22:25  breached    dispatch_in_time$", out, re.M)
    assert "refused as it should be: reply by officer-zhang: beyond_authority" in out
    # The callbacks are linked cases: opened by the parent, their result brought back.
    assert re.search(r"^  callback case \w+-3-0 opened; the repair waits for it:$", out, re.M)
    assert re.search(
        r"^    3  2026-11-23 16:00  fired       record_result: to_call -> reached$", out, re.M
    )
    assert "callback_done, which moved it to\n    dispatched" in out
    assert "the outbox took the callback's result back to the complaint" in out


def test_demo_output_fits_100_columns_and_is_the_kits_timeline(capsys):
    assert main(["demo", "--store", "memory"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(columns(line) for line in lines) <= 100
    assert len(lines) > 100
    # The timeline's first line of an event is the testing kit's own line for it.
    engine = Engine.standard()
    desk = Desk(engine, MemoryStore())
    clerk = Actor(id="clerk-chen", roles={"repair_reception"})
    at = datetime(2026, 11, 24, 22, 10, tzinfo=TZ)
    data = {
        "resident_name": "陳大文",
        "address": "B-0502",
        "phone": "139 1111 2222",
        "fault": "Burst water main",
        "appointment_at": at + timedelta(minutes=30),
        "priority": "emergency",
    }
    case = desk.open("repair", actor=clerk, data=data, at=at)
    (event,) = desk.history(case.id)
    kit = Display(TZ, engine.procedure("repair").fields).event_line(event, changes=False)
    assert f"    1  {kit}" in lines


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
        assert len(ids) == 7  # four stories; the repair's two callbacks, the complaint's one
        assert "王小明" in text  # personal data is stored, in the JSON only
        for case_id in ids:
            assert engine.replay(store.history(case_id)) == store.load(case_id)
