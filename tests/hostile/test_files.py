"""Special files: every reader refuses what is not a regular file, before reading it.

Each case of :mod:`tests.hostile.files` is put beside a good procedure and fed to every
way servflow reads files (``load_file``, ``Engine.from_directory``, ``servflow check`` on
the file and on its folder, ``servflow diagram``, scenarios), each run under a time and
memory ceiling: a regression fails one case with "timeout" or "memory" instead of hanging
the suite on a FIFO or filling memory from ``/dev/zero``.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest

from servflow import DefinitionError, Engine
from servflow.cli import main
from servflow.procedures import load_file
from servflow.procedures.source import SourceFileError, read_source
from servflow.testing import ScenarioError, load_scenario
from tests.bounded import run_bounded
from tests.hostile.files import CASES, GOOD, FileCase

SECONDS = 5.0
MEMORY_MB = 256

ids = [case.name for case in CASES]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    return tmp_path


def _entry(folder: Path, case: FileCase) -> Path:
    path = folder / "hostile.yaml"
    case.make(path)
    return path


def _diagnostics_of_load_file(path: Path) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in load_file(path).diagnostics]


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(argv))
    return code, out.getvalue()


def _from_directory(folder: Path) -> list[tuple[str, str, str]]:
    try:
        Engine.from_directory(folder)
    except DefinitionError as exc:
        return [(Path(d.file).name, d.code, d.message) for d in exc.diagnostics]
    return []


def _scenario(path: Path) -> list[tuple[str, str]]:
    try:
        load_scenario(path)
    except ScenarioError as exc:
        return [(d.code, d.message) for d in exc.diagnostics]
    return []


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_load_file_refuses_with_the_exact_diagnostic(folder: Path, case: FileCase) -> None:
    path = _entry(folder, case)
    result = run_bounded(_diagnostics_of_load_file, path, seconds=SECONDS, memory_mb=MEMORY_MB)
    assert result.verdict == "returned", str(result)
    if case.code is None:
        assert result.value == []
    else:
        assert result.value == [(case.code, case.message)]


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_engine_from_directory_reports_the_entry(folder: Path, case: FileCase) -> None:
    path = _entry(folder, case)
    result = run_bounded(_from_directory, folder, seconds=SECONDS, memory_mb=MEMORY_MB)
    assert result.verdict == "returned", str(result)
    if case.code is None or not path.exists():
        # A dangling symlink in a folder is left out (an editor's lock file, .#x.yaml).
        assert result.value == []
    else:
        assert result.value == [("hostile.yaml", case.code, case.message)]


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_engine_from_directory_on_the_entry_itself(folder: Path, case: FileCase) -> None:
    path = _entry(folder, case)
    result = run_bounded(_from_directory, path, seconds=SECONDS, memory_mb=MEMORY_MB)
    assert result.verdict == "returned", str(result)  # a symlink loop raised RuntimeError
    if case.code is None:
        assert result.value == []
    else:
        assert result.value == [("hostile.yaml", case.code, case.message)]


def test_check_on_a_path_that_is_not_there_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.yaml"
    assert _cli("check", str(missing)) == (
        2,
        f"servflow check: error: no such file or folder: {missing}\n",
    )


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_check_on_the_file_and_on_its_folder(folder: Path, case: FileCase) -> None:
    path = _entry(folder, case)
    line = 1 if case.code == "too-large" else 0
    expected = f"{path}:{line}:{line}: error {case.code} {case.message}"
    for target in (path, folder):
        result = run_bounded(_cli, "check", str(target), seconds=SECONDS, memory_mb=MEMORY_MB)
        assert result.verdict == "returned", str(result)
        code, out = result.value
        if case.code is None or (target == folder and not path.exists()):
            assert code == 0, out
        elif target == path and path.is_dir():
            # A folder named on the command line is a folder to check: here an empty one.
            assert (code, out.strip()) == (2, f"servflow check: error: no .yaml files in {path}")
        else:
            # A symlink that dangles or loops is named: `unreadable`, as for any file.
            assert code == 1
            assert expected in out.splitlines()


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_diagram_of_the_file(folder: Path, case: FileCase) -> None:
    path = _entry(folder, case)
    line = 1 if case.code == "too-large" else 0
    result = run_bounded(_cli, "diagram", str(path), seconds=SECONDS, memory_mb=MEMORY_MB)
    assert result.verdict == "returned", str(result)
    code, out = result.value
    if case.code is None:
        assert code == 0, out
    elif not path.exists():
        assert (code, out.strip()) == (2, f"servflow diagram: error: no such file: {path}")
    else:
        assert code == 1
        assert f"{path}:{line}:{line}: error {case.code} {case.message}" in out.splitlines()


@pytest.mark.parametrize("case", [c for c in CASES if c.code is not None], ids=lambda c: c.name)
def test_scenario_files_are_read_the_same_way(folder: Path, case: FileCase) -> None:
    path = _entry(folder, case)
    result = run_bounded(_scenario, path, seconds=SECONDS, memory_mb=MEMORY_MB)
    assert result.verdict == "returned", str(result)
    assert result.value == [(case.code, case.message)]


@pytest.mark.parametrize("case", [c for c in CASES if c.code is not None], ids=lambda c: c.name)
def test_servflow_test_on_the_file(folder: Path, case: FileCase) -> None:
    path = _entry(folder, case)
    result = run_bounded(_cli, "test", str(path), seconds=SECONDS, memory_mb=MEMORY_MB)
    assert result.verdict == "returned", str(result)
    code, out = result.value
    if not path.exists():
        assert (code, out.strip()) == (2, f"servflow test: error: no such file or folder: {path}")
    elif path.is_dir():
        assert code == 1  # a folder named on the command line is searched: nothing found
    else:
        line = 1 if case.code == "too-large" else 0
        assert code == 1
        assert f"  {path}:{line}:{line}: error {case.code} {case.message}" in out.splitlines()


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_servflow_test_on_a_folder_does_not_read_special_files(
    folder: Path, case: FileCase
) -> None:
    # The scan looks for `scenario:` in every *.yaml; a FIFO must not block it.
    _entry(folder, case)
    result = run_bounded(_cli, "test", str(folder), seconds=SECONDS, memory_mb=MEMORY_MB)
    assert result.verdict == "returned", str(result)


def test_the_limit_holds_while_reading_a_file_whose_size_is_unknown() -> None:
    # /proc files report a size of 0 and still have content.
    assert os.stat("/proc/self/status").st_size == 0
    with pytest.raises(SourceFileError) as caught:
        read_source("/proc/self/status", limit=10)
    assert (caught.value.code, caught.value.message) == (
        "too-large",
        "file is larger than 10 bytes",
    )
    assert read_source("/proc/self/status").startswith(b"Name:")


def test_a_fifo_swapped_in_after_the_stat_does_not_block(tmp_path: Path, monkeypatch) -> None:
    # Simulate the race: the stat sees a regular file, the open finds a FIFO.
    fifo = tmp_path / "swapped.yaml"
    os.mkfifo(fifo)
    real_stat = os.stat
    regular = real_stat(Path(__file__))
    monkeypatch.setattr(
        os, "stat", lambda p, *a, **k: regular if str(p) == str(fifo) else real_stat(p, *a, **k)
    )
    result = run_bounded(_diagnostics_of_load_file, fifo, seconds=SECONDS, memory_mb=MEMORY_MB)
    assert result.verdict == "returned", str(result)
    assert result.value == [
        ("not-a-file", "a named pipe (FIFO), not a regular file; servflow reads only files")
    ]


def _scenario_with_procedure(folder: Path) -> list[tuple[str, str]]:
    from servflow.testing import engine_for

    scenario = folder / "story.scenario"
    scenario.write_text(
        "scenario: a procedure file that is not a file\n"
        "procedure: ./hostile.yaml\n"
        "timezone: Asia/Shanghai\n"
        "actors: {clerk: {roles: [reception]}}\n"
        "steps:\n"
        '  - start: {as: clerk, at: "2026-12-07 10:00"}\n',
        encoding="utf-8",
    )
    try:
        engine_for(load_scenario(scenario))
    except (DefinitionError, ScenarioError) as exc:
        return [(d.code, d.message) for d in exc.diagnostics]
    return []


@pytest.mark.parametrize("case", [c for c in CASES if c.code is not None], ids=lambda c: c.name)
def test_a_scenario_naming_a_special_file_as_its_procedure(folder: Path, case: FileCase) -> None:
    path = _entry(folder, case)
    result = run_bounded(_scenario_with_procedure, folder, seconds=SECONDS, memory_mb=MEMORY_MB)
    assert result.verdict == "returned", str(result)
    if path.exists():
        assert (case.code, case.message) in result.value
    else:
        assert [code for code, _ in result.value] == ["unknown-procedure"]
