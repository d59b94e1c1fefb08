"""Where calendars come from: one rule for ``servflow check`` and the engine.

A folder gives its YAML files; a file gives itself and the calendar files of its own
folder; ``always`` is built in; nothing is borrowed from anywhere else. ``check`` passes
exactly when ``Engine.from_directory`` of the same paths succeeds, whatever the layout.
And ``check`` (only ``check``: it may read the clock) warns of a calendar whose published
schedule ends within 60 days of today.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow import DefinitionError, Engine
from servflow.cli import main
from servflow.commands.check import EXPIRY_WARNING_DAYS, check
from servflow.procedures.load import catalogue_files

REPO = Path(__file__).resolve().parent.parent
BASE = (REPO / "tests" / "mistakes" / "base.yaml").read_text(encoding="utf-8")
OFFICE = """\
servflow: 1
calendars:
  office:
    timezone: Asia/Shanghai
    hours: {mon: ["09:00-18:00"], tue: ["09:00-18:00"]}
    published_through: "2026-12-31"
"""
FILES = {
    "office_proc.yaml": BASE.replace("id: mini_repair", "id: uses_office"),
    "always_proc.yaml": BASE.replace("id: mini_repair", "id: uses_always").replace(
        "calendar: office", "calendar: always"
    ),
    "calendars.yaml": OFFICE,
    "more_calendars.yaml": OFFICE.replace("office:", "office_hk:"),
    "same_calendar.yaml": OFFICE,  # a second definition of `office`
    "broken_calendars.yaml": OFFICE.replace("Asia/Shanghai", "Asia/Shangai"),
    "notes.yml": "servflow: 1\nid: notes\n",  # a broken procedure file
}


def _engine_builds(paths: list[Path]) -> bool:
    try:
        Engine.from_directory(*paths)
    except DefinitionError:
        return False
    return True


def _check_passes(paths: list[Path]) -> bool:
    report = check(paths, today=date(2026, 1, 1))
    assert not report.problems
    return not any(d.severity == "error" for d in report.diagnostics)


LAYOUTS = st.tuples(
    st.sets(st.sampled_from(sorted(FILES)), min_size=1),
    st.sets(st.sampled_from(sorted(FILES)), min_size=1),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout=LAYOUTS, data=st.data())
def test_check_passes_exactly_when_the_engine_builds(layout, data):
    with tempfile.TemporaryDirectory() as root:
        candidates: list[Path] = []
        for folder_name, names in zip(("a", "b"), layout, strict=True):
            folder = Path(root, folder_name)
            folder.mkdir()
            candidates.append(folder)
            for name in sorted(names):
                (folder / name).write_text(FILES[name], encoding="utf-8")
                candidates.append(folder / name)
        paths = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3))
        assert _check_passes(paths) is _engine_builds(paths), [p.relative_to(root) for p in paths]
        # And both read the same files.
        files = catalogue_files(paths)
        for path in paths:
            if path.is_file():
                assert path in files
                siblings = {f for f in files if f.parent == path.parent}
                beside = {path.parent / n for n in layout[path.parent.name == "b"]}
                assert siblings <= beside


def test_a_file_takes_the_calendar_files_of_its_own_folder_and_nothing_else(tmp_path):
    (tmp_path / "draft.yaml").write_text(FILES["office_proc.yaml"], encoding="utf-8")
    (tmp_path / "other.yaml").write_text(FILES["always_proc.yaml"], encoding="utf-8")
    (tmp_path / "calendars.yaml").write_text(OFFICE, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "calendars.yaml").write_text(OFFICE, encoding="utf-8")
    # The other procedure of the folder is not loaded; the calendars beside it are; a
    # subfolder is not looked into.
    assert catalogue_files([tmp_path / "draft.yaml"]) == [
        tmp_path / "draft.yaml",
        tmp_path / "calendars.yaml",
    ]
    engine = Engine.from_directory(tmp_path / "draft.yaml")
    assert [p.id for p in engine.procedures()] == ["uses_office"]
    assert set(engine.calendars) == {"always", "office"}


def test_a_file_alone_borrows_no_calendar(tmp_path, monkeypatch, capsys):
    # Even run from the repository, whose procedures/ folder defines `office`.
    monkeypatch.chdir(REPO)
    draft = tmp_path / "draft.yaml"
    draft.write_text(FILES["office_proc.yaml"], encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        Engine.from_directory(draft)
    assert [d.code for d in info.value.errors] == ["unknown-calendar"]
    assert main(["check", str(draft)]) == 1
    assert "unknown-calendar" in capsys.readouterr().out


# -- the expiry warning ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 10, 31), None),  # 61 days before: no warning yet
        (
            date(2026, 11, 1),
            "calendar 'office' is published through 2026-12-31, 60 days from today "
            "(2026-11-01): publish the next year's schedule (move published_through on); "
            "deadlines after it are provisional until then",
        ),
        (
            date(2026, 12, 31),
            "calendar 'office' is published through 2026-12-31, 0 days from today "
            "(2026-12-31): publish the next year's schedule (move published_through on); "
            "deadlines after it are provisional until then",
        ),
        (
            date(2027, 1, 1),
            "calendar 'office' is published through 2026-12-31, which was 1 day before "
            "today (2027-01-01): publish the next year's schedule (move published_through "
            "on); deadlines after it are provisional until then",
        ),
    ],
)
def test_check_warns_of_a_schedule_about_to_run_out(tmp_path, today, expected):
    calendars = tmp_path / "calendars.yaml"
    calendars.write_text(OFFICE, encoding="utf-8")
    report = check([calendars], today=today)
    warnings = [d for d in report.diagnostics if d.code == "calendar-expiring"]
    if expected is None:
        assert warnings == []
        return
    (warning,) = warnings
    # At the published_through key of that calendar.
    assert (warning.file, warning.line, warning.column, warning.severity) == (
        str(calendars),
        6,
        24,
        "warning",
    )
    assert warning.message == expected
    assert EXPIRY_WARNING_DAYS == 60


def test_the_shipped_calendars_warn_near_the_year_end_with_today_given(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["check", "--today", "2026-12-01"]) == 0  # a warning does not fail
    out = capsys.readouterr().out
    assert out.startswith(
        "procedures/calendars.yaml:19:24: warning calendar-expiring calendar 'office' is "
        "published through 2026-12-31, 30 days from today (2026-12-01)"
    )
    assert main(["check", "--strict", "--today", "2026-12-01"]) == 1
    capsys.readouterr()
    monkeypatch.setenv("SERVFLOW_TODAY", "2026-12-01")
    assert main(["check", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in document["diagnostics"]] == ["calendar-expiring"]
    monkeypatch.setenv("SERVFLOW_TODAY", "2026-06-01")
    assert main(["check", "--strict"]) == 0


def test_a_bad_today_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["check", "--today", "1 December"]) == 2
    assert "--today" in capsys.readouterr().err
