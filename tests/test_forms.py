"""Notifications and record forms: every template the catalogue names, rendered.

The standard catalogue's templates (``procedures/templates/``) are rendered for real
cases of every procedure in every language: each holds the localized titles of its
fields and the case's number, and personal data only as ``visible_to`` allows. ``servflow
check`` reports a missing template, one that does not compile and one that uses a name
the procedure does not have, at its file:line; ``servflow render`` shows one to an analyst.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Actor, Case, Engine, Event
from servflow.cli import main
from servflow.model import LANGUAGES, NAME_PATTERN, Procedure
from servflow.procedures import load_text
from servflow.render.forms import (
    LABELS,
    FormError,
    Forms,
    render_template,
    template_context,
    template_names,
    unknown_names,
)
from tests.forms_cases import SECRETS, filled_cases
from tests.test_visible_to import VISIBLE

REPO = Path(__file__).resolve().parent.parent
ENGINE = Engine.standard()
FORMS = Forms(REPO / "procedures")
TZ = ZoneInfo("Asia/Shanghai")
NINE = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)


def _actor(*roles: str) -> Actor:
    return Actor(id="u1", roles=set(roles))


def _repair_closed() -> tuple[Case, list[Event]]:
    """A repair taken from record to close: every field of every form filled in."""
    clerk = _actor("repair_reception")
    out = ENGINE.start(
        "repair",
        actor=clerk,
        data={
            "resident_name": "王小明",
            "address": "A-1203",
            "phone": "138 0000 0000",
            "fault": "廚房水管漏水 <急>",
            "appointment_at": NINE + timedelta(hours=3),
        },
        at=NINE,
        case_id="R-2026-0001",
    )
    events = list(out.events)
    steps = [
        ("dispatch", clerk, {"technician": "李師傅"}, 10),
        (
            "complete",
            clerk,
            {"work_order_no": "WO-17", "completed_at": NINE + timedelta(hours=5)},
            300,
        ),
        (
            "callback_done",
            _actor("cs_supervisor"),
            {"callback_result": "reached", "satisfied": True, "callback_notes": "滿意"},
            900,
        ),
    ]
    case = out.case
    for trigger, actor, data, minutes in steps:
        out = ENGINE.fire(
            case, trigger, actor=actor, data=data, at=NINE + timedelta(minutes=minutes)
        )
        case = out.case
        events += out.events
    return case, events


CASES = filled_cases(ENGINE)
# The latest version of each procedure (the versions before it name the same templates).
LATEST = {p.id: ENGINE.procedure(p.id) for p in ENGINE.procedures()}
NAMED = [(p.id, t.name, t.kind) for p in LATEST.values() for t in template_names(p)]


def test_the_catalogue_names_the_regulations_forms():
    records = {name for _, name, kind in NAMED if kind == "record"}
    assert {"住戶報修記錄表", "維修任務單", "回訪記錄表", "業主投訴記錄表"} <= records
    assert len(records) == 25
    assert sum(kind == "notification" for _, _, kind in NAMED) == 93


@pytest.mark.parametrize(("procedure", "name", "kind"), NAMED, ids=lambda v: str(v))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_named_template_renders_localized_with_pii_masked(procedure, name, kind, lang):
    proc = ENGINE.procedure(procedure)
    case = CASES[procedure]
    text = FORMS.render(proc, case, name, lang, organisation="海景花園管理處")
    assert case.id in text
    assert LABELS["case_no"][lang] in text
    assert "海景花園管理處" in text
    for secret in SECRETS:
        assert secret not in text
    if kind == "record":
        assert text.startswith("<!DOCTYPE html>")
        assert f'<html lang="{lang}">' in text
        assert "@page { size: A4" in text
        shown = [
            f
            for f, spec in proc.fields.items()
            if name in (spec.form.values() if isinstance(spec.form, dict) else [spec.form])
        ]
        assert shown, name
        for field in shown:
            title = proc.fields[field].title.get(lang, None)
            if title:
                assert f"<th>{title}</th>" in text
        assert text.count('class="signature"') >= 2
        pii_shown = [f for f in shown if proc.fields[f].pii and case.data.get(f) is not None]
        if pii_shown:
            assert LABELS["masked"][lang] in text
    else:
        assert "<" not in text.replace("<急>", "")  # a notification is text, not HTML


def test_a_form_escapes_what_the_case_holds_and_a_notification_does_not():
    proc = ENGINE.procedure("repair")
    case = CASES["repair"]
    form = FORMS.render(proc, case, "住戶報修記錄表", "zh-Hant")
    assert "需更換閥門 &lt;急&gt;" in form
    assert "<急>" not in form
    note = FORMS.render(proc, case, "work_order", "zh-Hant")
    assert "需更換閥門 <急>" in note


def test_the_event_is_shown_in_the_chosen_language():
    case, events = _repair_closed()
    dispatch = next(e for e in events if e.trigger == "dispatch")
    text = render_template(ENGINE, case, "work_order", "en", event=dispatch)
    assert "Step: Dispatch (2026-11-23 09:10)" in text
    text = render_template(ENGINE, case, "work_order", "zh-Hans", event=dispatch)
    assert "步骤：派工（2026-11-23 09:10）" in text


def _visit_catalogue(folder: Path, template: str) -> Engine:
    (folder / "visit.yaml").write_text(VISIBLE, encoding="utf-8")
    (folder / "templates" / "visit").mkdir(parents=True)
    for lang in LANGUAGES:
        (folder / "templates" / "visit" / f"visit_request.{lang}.txt").write_text(
            template, encoding="utf-8"
        )
    return Engine.from_directory(folder)


@pytest.mark.parametrize(
    ("roles", "phone", "name"),
    [
        ((), "[withheld]", "[withheld]"),
        (("fixer",), "555 0101", "[withheld]"),
        (("clerk",), "555 0101", "Ada"),
        (("fixer", "nobody"), "555 0101", "[withheld]"),
    ],
)
def test_pii_is_shown_only_to_the_roles_the_field_names(tmp_path, roles, phone, name):
    engine = _visit_catalogue(tmp_path, "{{ case.fields.phone }}/{{ case.fields.name }}")
    case = engine.start(
        "visit", actor=_actor("clerk"), data={"phone": "555 0101", "name": "Ada"}, at=NINE
    ).case
    forms = Forms(tmp_path)
    text = render_template(engine, case, "visit_request", "en", viewer_roles=roles, forms=forms)
    assert text == f"{phone}/{name}"


@given(roles=st.sets(st.sampled_from(["clerk", "fixer", "other", "cs_manager"])))
@settings(max_examples=40, deadline=None)
def test_a_pii_value_reaches_the_template_only_for_a_role_it_names(roles):
    proc = load_text(VISIBLE).procedure
    assert proc is not None
    case = Case(
        id="V-1",
        procedure="visit",
        procedure_version=1,
        digest="d",
        state="open",
        data={"phone": "555 0101", "name": "Ada", "note": None},
        version=1,
        opened_at=NINE,
        updated_at=NINE,
    )
    fields = template_context(proc, case, "en", viewer_roles=roles)["case"]["fields"]
    for field, value in (("phone", "555 0101"), ("name", "Ada")):
        allowed = bool(roles & set(proc.fields[field].visible_to or ()))
        assert (fields[field] == value) is allowed
        assert (fields[field] == "[withheld]") is not allowed


def _diagnostics(capsys, *paths: str) -> list[str]:
    main(["check", *paths])
    return capsys.readouterr().out.splitlines()


def test_the_shipped_catalogue_has_every_template(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    lines = _diagnostics(capsys, "procedures")
    assert not [line for line in lines if " template-" in line], lines


def test_check_reports_missing_broken_and_unknown_names_at_their_lines(
    tmp_path, capsys, monkeypatch
):
    shutil.copytree(
        REPO / "procedures", tmp_path / "cat", ignore=shutil.ignore_patterns("scenarios")
    )
    folder = tmp_path / "cat" / "templates" / "repair"
    (folder / "work_order.en.txt").unlink()
    (folder / "repair_reminder.zh-Hans.txt").write_text(
        "{{ case.id }}\n{% for x in titles.states %}\n{{ case.fields.phon }}{% endfor %}\n",
        encoding="utf-8",
    )
    (folder / "rework_order.en.txt").write_text("ok\n{% if case.id %}\n", encoding="utf-8")
    (folder / "回訪記錄表.zh-Hant.html").write_text(
        '{% extends "_form.html" %}{% block rows %}\n{{ titles.roles.maintenanse }}'
        "{{ labels.signatur }}{{ evnt }}{% endblock %}",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path / "cat")
    lines = [line for line in _diagnostics(capsys, ".") if " template-" in line]
    assert lines == [
        # Every version of repair names the notification; the template's own problems are
        # said once, though the versions share the template.
        "repair.v1.yaml:151:41: error template-missing notification 'work_order' has no en "
        "template: write work_order.en.txt (or work_order.txt, for every language) in "
        "templates/repair/",
        "repair.v2.yaml:166:41: error template-missing notification 'work_order' has no en "
        "template: write work_order.en.txt (or work_order.txt, for every language) in "
        "templates/repair/",
        "repair.yaml:174:41: error template-missing notification 'work_order' has no en "
        "template: write work_order.en.txt (or work_order.txt, for every language) in "
        "templates/repair/",
        "templates/repair/repair_reminder.zh-Hans.txt:3:16: error template-unknown-name "
        "procedure 'repair' has no field 'phon'; did you mean 'phone'?",
        "templates/repair/rework_order.en.txt:2:1: error template-syntax Unexpected end of "
        "template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. "
        "The innermost block that needs to be closed is 'if'.",
        "templates/repair/回訪記錄表.zh-Hant.html:2:17: error template-unknown-name procedure "
        "'repair' has no role 'maintenanse'; did you mean 'maintenance'?",
        "templates/repair/回訪記錄表.zh-Hant.html:2:41: error template-unknown-name labels "
        "has no 'signatur' (one of: " + ", ".join(sorted(LABELS)) + ")",
        "templates/repair/回訪記錄表.zh-Hant.html:2:55: error template-unknown-name unknown "
        "name 'evnt' (one of: case, event, labels, lang, organisation, procedure, titles)",
    ]


NAMES = st.from_regex(NAME_PATTERN, fullmatch=True)


@given(name=NAMES)
@settings(max_examples=60, deadline=None)
def test_a_field_reference_is_reported_exactly_when_the_procedure_lacks_it(name):
    proc: Procedure = ENGINE.procedure("repair")
    env = FORMS.environment("repair", html=False)
    for source in (
        f"{{{{ case.fields.{name} }}}}",
        f"{{{{ titles.fields['{name}'] }}}}",
        f"{{% if case.fields.{name} %}}x{{% endif %}}",
    ):
        problems = unknown_names(env.parse(source), proc)
        assert bool(problems) is (name not in proc.fields), (source, problems)
        assert all(line == 1 for line, _, _ in problems)


def test_local_names_are_not_reported():
    env = FORMS.environment("repair", html=True)
    source = (
        "{% set sep = ': ' %}{% macro row(t, v) %}{{ t }}{{ sep }}{{ v }}{% endmacro %}"
        "{% for f in ['fault'] %}{{ row(titles.fields[f], case.fields[f]) }}{{ loop.index }}"
        "{% endfor %}"
    )
    assert unknown_names(env.parse(source), ENGINE.procedure("repair")) == []


def test_servflow_render_for_analysts(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    case_file = tmp_path / "case.json"
    case_file.write_text(json.dumps(CASES["repair"].model_dump(mode="json")), encoding="utf-8")
    code = main(["render", "repair", "work_order", "--case", str(case_file), "--lang", "en"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Case number: REP-2026-0001" in out
    assert "Address: [withheld]" in out
    callback_file = tmp_path / "callback.json"
    callback_file.write_text(
        json.dumps(CASES["callback"].model_dump(mode="json")), encoding="utf-8"
    )
    code = main(
        [
            "render",
            "callback",
            "回訪記錄表",
            "--case",
            str(callback_file),
            "--lang",
            "zh-Hans",
            "--as",
            "callback_officer",
            "--organisation",
            "Seaview",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "<h1>回访记录表</h1>" in out
    assert "Seaview" in out
    code = main(["render", "repair", "no_such", "--case", str(case_file)])
    assert code == 1
    assert "names no template or record 'no_such'" in capsys.readouterr().err
    case_file.write_text("{}", encoding="utf-8")
    code = main(["render", "repair", "work_order", "--case", str(case_file)])
    assert code == 2
    assert "is not a stored case" in capsys.readouterr().err


def test_a_case_of_another_procedure_or_language_is_refused():
    with pytest.raises(FormError, match="is a 'repair' case, not 'complaint'"):
        FORMS.render(ENGINE.procedure("complaint"), CASES["repair"], "complaint_reply", "en")
    with pytest.raises(FormError, match="unknown language 'fr'"):
        FORMS.render(ENGINE.procedure("repair"), CASES["repair"], "work_order", "fr")  # type: ignore[arg-type]


def test_a_file_for_every_language_stands_in_where_a_language_has_none(tmp_path, capsys):
    shutil.copytree(
        REPO / "procedures", tmp_path / "cat", ignore=shutil.ignore_patterns("scenarios")
    )
    folder = tmp_path / "cat" / "templates" / "callback"
    assert (folder / "回訪記錄表.html").is_file()
    (folder / "回訪記錄表.en.html").write_text(
        '{% extends "_form.html" %}{% block form_title %}Callback sheet{% endblock %}'
        "{% block rows %}{% endblock %}",
        encoding="utf-8",
    )
    forms, proc, case = Forms(tmp_path / "cat"), ENGINE.procedure("callback"), CASES["callback"]
    assert "<h1>Callback sheet</h1>" in forms.render(proc, case, "回訪記錄表", "en")
    assert "<h1>回訪記錄表</h1>" in forms.render(proc, case, "回訪記錄表", "zh-Hant")
    assert "<h1>回访记录表</h1>" in forms.render(proc, case, "回訪記錄表", "zh-Hans")
    # Without the shared file, the two languages that had no file of their own are missing.
    (folder / "回訪記錄表.html").unlink()
    lines = [line for line in _diagnostics(capsys, str(tmp_path / "cat")) if "回訪記錄表" in line]
    assert lines
    assert all("has no zh-Hant or zh-Hans template" in line for line in lines)
    assert all("(or 回訪記錄表.html, for every language)" in line for line in lines)


def test_a_table_shows_one_line_per_row_with_its_columns_titles():
    # The line items of a fee register: each row in the form's language, cell by cell;
    # a pii column is masked for every reader.
    case = CASES["fees"]
    form = FORMS.render(ENGINE.procedure("fees"), case, "收費登記表", "zh-Hant")
    assert (
        "收費項目：裝修管理費；標價（單價）：100；數量：100；金額：10000\n"
        "收費項目：裝修垃圾清運費；標價（單價）：2000；數量：1；金額：2000"
    ) in form
    english = FORMS.render(ENGINE.procedure("fees"), case, "收費登記表", "en")
    assert "Item: 裝修管理費; Published unit price: 100; Quantity: 100; Amount: 10000" in english
    proc = load_text(_SECRET_ROWS).procedure
    assert proc is not None
    secret = Case(
        id="T-1",
        procedure="ledger",
        procedure_version=1,
        digest="d",
        state="open",
        data={"rows": [{"who": "Ada", "amount": "5"}]},
        version=1,
        opened_at=NINE,
        updated_at=NINE,
    )
    shown = template_context(proc, secret, "en", viewer_roles={"clerk"})["case"]["fields"]
    assert shown["rows"] == "Payer: [withheld]; Amount: 5"


_SECRET_ROWS = """
servflow: 1
id: ledger
version: 1
title: {en: Ledger}
roles:
  clerk: {title: {en: Clerk}}
fields:
  rows:
    type: table
    title: {en: Rows}
    columns:
      who: {type: string, pii: true, title: {en: Payer}}
      amount: {type: decimal, title: {en: Amount}}
states:
  open: {title: {en: Open}}
  done: {title: {en: Done}, final: true}
start: {to: open, roles: [clerk], requires: [rows]}
transitions:
  finish: {from: open, to: done, roles: [clerk]}
"""
