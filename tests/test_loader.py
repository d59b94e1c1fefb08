"""The loader: safe YAML with positions, all problems at once, only DefinitionError."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow import DefinitionError
from servflow.procedures import digest_of, load_procedure, load_text, read_yaml

REPO = Path(__file__).resolve().parent.parent
REPAIR = (REPO / "procedures" / "repair.yaml").read_text(encoding="utf-8")

MINI = """\
servflow: 1
id: mini
version: 1
title: {en: Mini}
roles:
  maintenance: {title: {en: Maintenance}}
fields:
  note: {type: text}
  amount: {type: decimal}
states:
  open: {title: {en: Open}}
  done: {title: {en: Done}, final: true}
start: {to: open, roles: [maintenance]}
transitions:
  finish: {from: open, to: done, roles: [maintenance]}
"""


def codes(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.line, d.column) for d in load_text(text, "t.yaml").diagnostics]


def test_a_valid_procedure_loads():
    proc = load_procedure(MINI)
    assert proc.id == "mini"
    assert proc.transitions["finish"][0].source == ["open"]


def test_every_problem_is_reported_at_once_with_positions_and_hints():
    text = MINI.replace(
        "roles: [maintenance]}\ntransitions", "roles: [maintenence]}\ntransitions"
    ).replace("to: done, roles", "to: dnoe, roles")
    with pytest.raises(DefinitionError) as info:
        load_procedure(text, file="mini.yaml")
    found = {(d.code, d.line, d.column): d.message for d in info.value.errors}
    assert (
        found[("unknown-role", 13, 27)] == "unknown role 'maintenence'; did you mean 'maintenance'?"
    )
    assert found[("unknown-state", 15, 28)] == "unknown state 'dnoe'; did you mean 'done'?"
    assert "\nmini.yaml:13:27: error unknown-role unknown role" in str(info.value)


def test_unknown_keys_suggest_the_right_one():
    text = MINI.replace("finish: {from: open", "finish: {form: open")
    (diag,) = [d for d in load_text(text, "t.yaml").diagnostics if d.code == "unknown-key"]
    assert (diag.line, diag.column) == (15, 12)
    assert diag.message == "unknown key 'form' in transitions.finish; did you mean 'from'?"


def test_duplicate_keys_are_errors():
    text = MINI.replace(
        "  done: {title: {en: Done}, final: true}\n",
        "  done: {title: {en: Done}, final: true}\n  open: {}\n",
    )
    assert ("duplicate-key", 13, 3) in codes(text)
    assert "first at line 11" in load_text(text, "t.yaml").diagnostics[0].message


def test_yaml_11_booleans_are_refused_as_names():
    text = MINI.replace("  finish:", "  on:")
    assert ("yaml-boolean-key", 15, 3) in codes(text)


def test_on_off_yes_no_stay_strings_as_values():
    data, _, problems = read_yaml("a: off\nb: yes\nc: 12:30\nd: 2026-10-01\ne: true\nf: 0x1f\n")
    assert problems == []
    assert data == {"a": "off", "b": "yes", "c": "12:30", "d": "2026-10-01", "e": True, "f": 31}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("a: !!python/object:os.system {}\n", "yaml-tag"),
        ("a: !custom 1\n", "yaml-tag"),
        ("a: &x [1]\n<<: *x\n", "yaml-merge"),
        ("? [a, b]\n: 1\n", "yaml-key"),
        ("a:\n\tb: 1\n", "yaml-syntax"),
        ("a: [1, 2\n", "yaml-syntax"),
        ("", "empty"),
        ("a: 1\n---\nb: 2\n", "yaml-syntax"),
        ("[" * 5000, "yaml-syntax"),
        ("a: 1\x00", "encoding"),
    ],
)
def test_unsafe_or_broken_yaml_gives_a_diagnostic(text, code):
    _, _, problems = read_yaml(text, "t.yaml")
    assert code in [p.code for p in problems]


def test_tabs_get_a_hint():
    (problem,) = read_yaml("a:\n\tb: 1\n", "t.yaml")[2]
    assert "tabs" in problem.message
    assert (problem.line, problem.column) == (2, 1)


def test_alias_bombs_are_bounded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    data, _, problems = read_yaml("\n".join(lines) + "\n", "bomb.yaml")
    assert data is None
    assert [p.code for p in problems] == ["too-large"]


def test_deep_nesting_is_bounded():
    text = "".join(f"{'  ' * i}k{i}:\n" for i in range(100)) + f"{'  ' * 100}v: 1\n"
    assert "too-large" in [p.code for p in read_yaml(text)[2]]


def test_huge_input_is_refused_before_parsing():
    assert [p.code for p in read_yaml(b"a: " + b"x" * 2_000_000)[2]] == ["too-large"]


def test_invalid_utf8_is_reported():
    assert [p.code for p in read_yaml(b"a: \xff\xfe\n")[2]] == ["encoding"]


def test_expressions_are_compiled_at_load_time_with_positions():
    text = MINI.replace(
        "finish: {from: open, to: done, roles: [maintenance]}",
        'finish: {from: open, to: done, roles: [maintenance], when: "amount > 10 and nte"}',
    )
    (diag,) = [d for d in load_text(text, "t.yaml").diagnostics if d.severity == "error"]
    assert diag.code == "unknown-name"
    assert "did you mean 'note'?" in diag.message
    # The name stands 16 characters into the quoted expression that starts at column 62.
    assert (diag.line, diag.column) == (15, 62 + 1 + 16)
    broken = MINI.replace("roles: [maintenance]}\n", "roles: [maintenance], when: 'amount >'}\n", 1)
    assert "expression-syntax" in [c for c, _, _ in codes(broken)]


def test_powers_and_dunder_access_are_refused():
    text = MINI.replace(
        "roles: [maintenance]}\ntransitions",
        "roles: [maintenance], when: 'amount ** 99 > 1'}\ntransitions",
    )
    assert "expression-syntax" in [c for c, _, _ in codes(text)]


GRAPH = """\
servflow: 1
id: g
version: 1
title: {en: G}
roles: {r: {title: {en: R}}}
states:
  a: {title: {en: A}}
  b: {title: {en: B}}
  c: {title: {en: C}}
  island: {title: {en: Island}}
  end: {title: {en: End}, final: true}
