"""``servflow diagram``: Mermaid and dot state diagrams, localized, deterministic, up to date."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from servflow.cli import main
from servflow.procedures.load import load_catalogue, load_procedure
from servflow.render.diagram import abbreviate, render_dot, render_mermaid

REPO = Path(__file__).resolve().parent.parent
BASE = REPO / "tests" / "mistakes" / "base.yaml"
REGEN = "run `.venv/bin/python scripts/regen_docs.py` and commit the result"


def regen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regen_docs", REPO / "scripts" / "regen_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def diagram(*argv: str) -> str:
    """The output of `servflow diagram ARGV` run from the repository (once per ARGV)."""
    out, cwd = io.StringIO(), os.getcwd()
    os.chdir(REPO)
    try:
        with contextlib.redirect_stdout(out):
            assert main(["diagram", *argv]) == 0
    finally:
        os.chdir(cwd)
    return out.getvalue()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diagram", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_mermaid_of_the_repair_procedure():
    lines = diagram("repair").splitlines()
    assert lines[:4] == ["---", 'title: "住戶報修 · repair v3"', "---", "stateDiagram-v2"]
    # Localized titles, time limits on the states they govern; a state that waits on
    # purpose says for what.
    assert '    state "已登記<br/>⏱ 及時派工（本處規定，示例） 15m/30m" as s_recorded' in lines
    assert '    state "已完成維修，待回訪<br/>⏳ 回訪個案的結果" as s_awaiting_callback' in lines
    # The start with its roles; each transition with title, guard and roles.
    assert "    [*] --> s_recorded : 報修接待管理員" in lines
    assert "    s_recorded --> s_dispatched : 派工<br/>報修接待管理員" in lines
    # A step that opens a linked case names the procedure and the trigger it resumes.
    assert (
        "    s_dispatched --> s_awaiting_callback : 收回任務單並標注完成<br/>報修接待管理員"
        "<br/>⇢ callback ⇠ callback_done" in lines
    )
    # A guard with words is labelled with its words.
    assert (
        "    s_awaiting_callback --> s_closed : 回訪結果（滿意，結案）<br/>[住戶表示滿意方可結案]"
        "<br/>客服主管" in lines
    )
    assert (
        "    s_awaiting_callback --> s_closed_unreachable : 回訪結果（無法聯繫，結案）<br/>"
        "[回訪個案按無法聯繫結束時方可按無法聯繫結案]<br/>客服主管" in lines
    )
    # Final states marked.
    assert "    s_closed --> [*]" in lines
    assert "    s_cancelled --> [*]" in lines
    assert "    class s_closed final" in lines


def test_mermaid_of_the_callback_procedure():
    lines = diagram("callback").splitlines()
    # An assigned step names the field that holds the one person who may take it; an
    # unreachable resident: each unanswered call counted, the callback ended after three.
    assert (
        "    s_to_call --> s_reached : 記錄回訪結果<br/>回訪人員 (指定回訪人員（員工編號）)"
        in lines
    )
    assert (
        "    s_to_call --> s_unreachable : 無法聯繫結束回訪<br/>"
        "[回訪三次未接通後方可按無法聯繫結束（本處規定，僅為示例）]<br/>"
        "回訪人員 (指定回訪人員（員工編號）)" in lines
    )


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "en",
            '    state "Recorded<br/>⏱ Dispatch in time (local policy, example) 15m/30m" as s_recorded',
        ),
        ("zh-Hans", '    state "已登记<br/>⏱ 及时派工（本处规定，示例） 15m/30m" as s_recorded'),
    ],
)
def test_titles_follow_the_language(lang, expected):
    assert expected in diagram("repair", "--lang", lang).splitlines()


def test_dot_of_the_complaint_procedure():
    out = diagram("complaint", "--format", "dot", "--lang", "en")
    assert out.startswith('digraph "complaint" {\n')
    assert out.endswith("}\n")
    assert '"__start__" -> "received"' in out
    assert '"closed" [label="Closed", peripheries=2];' in out
    assert "[Only complaints are classif…]" in out  # a guard's words, cut short
    if shutil.which("dot"):
        result = subprocess.run(
            ["dot", "-Tsvg"], input=out, capture_output=True, text=True, check=False, timeout=60
        )
        assert result.returncode == 0, result.stderr


def test_a_guard_without_words_shows_a_compared_choice_by_its_title(capsys, tmp_path):
    text = (REPO / "procedures" / "complaint.yaml").read_text(encoding="utf-8")
    words = (
        "    message:\n"
        "      zh-Hant: 只有投訴需判明類型，建議直接傳遞相關部門\n"
        "      zh-Hans: 只有投诉需判明类型，建议直接传递相关部门\n"
        "      en: Only complaints are classified; a suggestion goes straight to the department"
        " concerned\n"
    )
    assert text.count(words) == 1
    path = tmp_path / "complaint.yaml"
    path.write_text(text.replace(words, ""), encoding="utf-8")
    calendars = (REPO / "procedures" / "calendars.yaml").read_text(encoding="utf-8")
    (tmp_path / "calendars.yaml").write_text(calendars, encoding="utf-8")
    shutil.copy(REPO / "procedures" / "callback.yaml", tmp_path)  # the case its reply opens
    code, out, _ = run(capsys, str(path), "--format", "dot", "--lang", "en")
    assert code == 0
    assert "[kind == 「Complaint」]" in out  # the compared choice, by its title


def test_proc_may_be_a_path(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, out, _ = run(capsys, "tests/mistakes/base.yaml")
    assert code == 0
    assert '    state "已派工<br/>⏱ repair_in_time 2wd" as s_dispatched' in out.splitlines()


def test_output_to_a_file(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    target = tmp_path / "repair.dot"
    assert run(capsys, "repair", "--format", "dot", "-o", str(target))[:2] == (0, "")
    assert target.read_text(encoding="utf-8") == render_dot(
        load_procedure(REPO / "procedures" / "repair.yaml")
    )


def test_an_unknown_procedure_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, out, err = run(capsys, "repiar")
    assert (code, out) == (2, "")
    assert "no procedure 'repiar'" in err
    assert "repair" in err


def test_a_broken_procedure_reports_its_diagnostics(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.read_text(encoding="utf-8").replace("to: dispatched", "to: dispached"))
    code, out, err = run(capsys, str(bad), "--procedures", str(REPO / "procedures"))
    assert (code, out) == (1, "")
    assert f"{bad}:34:9: error unknown-state" in err
    assert "Traceback" not in err


def test_guards_are_abbreviated():
    assert abbreviate("priority == 'emergency'") == "priority == 'emergency'"
    long = "priority != 'emergency' or technician_on_call and   not satisfied"
    short = abbreviate(long)
    assert len(short) <= 28
    assert short.endswith("…")
    assert long.startswith(short[:-1])


def test_special_names_and_characters_are_escaped():
    text = BASE.read_text(encoding="utf-8")
    text = text.replace("closed", "end").replace(
        "title: {zh-Hant: 已登記, en: Recorded}", 'title: {zh-Hant: "已登記 #1; <新> {x}: \\"y\\""}'
    )
    proc = load_procedure(text.replace("calendar: office", "calendar: always"), file="x.yaml")
    mermaid = render_mermaid(proc)
    assert "    s_end --> [*]" in mermaid
    assert 'state "已登記 #35;1#59; #lt;新#gt; #123;x#125;#58; #quot;y#quot;<br/>' in mermaid
    dot = render_dot(proc)
    assert '"recorded" [label="已登記 #1; <新> {x}: \\"y\\"\\n' in dot


def test_no_default_of_a_pii_field_is_drawn():
    text = BASE.read_text(encoding="utf-8").replace(
        "phone: {type: string, pii: true,",
        "phone: {type: string, pii: true, default: '13800138000',",
    )
    proc = load_procedure(text.replace("calendar: office", "calendar: always"), file="x.yaml")
    for lang in ("zh-Hant", "zh-Hans", "en"):
        assert "13800138000" not in render_mermaid(proc, lang)
        assert "13800138000" not in render_dot(proc, lang)


def test_diagrams_are_deterministic():
    proc = load_procedure(REPO / "procedures" / "repair.yaml")
    assert render_mermaid(proc) == render_mermaid(proc.model_copy(deep=True))


def test_generated_diagrams_are_up_to_date():
    module = regen()
    expected = module.expected_files(REPO)
    diagrams = {rel: text for rel, text in expected.items() if rel.startswith("docs/diagrams/")}
    shipped = {p.id for p in load_catalogue([REPO / "procedures"]).procedures}
    assert {Path(rel).stem for rel in diagrams} >= shipped
    for rel, text in sorted(diagrams.items()):
        path = REPO / rel
        assert path.is_file(), f"{rel} is missing: {REGEN}"
        assert path.read_text(encoding="utf-8") == text, f"{rel} is out of date: {REGEN}"
    stale = {r for r in module.existing_generated(REPO) if r.startswith("docs/diagrams/")}
    assert stale <= set(diagrams), f"stale diagrams {sorted(stale - set(diagrams))}: {REGEN}"


def test_a_missing_file_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, out, err = run(capsys, "procedures/nothing.yaml")
    assert (code, out) == (2, "")
    assert "no such file: procedures/nothing.yaml" in err


@pytest.mark.parametrize(
    ("lang", "label"),
    [
        ("zh-Hant", "⏱ 日收日清 1m（至當日下班）"),
        ("zh-Hans", "⏱ 日收日清 1m（至当日下班）"),
        ("en", "⏱ Cleared the same day 1m (by the end of that working day)"),
    ],
)
def test_a_limit_to_the_close_of_business_says_so_on_the_diagram(lang, label):
    # `end_of_working_day`: "1m" alone would read as one minute.
    text = (REPO / "procedures" / "fees.yaml").read_text(encoding="utf-8")
    fees = load_procedure(text)
    assert label in render_mermaid(fees, lang)
    assert label in render_dot(fees, lang)
    assert '⏱ 財務確認時限（本處規定，示例：1個工作日） 1wd"' in render_mermaid(fees, "zh-Hant")
