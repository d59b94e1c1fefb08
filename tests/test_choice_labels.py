"""Choices with titles per language, and forms and sources named per language.

The case stores the value; every reader (SOP, diagram, scenario timeline, demo timeline,
rejection message) sees the title. The plain forms keep their meaning and their digest.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servflow import Actor, Engine, Rejected
from servflow.cli import main
from servflow.commands.demo import format_timeline
from servflow.engine.values import FieldValueError, normalise
from servflow.model import FieldSpec, Procedure
from servflow.procedures import digest_of, load_text
from servflow.render import render_diagram, render_sop
from servflow.render.common import labelled_expression
from tests.parsers import dot_graph

AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
CLERK = Actor(id="u1", roles={"clerk"})

FILE = """\
servflow: 1
id: leak
version: 1
title: {zh-Hant: 漏水, zh-Hans: 漏水, en: Leak}
source: {zh-Hant: 客服部管理制度, zh-Hans: 客服部管理制度（简体）, en: Customer service rules}
roles:
  clerk: {title: {zh-Hant: 接待員, zh-Hans: 接待员, en: Clerk}}
fields:
  priority:
    type: choice
    choices:
      emergency: {zh-Hant: 緊急, zh-Hans: 紧急, en: Emergency}
      normal: {zh-Hant: 一般, zh-Hans: 一般, en: Normal}
    default: normal
    title: {zh-Hant: 緊急程度, zh-Hans: 紧急程度, en: Priority}
    form: {zh-Hant: 住戶報修記錄表, zh-Hans: 住户报修记录表, en: Repair record}
  kind: {type: choice, choices: [pipe, power], title: {zh-Hant: 類別, zh-Hans: 类别, en: Kind}}
states:
  open: {title: {zh-Hant: 處理中, zh-Hans: 处理中, en: Open}}
  closed: {title: {zh-Hant: 已結案, zh-Hans: 已结案, en: Closed}, final: true}
start:
  to: open
  roles: [clerk]
  effects: [{record: Repair record}]
transitions:
  close:
    from: open
    to: closed
    roles: [clerk]
    when: "priority == 'emergency' or kind == 'pipe'"
