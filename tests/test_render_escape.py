"""Markdown escaping of analyst text, read back by a real CommonMark parser."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from servflow.render.escape import code_span, markdown_paragraphs, markdown_text
from tests.parsers import html_structure, markdown_html


def _flat(text: str) -> str:
    return " ".join(text.split())


@settings(max_examples=500)
@given(st.text())
def test_any_text_is_one_paragraph_of_exactly_that_text(text: str) -> None:
    flat = _flat(text)
    tags, shown = html_structure(markdown_html(markdown_text(text)))
    if not flat:
        assert tags == []
    else:
        assert tags == [("p", ()), ("/p", ())]
        # markdown-it replaces NUL, as CommonMark says; nothing else changes.
        assert shown.rstrip("\n") == flat.replace("\x00", "\ufffd")


@settings(max_examples=300)
@given(st.text())
def test_any_text_is_one_code_span_of_exactly_that_text(text: str) -> None:
    flat = _flat(text)
    tags, shown = html_structure(markdown_html(f"x {code_span(text)}"))
    assert tags == [("p", ()), ("code", ()), ("/code", ()), ("/p", ())]
    assert shown.rstrip("\n") == "x " + (flat.replace("\x00", "\ufffd") or " ")


def test_paragraphs_stay_paragraphs() -> None:
    tags, shown = html_structure(markdown_html(markdown_paragraphs("# one\n\n\n  - two\n \n")))
    assert tags == [("p", ()), ("/p", ()), ("p", ()), ("/p", ())]
    assert shown.rstrip("\n") == "# one\n- two"


def test_names_stay_readable() -> None:
    # Underscores inside a word cannot make emphasis, so a name keeps its form.
    assert markdown_text("awaiting_callback") == "awaiting_callback"
    assert markdown_text("_x_") == "\\_x\\_"
    assert markdown_text("1. Dispatch") == "1\\. Dispatch"
    assert code_span("a `b` c") == "``a `b` c``"
