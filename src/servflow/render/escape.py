"""Analyst text made inert for the Markdown of generated SOPs.

Everything a procedure file says in words (titles, descriptions, form names, warning
times...) reaches the SOP through :func:`markdown_text`, and every expression or value
shown as code through :func:`code_span`. The SOP is kept in repositories and wikis that
turn Markdown into HTML, so a title must stay a title: ``<script>`` or ``<img onerror>``
must not become an element (stored XSS for every reader of the SOP), and ``# heading``,
``*emphasis*``, ``[link](url)``, a pipe in a table cell or a newline must not change the
document's structure. Backslash escapes are CommonMark's own way to write a punctuation
character literally, so the text reads the same once rendered.
"""

from __future__ import annotations

import re

__all__ = ["code_span", "markdown_paragraphs", "markdown_text"]

# Characters with a meaning anywhere in a line: inline HTML and entities (< > &), code
# (`), emphasis (* ~), links and images ([ ]), table cells (|), headings (#), and the
# escape character itself.
_ALWAYS = frozenset("\\`*[]<>&|#~")

# At the start of a line (a description paragraph, a table cell): list items, quotes,
# setext underlines, ordered list numbers such as "1." or "1)".
_LINE_START = re.compile(r"^([-+=]|\d{1,9}(?=[.)]))")


def _underscore_is_literal(text: str, i: int) -> bool:
    # Between two letters or digits an underscore cannot open or close emphasis
    # (CommonMark's flanking rules), so `in_progress` can stay as written.
    return 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()


def markdown_text(value: object) -> str:
    """``value`` as one line of Markdown that renders as exactly its text."""
    text = " ".join(str(value).split())
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch in _ALWAYS or (ch == "_" and not _underscore_is_literal(text, i)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    escaped = "".join(out)
    match = _LINE_START.match(escaped)
    if match:
        # "1." -> "1\." ; "-" -> "\-": the text starts a paragraph, not a list.
        end = match.end()
        escaped = (
            escaped[:end] + "\\" + escaped[end:] if match.group(1)[0].isdigit() else "\\" + escaped
        )
    return escaped


def markdown_paragraphs(value: object) -> str:
    """Text with blank-line-separated paragraphs, each one made inert."""
    paragraphs = [p for p in re.split(r"\n\s*\n", str(value)) if p.strip()]
    return "\n\n".join(markdown_text(p) for p in paragraphs)


def code_span(value: object) -> str:
    """``value`` on one line as inline code: a fence longer than any run of backticks in it.

    Nothing is interpreted inside a code span (no HTML, no escapes), so only the fence
    and the padding need care.
    """
    text = " ".join(str(value).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if not text:
        return "` `"  # a code span of one space: an empty pair of backticks is not one
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
