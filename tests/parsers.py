"""Real parsers for what servflow generates: Graphviz ``dot``, Mermaid, and Markdown.

A renderer's escaping is only as good as the parser that reads its output, so the tests
ask the real ones: ``dot`` (Debian package ``graphviz``), Mermaid's own grammar run
headless under Node.js (``tests/js``, installed by ``.ci/run`` with ``npm ci``), and
markdown-it-py for the SOP's Markdown, whose HTML is then read with ``html.parser``.

When ``dot`` or the Node modules are missing the tests that need them are skipped, unless
``SERVFLOW_REQUIRE_PARSERS=1`` (set by ``.ci/run``), which turns a missing parser into a
failure so that CI cannot pass without them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

__all__ = ["MermaidParser", "dot_graph", "html_structure", "markdown_html", "need_dot"]

JS = Path(__file__).resolve().parent / "js"
REQUIRED = os.environ.get("SERVFLOW_REQUIRE_PARSERS") == "1"


def _missing(what: str) -> None:
    if REQUIRED:
        pytest.fail(f"{what} is missing and SERVFLOW_REQUIRE_PARSERS=1")
    pytest.skip(f"{what} is not installed (see .ci/run)")


def need_dot() -> str:
    dot = shutil.which("dot")
    if dot is None:
        _missing("Graphviz `dot`")
    assert dot is not None
    return dot


@dataclass(frozen=True)
class DotGraph:
    name: str
    nodes: dict[str, str]  # node name -> label as dot read it
    edges: list[tuple[str, str, str]]  # (tail, head, label)


def dot_graph(text: str) -> DotGraph:
    """``text`` as Graphviz reads it; fails the test with dot's message if it cannot."""
    result = subprocess.run(
        [need_dot(), "-Tjson0"], input=text.encode(), capture_output=True, timeout=30
    )
    if result.returncode != 0 or result.stderr.strip():
        pytest.fail(f"dot refused the diagram: {result.stderr.decode(errors='replace')}\n{text}")
    graph = json.loads(result.stdout)
    objects = graph.get("objects", [])
    names = [o["name"] for o in objects]
    return DotGraph(
        name=graph["name"],
        nodes={o["name"]: o.get("label", "") for o in objects},
        edges=[
            (names[e["tail"]], names[e["head"]], e.get("label", "")) for e in graph.get("edges", [])
        ],
    )


class MermaidParser:
    """One Node.js process running Mermaid's parser, fed one diagram at a time."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not (JS / "node_modules" / "mermaid").is_dir():
            _missing("Mermaid's parser (node and tests/js/node_modules)")
        assert node is not None
        self.process = subprocess.Popen(
            [node, str(JS / "mermaid_parse.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def parse(self, text: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(text) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            pytest.fail("the Mermaid parser process stopped")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()


def markdown_html(text: str) -> str:
    """The HTML a CommonMark renderer with GFM tables makes of ``text``."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(("/" + tag, ()))

    def handle_comment(self, data: str) -> None:
        self.tags.append(("!--", ((data, None),)))

    def handle_decl(self, decl: str) -> None:
        self.tags.append(("!", ((decl, None),)))

    def handle_pi(self, data: str) -> None:
        self.tags.append(("?", ((data, None),)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_structure(html: str) -> tuple[list[tuple[str, tuple[tuple[str, str | None], ...]]], str]:
    """Every element, attribute, comment and declaration of ``html`` in order, and its text."""
    parser = _Structure()
    parser.feed(html)
    parser.close()
    return parser.tags, "".join(parser.text)