start: {to: a, roles: [r]}
transitions:
  go: {from: a, to: b, roles: [r]}
  loop: {from: b, to: c, roles: [r]}
  back: {from: c, to: b, roles: [r]}
  finish: {from: a, to: end, roles: [r]}
  out: {from: end, to: a, roles: [r]}
"""


def test_graph_checks():
    found = {c for c, _, _ in codes(GRAPH)}
    assert {"unreachable-state", "no-way-to-final", "final-has-exit"} <= found
    diags = {d.code: d for d in load_text(GRAPH, "g.yaml").diagnostics}
    assert (diags["unreachable-state"].line, diags["unreachable-state"].column) == (10, 3)
    assert "'island'" in diags["unreachable-state"].message


def test_dead_ends():
    text = MINI.replace(
        "  done: {title: {en: Done}, final: true}\n",
        "  done: {title: {en: Done}, final: true}\n  stuck: {title: {en: Stuck}}\n",
    ).replace(
        "transitions:\n", "transitions:\n  jam: {from: open, to: stuck, roles: [maintenance]}\n"
    )
    assert ("dead-end", 13, 3) in codes(text)


def test_overlapping_guards_are_a_warning_with_an_example():
    text = MINI.replace(
        "  finish: {from: open, to: done, roles: [maintenance]}\n",
        "  finish:\n"
        "    - {from: open, to: done, roles: [maintenance], when: 'amount > 100'}\n"
        "    - {from: open, to: done, roles: [maintenance], when: 'amount >= 50'}\n",
    )
    result = load_text(text, "t.yaml")
    assert result.procedure is not None
    (warning,) = [d for d in result.diagnostics if d.code == "ambiguous-transition"]
    assert warning.severity == "warning"
    assert "amount=Decimal('101')" in warning.message
    exclusive = text.replace("'amount >= 50'", "'amount <= 100'")
    assert "ambiguous-transition" not in [c for c, _, _ in codes(exclusive)]


def test_the_digest_ignores_layout_and_comments():
    reformatted = "# a comment\n" + MINI.replace("title: {en: Mini}", "title:\n  en: Mini")
    assert digest_of(load_procedure(MINI)) == digest_of(load_procedure(reformatted))
    changed = MINI.replace("title: {en: Mini}", "title: {en: Maxi}")
    assert digest_of(load_procedure(MINI)) != digest_of(load_procedure(changed))


def _only_definition_errors(text: str | bytes) -> None:
    source = text if isinstance(text, str) else text.decode("utf-8", "replace")
    error: DefinitionError | None = None
    try:
        load_procedure(source, file="x.yaml")
    except DefinitionError as exc:
        error = exc
    if error is not None:
        assert error.diagnostics, "a DefinitionError always says why"
        assert all(d.file == "x.yaml" for d in error.diagnostics)
    result = load_text(text, "x.yaml")
    assert result.procedure is not None or result.diagnostics


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_arbitrary_input_raises_only_definition_errors(text):
    _only_definition_errors(text)


yaml_tokens = st.sampled_from(
    [
        "\n",
        "  ",
        ":",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&a ",
        "*a",
        "!!str ",
        "on",
        "off",
        "yes",
        "~",
        "'",
        '"',
        "#",
        "\t",
        "é",
        "0x",
        "1e9",
        "<<: ",
        "? ",
        "|",
        ">",
    ]
)


@st.composite
def mutated_repair(draw: st.DrawFn) -> str:
    lines = REPAIR.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.integers(0, 4))
        if action == 0:
            del lines[i]
        elif action == 1:
            lines.insert(i, lines[draw(st.integers(0, len(lines) - 1))])
        elif action == 2:
            j = draw(st.integers(0, max(len(lines[i]) - 1, 0)))
            lines[i] = lines[i][:j] + draw(yaml_tokens) + lines[i][j + 1 :]
        elif action == 3:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = lines[i].replace(
                draw(
                    st.sampled_from(
                        [
                            "recorded",
                            "repair_reception",
                            "priority",
                            "to:",
                            "from:",
                            "roles",
                            "2wd",
                            "final: true",
                        ]
                    )
                ),
                draw(st.sampled_from(["recorded", "x", "", "on", "15q", "roles:"])),
            )
    return "".join(lines)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_repair())
def test_mutated_procedures_raise_only_definition_errors(text):
    _only_definition_errors(text)


def test_the_standard_catalogue_is_clean():
    from servflow.procedures import load_catalogue

    catalogue = load_catalogue([REPO / "procedures"])
    assert [str(d) for d in catalogue.diagnostics] == []
    assert {p.id for p in catalogue.procedures} >= {
        "repair",
        "callback",
        "complaint",
        "renovation",
        "keys",
        "archives",
        "archive_inspection",
        "enquiry",
        "fees",
        "fees_daily_close",
        "fees_monthly_statement",
        "sales_subscription",
        "sales_signing",
        "sales_mortgage",
        "sales_title",
        "sales_handover",
        "sales_change",
    }


def test_until_targets_need_a_date_field():
    text = MINI + (
        "time_limits:\n"
        "  by_then:\n"
        "    starts: {entered: open}\n"
        "    stops: {left: open}\n"
        "    within:\n"
        "      - {until: note}\n"
        "      - {until: nope}\n"
    )
    found = {(c, line) for c, line, _ in codes(text)}
    assert ("until-not-a-date", 21) in found
    assert ("unknown-field", 22) in found
    both = text + "      - {limit: 2h, until: note}\n"
    assert [(c, line) for c, line, _ in codes(both)] == [("invalid-value", 23)]


def test_procedures_built_in_python_are_checked_by_the_engine():
    from servflow import Engine
    from servflow.model import Procedure
    from servflow.procedures import read_yaml

    data = read_yaml(MINI.replace("to: done, roles", "to: gone, roles"))[0]
    proc = Procedure.model_validate(data)
    with pytest.raises(DefinitionError) as info:
        Engine([proc])
    assert "unknown-state" in [d.code for d in info.value.errors]
    assert Engine([load_procedure(MINI)]).procedure("mini").id == "mini"


def test_a_diagnostic_quotes_a_long_value_clipped():
    text = (REPO / "procedures" / "repair.yaml").read_text(encoding="utf-8")
    long_title = "x" * 5000
    bad = text.replace("version: ", f"version: '{long_title}'\n_was_version: ", 1)
    result = load_text(bad, "repair.yaml")
    assert not result.ok
    assert all(len(d.message) < 400 for d in result.diagnostics)
    assert any("..." in d.message for d in result.diagnostics)


def test_text_given_a_file_name_is_text_even_when_it_looks_like_a_path():
    with pytest.raises(DefinitionError) as caught:
        load_procedure("repair.yaml", file="x.yaml")
    assert {d.file for d in caught.value.diagnostics} == {"x.yaml"}