"""

TITLES = {
    "zh-Hant": ("緊急", "住戶報修記錄表", "客服部管理制度"),
    "zh-Hans": ("紧急", "住户报修记录表", "客服部管理制度（简体）"),
    "en": ("Emergency", "Repair record", "Customer service rules"),
}


def _leak(text: str = FILE) -> Procedure:
    result = load_text(text, file="leak.yaml")
    assert result.procedure is not None, result.diagnostics
    return result.procedure


def test_the_mapping_form_stores_the_value_and_keeps_the_file_order():
    spec = _leak().fields["priority"]
    assert spec.choice_values == ("emergency", "normal")
    assert spec.choice_title("emergency")["en"] == "Emergency"
    assert spec.choice_title("nothing") == {}


def test_the_list_form_dumps_as_before_so_its_digest_is_kept():
    listed = _leak().fields["kind"]
    assert listed.model_dump()["choices"] == ["pipe", "power"]
    assert listed.choice_title("pipe") == {}
    plain = _leak(
        FILE.replace(
            "form: {zh-Hant: 住戶報修記錄表, zh-Hans: 住户报修记录表, en: Repair record}",
            "form: 住戶報修記錄表",
        )
    )
    assert plain.fields["priority"].form == "住戶報修記錄表"
    assert digest_of(plain) != digest_of(_leak())  # a title is meaning (docs/language.md)


@pytest.mark.parametrize("lang", sorted(TITLES))
def test_the_sop_shows_titles_forms_and_source_in_its_language(lang):
    choice, form, source = TITLES[lang]
    sop = render_sop(_leak(), lang=lang)
    assert f"`emergency` {choice}" in sop
    assert f"《{form}》" in sop
    assert source in sop
    others = [t for other, titles in TITLES.items() if other != lang for t in titles[1:2]]
    assert not any(f"《{t}》" in sop for t in others)
    # the record effect names the form by one of its texts: one form, filed at the start
    assert sop.count("### 《") == 1


@pytest.mark.parametrize("lang", sorted(TITLES))
def test_the_diagram_shows_a_guard_with_the_choice_title(lang):
    choice = TITLES[lang][0]
    assert f"「{choice}」" in render_diagram(_leak(), "mermaid", lang=lang)
    edges = dot_graph(render_diagram(_leak(), "dot", lang=lang)).edges
    assert any(f"「{choice}」" in label for _, _, label in edges)


def test_only_a_compared_choice_with_one_title_is_replaced():
    leak = _leak()
    # a plain list has no titles; a text not compared with the field stays as written
    assert labelled_expression(leak, "kind == 'pipe'", "en") == "kind == 'pipe'"
    assert labelled_expression(leak, "state == 'emergency'", "en") == "state == 'emergency'"
    assert labelled_expression(leak, 'priority in ["normal"]', "en") == "priority in [「Normal」]"
    assert labelled_expression(leak, "priority ==", "en") == "priority =="  # not an expression


def test_a_title_sent_as_a_value_is_refused_naming_the_value():
    engine = Engine([_leak()])
    with pytest.raises(Rejected) as caught:
        engine.start("leak", actor=CLERK, at=AT, data={"priority": "Emergency"})
    assert caught.value.reason == "invalid_data"
    assert caught.value.details["field"] == "priority"
    assert "emergency (緊急 / 紧急 / Emergency), normal (一般 / Normal)" in caught.value.message
    assert "did you mean 'emergency'? (the value, not its title)" in caught.value.message
    case = engine.start("leak", actor=CLERK, at=AT, data={"priority": "emergency"}).case
    assert case.data["priority"] == "emergency"


_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8
)


@given(
    st.dictionaries(
        _TEXT,
        st.fixed_dictionaries({}, optional={"zh-Hant": _TEXT, "zh-Hans": _TEXT, "en": _TEXT}),
        min_size=1,
        max_size=5,
    ),
    _TEXT,
)
def test_exactly_the_values_are_accepted_whatever_the_titles(choices, other):
    spec = FieldSpec.model_validate({"type": "choice", "choices": choices})
    assert spec.choice_values == tuple(choices)
    for value in choices:
        assert normalise(spec, value) == value
    if other not in choices:
        with pytest.raises(FieldValueError):
            normalise(spec, other)


def test_a_scenario_timeline_shows_the_title_in_the_chosen_language(tmp_path: Path, capsys):
    (tmp_path / "leak.yaml").write_text(FILE, encoding="utf-8")
    (tmp_path / "closed.yaml").write_text(
        "scenario: closed at once\nprocedure: leak\ntimezone: UTC\n"
        "actors:\n  clerk: {roles: [clerk]}\nsteps:\n"
        '  - {start: {as: clerk, at: "2026-11-23 09:00", data: {priority: emergency}}}\n'
        '  - {fire: close, as: clerk, at: "2026-11-23 09:05", expect: {state: closed}}\n',
        encoding="utf-8",
    )
    argv = ["test", str(tmp_path / "closed.yaml"), "--procedures", str(tmp_path), "-v"]
    for lang, title in (("en", "Emergency"), ("zh-Hans", "紧急")):
        assert main([*argv, "--lang", lang]) == 0
        out = capsys.readouterr().out
        assert re.search(rf"priority='emergency' \({title}\)", out), out


def test_the_demo_timeline_shows_the_title_in_the_chosen_language():
    engine = Engine([_leak()])
    events = engine.start("leak", actor=CLERK, at=AT, data={"priority": "emergency"}).events
    # The field under its title, the choice with its title, both in the language asked for.
    assert any(
        "Priority: 'emergency' (Emergency)" in line
        for line in format_timeline(engine, events, "en")
    )
    # Without a language the titles are the catalogue's default (zh-Hant), the choice bare.
    plain = format_timeline(engine, events)
    assert any("緊急程度: 'emergency'" in line for line in plain)
    assert not any("Emergency" in line for line in plain)
