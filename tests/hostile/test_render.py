"""Generated documents keep their structure whatever the analyst wrote, read by real parsers.

For every text of the corpus (and for arbitrary text and state names, by hypothesis):
Graphviz ``dot`` reads the dot diagram and finds exactly the states as nodes; Mermaid's own
parser reads the Mermaid diagram and finds exactly the states; the SOP's Markdown, turned
into HTML by markdown-it, has the same elements and attributes as the SOP of the same
procedure with plain words, and shows the text as written. A ``pii`` field's default
appears in none of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from servflow.model import LANGUAGES, NAME_PATTERN, Procedure
from servflow.procedures.load import load_text
from servflow.render import localized, render_dot, render_mermaid, render_sop
from tests.hostile.render import PII_DEFAULT, STATE_NAMES, TEXTS, procedure_json
from tests.parsers import MermaidParser, dot_graph, html_structure, markdown_html

NAMES = ("recorded", "dispatched", "closed")


@pytest.fixture(scope="module")
def mermaid() -> Iterator[MermaidParser]:
    parser = MermaidParser()
    yield parser
    parser.close()


def _load(text: str, names: tuple[str, ...] = NAMES, description: str | None = None) -> Procedure:
    result = load_text(procedure_json(text, names, description=description), "hostile.yaml")
    assert result.procedure is not None, [str(d) for d in result.diagnostics]
    return result.procedure


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


def _neutral(text: str) -> str:
    """Plain words in the same shape: one word a paragraph, or the same blank text."""
    return "\n\n".join("x" for _ in _paragraphs(text)) if text.strip() else text


def _check_dot(proc: Procedure, names: tuple[str, ...], lang: str) -> None:
    graph = dot_graph(render_dot(proc, lang))
    assert graph.name == proc.id
    assert set(graph.nodes) == {*names, "__start__"}
    assert len(graph.edges) == len(names)  # the start, then one step between neighbours


def _check_mermaid(
    parser: MermaidParser, proc: Procedure, names: tuple[str, ...], lang: str
) -> None:
    text = render_mermaid(proc, lang)
    parsed = parser.parse(text)
    assert parsed["ok"], f"{parsed.get('error')}\n{text}"
    assert {s["id"] for s in parsed["states"]} == {f"s_{n}" for n in names} | {
        "root_start",
        "root_end",
    }
    assert len(parsed["edges"]) == len(names) + 1  # and the final state's end
    front = yaml.safe_load(text.split("---\n")[1])
    title = " ".join(localized(proc.title, lang, proc.id).split())
    assert front["title"] == f"{title} · {proc.id} v{proc.version}"


def _check_sop(proc: Procedure, plain: Procedure, lang: str, shown: list[str]) -> None:
    html = markdown_html(render_sop(proc, lang))
    tags, text = html_structure(html)
    plain_tags, _ = html_structure(markdown_html(render_sop(plain, lang)))
    assert tags == plain_tags, html
    for words in shown:
        assert words in text
    # The diagram is one code block, holding the diagram exactly.
    diagram = render_mermaid(proc, lang)
    assert html.count('<code class="language-mermaid">') == 1
    assert diagram in html_structure(html.split('<code class="language-mermaid">')[1])[1]


@pytest.mark.parametrize("text", TEXTS, ids=repr)
def test_hostile_text_is_text_in_every_document(mermaid: MermaidParser, text: str) -> None:
    proc, plain = _load(text), _load(_neutral(text))
    for lang in LANGUAGES:
        _check_dot(proc, NAMES, lang)
        _check_mermaid(mermaid, proc, NAMES, lang)
        _check_sop(proc, plain, lang, _paragraphs(text))


@pytest.mark.parametrize("name", STATE_NAMES)
def test_any_valid_state_name_is_a_state(mermaid: MermaidParser, name: str) -> None:
    names = ("recorded", name, "closed")
    proc = _load("x", names)
    _check_dot(proc, names, "en")
    _check_mermaid(mermaid, proc, names, "en")


def test_no_pii_default_in_any_document() -> None:
    proc = _load("x")
    assert proc.fields["phone"].pii
    assert proc.fields["phone"].default == PII_DEFAULT
    for lang in LANGUAGES:
        for document in (
            render_sop(proc, lang),
            render_mermaid(proc, lang),
            render_dot(proc, lang),
        ):
            assert PII_DEFAULT not in document
        # The field itself is shown, flagged confidential, and only that.
        assert "🔒" in render_sop(proc, lang)


state_names = st.lists(
    st.one_of(st.sampled_from(STATE_NAMES), st.from_regex(NAME_PATTERN, fullmatch=True)),
    min_size=2,
    max_size=5,
    unique=True,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=40), description=st.text(max_size=80), names=state_names)
def test_arbitrary_words_and_names_never_change_the_structure(
    mermaid: MermaidParser, text: str, description: str, names: list[str]
) -> None:
    result = load_text(procedure_json(text, tuple(names), description=description), "h.yaml")
    assume(result.procedure is not None)
    assert result.procedure is not None
    plain = _load(_neutral(text), tuple(names), description=_neutral(description))
    lang = "en"
    _check_dot(result.procedure, tuple(names), lang)
    _check_mermaid(mermaid, result.procedure, tuple(names), lang)
    _check_sop(result.procedure, plain, lang, [])
    for document in (
        render_sop(result.procedure, lang),
        render_mermaid(result.procedure, lang),
        render_dot(result.procedure, lang),
    ):
        assert PII_DEFAULT not in document
