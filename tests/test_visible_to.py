"""`visible_to`: the roles that see a `pii` field's value on notifications and forms.

The key is checked like every reference to a role, is only for `pii` fields, leaves the
digest of a procedure without it as it was, and the SOP says who sees the field.
"""

from __future__ import annotations

import pytest

from servflow.procedures import load_text
from servflow.procedures.load import digest_of
from servflow.render.sop import render_sop

VISIBLE = """\
servflow: 1
id: visit
version: 1
title: {zh-Hant: 上門, zh-Hans: 上门, en: Visit}
roles:
  clerk: {title: {zh-Hant: 接待員, zh-Hans: 接待员, en: Clerk}}
  fixer: {title: {zh-Hant: 維修員, zh-Hans: 维修员, en: Fixer}}
fields:
  phone:
    type: string
    pii: true
    visible_to: [clerk, fixer]
    title: {zh-Hant: 電話, zh-Hans: 电话, en: Phone}
  name:
    type: string
    pii: true
    visible_to: [clerk]
    title: {zh-Hant: 姓名, zh-Hans: 姓名, en: Name}
  note: {type: text, title: {zh-Hant: 備註, zh-Hans: 备注, en: Note}}
states:
  open: {title: {zh-Hant: 處理中, zh-Hans: 处理中, en: Open}}
  done: {title: {zh-Hant: 完成, zh-Hans: 完成, en: Done}, final: true}
start:
  to: open
  roles: [clerk]
  effects:
    - {notify: fixer, template: visit_request}
transitions:
  finish: {from: open, to: done, roles: [fixer], accepts: [note]}
"""


def test_visible_to_names_roles_of_the_procedure_and_only_pii_fields():
    typo = load_text(VISIBLE.replace("visible_to: [clerk, fixer]", "visible_to: [clerk, fixr]"))
    errors = [d for d in typo.diagnostics if d.severity == "error"]
    assert [(d.code, d.line, d.column) for d in errors] == [("unknown-role", 12, 25)]
    assert "did you mean 'fixer'?" in errors[0].message
    plain = load_text(
        VISIBLE.replace("note: {type: text,", "note: {type: text, visible_to: [clerk],")
    )
    errors = [d for d in plain.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == ["invalid-value"]
    assert "only for `pii` fields" in errors[0].message


def test_a_procedure_without_visible_to_keeps_its_digest():
    # The key is left out of the dump when unset: every procedure written before it
    # keeps the digest its stored cases are pinned to (tests/test_saved_cases.py).
    without = load_text(VISIBLE.replace("    visible_to: [clerk, fixer]\n", "")).procedure
    assert without is not None
    assert "visible_to" not in without.fields["phone"].model_dump()
    assert "visible_to" not in without.fields["note"].model_dump()
    assert without.fields["name"].model_dump()["visible_to"] == ["clerk"]
    again = load_text(VISIBLE).procedure
    assert again is not None
    assert digest_of(again) != digest_of(without)


@pytest.mark.parametrize(
    ("lang", "note"),
    [
        ("zh-Hant", "通知及表單上只向以下崗位顯示：接待員、維修員"),
        ("zh-Hans", "通知及表单上只向以下岗位显示：接待员、维修员"),
        ("en", "shown on notifications and forms only to: Clerk, Fixer"),
    ],
)
def test_the_sop_says_who_sees_personal_data(lang, note):

    proc = load_text(VISIBLE).procedure
    assert proc is not None
    sop = render_sop(proc, lang)
    rows = {line.split(" | ")[1]: line for line in sop.splitlines() if line.count(" | ") > 3}
    assert note in rows["`phone`"]
    assert note.split("：")[0].split(":")[0] not in rows["`note`"]
