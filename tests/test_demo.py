"""`servflow demo`: every sample case runs, replays, and no personal data is printed."""

from __future__ import annotations

import re
import tempfile

import sqlalchemy as sa

from servflow import Engine
from servflow.cli import main
from servflow.store import SqlStore


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
    assert "breached:dispatch_in_time" in out
    assert "refused as it should be: reply by officer-zhang: beyond_authority" in out


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
    assert in_memory[1:] == on_sql[1:]  # the same timelines, whichever the store


def test_demo_refuses_a_bad_choice_of_store(capsys, tmp_path):
    assert main(["demo", "--store", "memory", "--db", "sqlite://"]) == 2
    missing = tmp_path / "no" / "such" / "folder" / "demo.db"
    assert main(["demo", "--db", f"sqlite:///{missing}"]) == 1
    assert "cannot open the database" in capsys.readouterr().err


def _check_stored(url: str) -> None:
    engine = Engine.standard()
    with SqlStore(url, create=False) as store:
        with store.bind.connect() as conn:
            ids = conn.execute(sa.select(store.cases.c.id)).scalars().all()
            text = " ".join(conn.execute(sa.select(store.cases.c.data)).scalars())
        assert len(ids) == 4
        assert "王小明" in text  # personal data is stored, in the JSON only
        for case_id in ids:
            assert engine.replay(store.history(case_id)) == store.load(case_id)
