"""``servflow docs``: a Markdown SOP from the YAML alone, in three languages, kept up to date."""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from servflow.cli import main
from servflow.model import Procedure
from servflow.procedures.load import Catalogue, load_catalogue, load_procedure
from servflow.render.sop import render_sop

REPO = Path(__file__).resolve().parent.parent
BASE = REPO / "tests" / "mistakes" / "base.yaml"
REGEN = "run `.venv/bin/python scripts/regen_docs.py` and commit the result"


@cache
def catalogue() -> Catalogue:
    return load_catalogue([REPO / "procedures"])


@cache
def sop(proc_id: str, lang: str) -> str:
    proc = latest(proc_id)
    return render_sop(proc, lang, calendars=catalogue().calendars)


def latest(proc_id: str) -> Procedure:
    """The newest version of a shipped procedure (older ones are kept for their cases)."""
    return max((p for p in catalogue().procedures if p.id == proc_id), key=lambda p: p.version)


def regen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regen_docs", REPO / "scripts" / "regen_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_command_prints_the_sop(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["docs", "repair", "--lang", "en"]) == 0
    assert capsys.readouterr().out == sop("repair", "en")


def test_the_command_writes_a_file_and_takes_a_path(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    target = tmp_path / "sop.md"
    assert main(["docs", "procedures/repair.yaml", "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert target.read_text(encoding="utf-8") == sop("repair", "zh-Hant")


def test_an_unknown_language_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["docs", "repair", "--lang", "fr"])
    assert info.value.code == 2


def test_a_broken_procedure_is_reported_not_rendered(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.read_text(encoding="utf-8").replace("[technician]", "[technican]"))
    code = main(["docs", str(bad), "--procedures", str(REPO / "procedures")])
    captured = capsys.readouterr()
    assert (code, captured.out) == (1, "")
    assert "unknown-field unknown field 'technican'; did you mean 'technician'?" in captured.err


@pytest.mark.parametrize(
    ("lang", "headings"),
    [
        ("zh-Hant", ["# 住戶報修 — 標準作業程序", "## 目的", "## 角色", "## 流程圖", "## 作業步驟",
                     "## 時限與上報", "## 規則", "## 資料欄位", "## 記錄表單", "## 狀態"]),
        ("zh-Hans", ["# 住户报修 — 标准作业程序", "## 目的", "## 角色", "## 流程图", "## 作业步骤",
                     "## 时限与上报", "## 规则", "## 资料字段", "## 记录表单", "## 状态"]),
        ("en", ["# Resident repair request — Standard operating procedure", "## Purpose", "## Roles",
                "## Diagram", "## Steps", "## Time limits and escalation", "## Rules",
                "## Information", "## Record forms", "## States"]),
    ],
)  # fmt: skip
def test_headings_are_localized_and_in_order(lang, headings):
    lines = sop("repair", lang).splitlines()
    positions = [lines.index(h) for h in headings]
    assert positions == sorted(positions)


def test_the_steps_come_in_order_with_who_and_what():
    text = sop("repair", "en")
    steps = re.findall(r"^### (\d+)\. (.+) \(`(\w+)`\)$", text, re.M)
    assert [s[2] for s in steps] == [
        "start", "dispatch", "complete", "callback_done", "cancel", "reprioritise", "chase",
    ]  # fmt: skip
    assert [int(s[0]) for s in steps] == list(range(1, 8))
    dispatch = text.split("### 2. Dispatch (`dispatch`)")[1].split("###")[0]
    assert "- **From**: Recorded" in dispatch
    assert "- **Who**: Repair reception clerk" in dispatch
    assert "- **Required information**: Technician" in dispatch
    assert "- **Optional information**: Priority" in dispatch
    assert "- **Then**: Dispatched to maintenance" in dispatch
    assert "- **What follows**: notify Maintenance department (`work_order`)" in dispatch
    callback = text.split("(`callback_done`)")[1]
    assert "#### Case 4.2: Callback result (unsatisfied, rework)" in callback
    assert (
        "- **Only when**: The repair goes back for rework only when the resident says they are "
        "not satisfied" in callback
    )
    # The callback itself is the shared procedure's: made only by the designated officer,
    # each unanswered call counted.
    shared = sop("callback", "en")
    made = shared.split("(`record_result`)")[1].split("###")[0]
    assert (
        "- Only the person named in “Designated callback officer (staff id)” may take it." in made
    )
    unanswered = shared.split("(`unanswered`)")[1]
    assert (
        "the system adds one to (no one fills it in): Unanswered callback attempts." in unanswered
    )


def test_time_limits_and_escalation():
    text = sop("repair", "zh-Hant")
    assert "### 按時完成維修（本處規定，示例） (`completion`)" in text
    assert "  - 當 `priority == 'emergency'`：**4 小時**，按「全天候」計" in text
    assert "  - 其他情況：**2 個工作天**，按「管理處辦公時間」計" in text
    assert "  2. 逾時 4 小時後：通知客服經理" in text
    assert "- **計時狀態**：已派工" in text
    complaint = sop("complaint", "en")
    assert "### Escalation ladder" in complaint
    assert (
        "lowest first: Customer-service staff → Customer-service supervisor → "
        "Customer-service manager" in complaint
    )


def test_rules_guards_authority_invariants():
    text = sop("complaint", "en")
    rules = text.split("## Rules")[1].split("## Information")[0]
    assert (
        "| Classify | Only complaints are classified; a suggestion goes straight to the "
        "department concerned (`kind == 'complaint'`) |" in rules
    )
    assert "### Authority" in rules
    assert (
        "| Reply to the complainant | Customer-service staff | "
        "`compensation is none or compensation <= 200` |" in rules
    )
    assert "### Always true" in rules


def test_personal_data_is_flagged_confidential():
    for lang, word in (("zh-Hant", "機密"), ("zh-Hans", "机密"), ("en", "Confidential")):
        lines = sop("repair", lang).splitlines()
        row = next(line for line in lines if "`phone`" in line and line.startswith("|"))
        assert "🔒" in row
        assert word in row
        technician = next(line for line in lines if "`technician`" in line)
        assert "🔒" not in technician
        # Wherever a pii field is asked for, the lock goes with it.
        start = next(line for line in lines if line.startswith("- **") and "🔒" in line)
        assert start.count("🔒") == 3


def test_record_forms_list_their_fields_and_when_they_are_filed():
    text = sop("repair", "en")
    forms = text.split("## Record forms")[1].split("## States")[0]
    assert "### 《Maintenance work order》" in forms  # the form's name in the SOP's language
    assert "- **Contents**: Technician, Work order number" in forms
    assert "- **Filed at**: Record completion" in forms
    # A record effect names the form in one language; the SOP shows it in its own.
    simplified = sop("repair", "zh-Hans")
    assert "### 《维修任务单》" in simplified
    assert "維修任務單" not in simplified


def test_no_pii_default_is_printed():
    text = BASE.read_text(encoding="utf-8").replace(
        "phone: {type: string, pii: true,",
        "phone: {type: string, pii: true, default: '13800138000',",
    )
    proc = load_procedure(text.replace("calendar: office", "calendar: always"), file="x.yaml")
    for lang in ("zh-Hant", "zh-Hans", "en"):
        rendered = render_sop(proc, lang)
        assert "13800138000" not in rendered
        assert (
            "default `normal`" in rendered
            or "預設：`normal`" in rendered
            or "默认：`normal`" in rendered
        )


def test_markdown_tables_survive_pipes_in_text():
    text = BASE.read_text(encoding="utf-8").replace(
        "title: {zh-Hant: 電話, en: Phone}", "title: {zh-Hant: 電話, en: 'Phone | mobile'}"
    )
    proc = load_procedure(text.replace("calendar: office", "calendar: always"), file="x.yaml")
    row = next(line for line in render_sop(proc, "en").splitlines() if "`phone`" in line)
    assert "Phone \\| mobile" in row
    assert row.count(" | ") == 5


def test_rendering_is_deterministic_and_tidy():
    text = sop("complaint", "zh-Hans")
    proc = latest("complaint")
    assert text == render_sop(
        proc.model_copy(deep=True), "zh-Hans", calendars=catalogue().calendars
    )
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    assert "\n\n\n" not in text
    assert not [line for line in text.splitlines() if line != line.rstrip()]


def test_generated_sops_are_up_to_date():
    module = regen()
    expected = module.expected_files(REPO)
    docs = {rel: text for rel, text in expected.items() if rel.startswith("docs/procedures/")}
    shipped = {p.id for p in catalogue().procedures}
    for proc_id in shipped:
        for lang in ("zh-Hant", "zh-Hans", "en"):
            assert f"docs/procedures/{proc_id}.{lang}.md" in docs, f"no SOP of {proc_id}: {REGEN}"
    for rel, text in sorted(docs.items()):
        path = REPO / rel
        assert path.is_file(), f"{rel} is missing: {REGEN}"
        assert path.read_text(encoding="utf-8") == text, f"{rel} is out of date: {REGEN}"
    stale = {r for r in module.existing_generated(REPO) if r.startswith("docs/procedures/")}
    assert stale <= set(docs), f"stale SOPs {sorted(stale - set(docs))}: {REGEN}"


def test_regen_keeps_the_hand_written_pages_beside_the_sops(tmp_path):
    # The index and the rule tables sit beside the SOPs; only what regen writes counts as
    # generated, so a stale SOP is removed and the hand-written pages never are.
    module = regen()
    folder = tmp_path / "docs" / "procedures"
    (folder / "rules").mkdir(parents=True)
    for name in ("README.md", "rules/keys.md", "gone.en.md", "gone.zh-Hant.md", "notes.md"):
        (folder / name).write_text("x\n", encoding="utf-8")
    (tmp_path / "docs" / "diagrams").mkdir()
    (tmp_path / "docs" / "diagrams" / "gone.mmd").write_text("x\n", encoding="utf-8")
    assert module.existing_generated(tmp_path) == {
        "docs/procedures/gone.en.md",
        "docs/procedures/gone.zh-Hant.md",
        "docs/diagrams/gone.mmd",
    }
    assert "docs/procedures/README.md" not in module.existing_generated(REPO)
