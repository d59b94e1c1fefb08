"""``servflow check``: one diagnostic a line, exit codes, JSON, and no traceback ever."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from servflow.cli import main

REPO = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^.+?:\d+:\d+: (error|warning) [a-z0-9-]+ \S.*$")

GOOD = (REPO / "tests" / "mistakes" / "base.yaml").read_text(encoding="utf-8")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_shipped_catalogue_is_clean_even_when_strict(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, out, err = run(capsys, "--strict")
    assert (code, out) == (0, "")
    assert "0 errors, 0 warnings" in err


def test_every_shipped_file_checks_clean_on_its_own(capsys, monkeypatch):
    # A single file is checked with the calendars beside it, so `calendar: office` resolves.
    monkeypatch.chdir(REPO)
    for path in sorted((REPO / "procedures").glob("*.yaml")):
        code, out, _ = run(capsys, str(path.relative_to(REPO)))
        assert (code, out) == (0, ""), path.name


def test_a_file_uses_the_calendars_beside_it_and_borrows_none(capsys, tmp_path):
    # The rule of Engine.from_directory: a file comes with the calendar files of its own
    # folder; nothing is borrowed from ./procedures or from the standard catalogue.
    target = tmp_path / "draft.yaml"
    target.write_text(GOOD, encoding="utf-8")
    code, out, err = run(capsys, str(target), "--procedures", str(REPO / "procedures"))
    assert code == 1
    assert "unknown-calendar unknown calendar 'office'" in out
    assert "checked 1 procedure file, 0 calendar files" in err
    # Naming the calendar file is the explicit way ...
    code, out, err = run(capsys, str(target), str(REPO / "procedures" / "calendars.yaml"))
    assert (code, out) == (0, "")
    assert f"1 calendar file: {REPO / 'procedures' / 'calendars.yaml'}" in err
    # ... and a calendar file beside it the usual one.
    shutil.copy(REPO / "procedures" / "calendars.yaml", tmp_path / "calendars.yaml")
    code, out, err = run(capsys, str(target))
    assert (code, out) == (0, "")
    assert f"checked 1 procedure file, 1 calendar file: {tmp_path / 'calendars.yaml'}" in err


def test_no_argument_and_no_procedures_folder_is_a_usage_error(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert "no procedures/ folder here" in err


def test_the_summary_says_what_was_checked(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, _, err = run(capsys)
    assert code == 0
    assert err.strip().endswith(
        "0 errors, 0 warnings; checked 26 procedure files, 1 calendar file: "
        "procedures/calendars.yaml (and the built-in calendar 'always')"
    )


def test_problems_are_lines_sorted_by_file_and_line(capsys, tmp_path):
    (tmp_path / "b.yaml").write_text(GOOD.replace("to: dispatched", "to: dispached"))
    (tmp_path / "a.yaml").write_text(
        GOOD.replace("roles: [maintenance]", "roles: [maintenace]").replace(
            "requires: [technician]", "requires: [technican]"
        )
    )
    code, out, err = run(capsys, str(tmp_path), str(REPO / "procedures" / "calendars.yaml"))
    lines = out.splitlines()
    assert code == 1
    assert all(LINE.match(line) for line in lines), lines
    keys = []
    for line in lines:
        file, lineno, column = line.split(":")[:3]
        keys.append((file, int(lineno), int(column)))
    assert keys == sorted(keys)
    assert {Path(k[0]).name for k in keys} == {"a.yaml", "b.yaml"}
    assert re.search(r"\d+ errors?, \d+ warnings?", err)


def test_json_format_for_editors_and_ci(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("roles: [maintenance]", "roles: [maintenace]"))
    code, out, _ = run(
        capsys, str(bad), str(REPO / "procedures" / "calendars.yaml"), "--format", "json"
    )
    document = json.loads(out)
    assert code == 1
    assert document["ok"] is False
    assert document["errors"] >= 1
    first = next(d for d in document["diagnostics"] if d["code"] == "unknown-role")
    assert first == {
        "file": str(bad),
        "line": 41,
        "column": 13,
        "severity": "error",
        "code": "unknown-role",
        "message": "unknown role 'maintenace'; did you mean 'maintenance'?",
    }


def test_json_format_when_clean(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, out, _ = run(capsys, "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "ok": True,
        "errors": 0,
        "warnings": 0,
        "diagnostics": [],
        "checked": {
            "procedures": [
                "procedures/archive_inspection.v1.yaml",
                "procedures/archive_inspection.yaml",
                "procedures/archives.v1.yaml",
                "procedures/archives.yaml",
                "procedures/callback.yaml",
                "procedures/complaint.v1.yaml",
                "procedures/complaint.v2.yaml",
                "procedures/complaint.yaml",
                "procedures/enquiry.yaml",
                "procedures/fees.yaml",
                "procedures/fees_daily_close.yaml",
                "procedures/fees_monthly_statement.yaml",
                "procedures/keys.v1.yaml",
                "procedures/keys.yaml",
                "procedures/renovation.v1.yaml",
                "procedures/renovation.v2.yaml",
                "procedures/renovation.yaml",
                "procedures/repair.v1.yaml",
                "procedures/repair.v2.yaml",
                "procedures/repair.yaml",
                "procedures/sales_change.yaml",
                "procedures/sales_handover.yaml",
                "procedures/sales_mortgage.yaml",
                "procedures/sales_signing.yaml",
                "procedures/sales_subscription.yaml",
                "procedures/sales_title.yaml",
            ],
            "calendars": ["procedures/calendars.yaml"],
        },
    }


def test_warnings_pass_unless_strict(capsys, tmp_path):
    lint = tmp_path / "lint.yaml"
    lint.write_text(
        GOOD.replace(
            "  supervisor: {",
            "  cashier: {title: {zh-Hant: 收費員, en: Cashier}}\n  supervisor: {",
        )
    )
    argv = (str(lint), str(REPO / "procedures" / "calendars.yaml"))
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "warning unused-role role 'cashier' is never used" in out
    assert run(capsys, *argv, "--strict")[0] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no/such/file.yaml"], "no such file or folder"),
        (["tests/strategies.py", "no/such/dir"], "no such file or folder"),
    ],
)
def test_usage_errors_exit_2(capsys, monkeypatch, argv, message):
    monkeypatch.chdir(REPO)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err


def test_an_empty_folder_is_a_usage_error(capsys, tmp_path):
    code, _, err = run(capsys, str(tmp_path))
    assert code == 2
    assert "no .yaml files" in err


def test_a_bad_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check", "--format", "xml"])
    assert info.value.code == 2


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _bomb() -> bytes:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return ("\n".join(lines) + "\n").encode()


HOSTILE = {
    "binary": bytes(range(256)) * 4,
    "empty": b"",
    "blank": b"\n\n   \n",
    "huge": b"servflow: 1\ndescription: {en: '" + b"x" * 2_000_000 + b"'}\n",
    "nested": _nested(10_000),
    "nested_maps": "".join(f"{'  ' * i}k{i}:\n" for i in range(200)).encode(),
    "invalid_utf8": b"servflow: 1\nid: \xff\xfe\xfd\n",
    "tabs": GOOD.replace("    to: closed", "\tto: closed").encode(),
    "bomb": _bomb(),
    "scalar": b"just some words\n",
    "list": b"- servflow: 1\n- id: x\n",
    "python_tag": b"!!python/object/apply:os.system ['echo hi']\n",
    "nul_byte": b"servflow: 1\x00\n",
    "latin1": "servflow: 1\nid: caf\u00e9\n".encode("latin-1"),
    "bom_and_crlf": b"\xef\xbb\xbfservflow: 1\r\nid: 7\r\n",
    "numbers_as_names": b"servflow: 1\nid: x\nversion: 1\ntitle: {en: X}\nroles: {1: {}}\nstates: {2: {}}\nstart: {to: 2, roles: [1]}\n",
    "deep_procedure": GOOD.replace(
        "requires: [phone]", "requires: " + "[" * 60 + "phone" + "]" * 60
    ).encode(),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_gives_diagnostics_never_a_traceback(capsys, tmp_path, name):
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(HOSTILE[name])
    code, out, err = run(capsys, str(path), str(REPO / "procedures" / "calendars.yaml"))
    assert code == 1
    lines = out.splitlines()
    assert lines, err
    assert all(LINE.match(line) for line in lines), lines
    assert "Traceback" not in out + err
    assert "internal-error" not in out


def test_hostile_input_as_json(capsys, tmp_path):
    path = tmp_path / "x.yaml"
    path.write_bytes(_nested(10_000))
    code, out, _ = run(capsys, str(path), "--format", "json")
    assert code == 1
    (diagnostic,) = json.loads(out)["diagnostics"]
    assert diagnostic["code"] in ("too-large", "yaml-syntax")
    assert "nest" in diagnostic["message"]


def test_calendar_files_are_checked_too(capsys, tmp_path):
    calendars = tmp_path / "calendars.yaml"
    calendars.write_text(
        "servflow: 1\ncalendars:\n  office:\n    timezone: Asia/Shangai\n    hours: {mon: ['09:00-18:00']}\n"
    )
    code, out, _ = run(capsys, str(calendars))
    assert code == 1
    assert f"{calendars}:4:15: error invalid-value" in out
    assert "unknown time zone 'Asia/Shangai'" in out


def test_the_console_script(tmp_path):
    script = Path(sys.executable).with_name("servflow")
    if not script.exists():
        found = shutil.which("servflow")
        if found is None:
            pytest.skip("the servflow console script is not installed")
        script = Path(found)
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("to: dispatched", "to: dispached"))
    result = subprocess.run(
        [str(script), "check", str(bad), str(REPO / "procedures" / "calendars.yaml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert (
        f"{bad}:34:9: error unknown-state unknown state 'dispached'; did you mean 'dispatched'?"
        in result.stdout
    )
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_an_endless_file_does_not_hang(capsys):
    code, out, _ = run(capsys, "/dev/zero")
    assert code == 1
    # Refused before a byte is read: a device is not a file (tests/hostile/ has the rest).
    assert (
        out
        == "/dev/zero:0:0: error not-a-file a device, not a regular file; servflow reads only files\n"
    )
