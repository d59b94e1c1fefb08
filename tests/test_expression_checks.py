"""`servflow check` on expressions: the ambiguity search over every field type.

The search tries small sets of values for the fields two guards read. It once built
values a field could never hold (an empty text for a date) and crashed on ordinary
guards; now every candidate goes through the field's own validation first. The property
below draws a field of every type and options, and two guards over it from templates
with constants of every kind, and asserts that loading only ever yields diagnostics.
"""

from __future__ import annotations

import typing

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow.model import FieldType
from servflow.procedures import load_text

TYPES = typing.get_args(FieldType)
OPTIONS = {
    "choice": ["choices: [urgent, normal]", "choices: ['1', '2']"],
    "string": ["", "pattern: '[a-z]+'", "max_length: 3"],
    "text": ["", "max_length: 5"],
    "integer": ["", "minimum: 0", "maximum: 10"],
    "decimal": ["", "minimum: 0.5, maximum: 99"],
    "list": ["", "max_length: 2"],
}
CONSTANTS = [
    "0", "1", "-1", "2.5", "'a'", "''", "'urgent'", "'2026-01-01'",
    "'2026-01-01T00:00:00+00:00'", "true", "false", "none", "[]", "['a']",
]  # fmt: skip
TEMPLATES = [
    "f is none", "f is not none", "f == {c}", "f != {c}", "f > {c}", "f <= {c}",
    "f in [{c}, {d}]", "{c} in f", "f|length > {c}", "f", "not f", "f and g == {c}",
    "f == g", "f|lower == {c}", "f ~ 'x' == {c}", "f + {c} > {d}",
]  # fmt: skip


@st.composite
def procedures(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(TYPES))
    option = draw(st.sampled_from(OPTIONS.get(kind, [""])))
    if kind == "choice" and not option:
        option = "choices: [urgent, normal]"
    other = draw(st.sampled_from(TYPES))
    other_option = "choices: [a, b]" if other == "choice" else ""
    guards = []
    for _ in range(2):
        template = draw(st.sampled_from(TEMPLATES))
        c, d = draw(st.sampled_from(CONSTANTS)), draw(st.sampled_from(CONSTANTS))
        guards.append(template.format(c=c, d=d))
    spec = f"type: {kind}" + (f", {option}" if option else "")
    other_spec = f"type: {other}" + (f", {other_option}" if other_option else "")
    return (
        "servflow: 1\nid: p\nversion: 1\ntitle: {en: P}\n"
        "roles: {r: {title: {en: R}}}\n"
        f"fields:\n  f: {{{spec}, title: {{en: F}}}}\n  g: {{{other_spec}, title: {{en: G}}}}\n"
        "states:\n  a: {title: {en: A}}\n  b: {title: {en: B}, final: true}\n"
        "start: {to: a, roles: [r]}\n"
        "transitions:\n  go:\n"
        + "".join(
            f"    - {{from: a, to: b, roles: [r], when: '{g.replace(chr(39), chr(39) * 2)}'}}\n"
            for g in guards
        )
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=procedures())
def test_the_ambiguity_search_only_ever_produces_diagnostics(text: str) -> None:
    result = load_text(text, "p.yaml")  # raises on a crash of the checks
    assert all(d.code != "internal-error" for d in result.diagnostics)


@given(kind=st.sampled_from(TYPES))
def test_is_none_and_is_not_none_never_overlap(kind: str) -> None:
    spec = f"type: {kind}" + (", choices: [a, b]" if kind == "choice" else "")
    spec += ", columns: {c: {type: string}}" if kind == "table" else ""
    text = (
        "servflow: 1\nid: p\nversion: 1\ntitle: {en: P}\n"
        "roles: {r: {title: {en: R}}}\n"
        f"fields:\n  f: {{{spec}, title: {{en: F}}}}\n"
        "states:\n  a: {title: {en: A}}\n  b: {title: {en: B}, final: true}\n"
        "start: {to: a, roles: [r]}\n"
        "transitions:\n  go:\n"
        "    - {from: a, to: b, roles: [r], when: 'f is none'}\n"
        "    - {from: a, to: b, roles: [r], when: 'f is not none'}\n"
        "    - {from: a, to: b, roles: [r], when: 'f is not none and f == f'}\n"
    )
    codes = [d.code for d in load_text(text, "p.yaml").diagnostics]
    # Branches 2 and 3 overlap (any value of the field): found for every type.
    assert codes.count("ambiguous-transition") == 1, codes
