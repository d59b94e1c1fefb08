"""The renderer corpus: analyst text and state names that once changed generated documents.

``TEXTS`` are titles and descriptions that Markdown or HTML would read as structure
(elements, headings, links, table cells, code) or that Mermaid and dot would read as
syntax; ``STATE_NAMES`` are valid state names that are words of Mermaid's grammar.
:func:`procedure` puts one text in every place a procedure file holds words, so a test
can compare the document with the one made from a neutral text: the structure must be the
same, and the text must come out as written.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["PII_DEFAULT", "STATE_NAMES", "TEXTS", "procedure", "procedure_json"]

PII_DEFAULT = "PII-13800138000"

TEXTS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<a href='javascript:alert(1)'>click</a>",
    "<!-- comment --> <![CDATA[x]]> <?php ?> <!DOCTYPE html>",
    "&lt;b&gt; &amp; &#60;script&#62; &copy;",
    "# Heading",
    "## Heading ##",
    "Title\n# Heading on a new line",
    "Title\n\n## Heading after a blank line\n\n- list",
    "=====",
    "-----",
    "***",
    "- item",
    "+ item",
    "1. item",
    "1) item",
    "> quote",
    "`code`",
    "``double `code` ``",
    "```\nfenced\n```",
    "~~~mermaid\ngraph TD\n~~~",
    "**bold** _em_ *em* __strong__ ~~strike~~",
    "[link](javascript:alert(1)) ![img](x.png) <https://example.com>",
    "[ref]: https://example.com",
    "a | b | c",
    "| cell |\n|---|\n| row |",
    "back\\slash \\| \\` \\* \\\\",
    "    indented code",
    "trailing spaces  \nhard break",
    "\\",
    "%%{init: {'theme': 'dark'}}%%",
    "%% comment",
    'state "x" as y',
    "a --> b : c",
    "[*] --> x",
    "style x fill:#f00",
    "classDef x fill:#f00; class y x",
    "click x call alert()",
    "note right of x : y",
    "end",
    "#quot; #35; #lt;",
    "a;b:c{d}e",
    "\"quoted\" 'single'",
    'label="x"] ; "a" -> "b" [label="y',
    "}; digraph evil {",
    "\\N \\G \\l \\n \\r",
    "<<b>HTML label</b>>",
    "---\ntitle: x\n---",
    "\u2028line\u2029separator\x85nel",
    "\ufeffbom",
    "tab\there",
    "",
    "   ",
    "報修 <b>緊急</b>｜全形",
]

# Valid state names (NAME_PATTERN) that are words of Mermaid's state diagram grammar or of
# dot's; every one must be a state like any other.
STATE_NAMES = [
    "style",
    "default",
    "scale",
    "acctitle",
    "accdescr",
    "state",
    "note",
    "end",
    "direction",
    "class",
    "classdef",
    "click",
    "as",
    "left",
    "right",
    "of",
    "href",
    "call",
    "callback",
    "link",
    "linkstyle",
    "title",
    "graph",
    "node",
    "edge",
    "digraph",
    "subgraph",
    "strict",
    "fork",
    "join",
    "choice",
    "concurrent",
    "tb",
    "lr",
    "bt",
    "rl",
    "root_start",
    "root_end",
    "start",
    "s_style",
]


def procedure(
    text: str = "x",
    names: tuple[str, ...] = ("recorded", "dispatched", "closed"),
    *,
    description: str | None = None,
) -> dict[str, Any]:
    """A valid procedure with ``text`` in every place that holds words, and states ``names``
    (the first is where a case starts, the last is final, each leads to the next)."""
    words = {"zh-Hant": text, "zh-Hans": text, "en": text}
    about = dict.fromkeys(words, description if description is not None else text)
    states: dict[str, Any] = {name: {"title": words} for name in names}
    states[names[-1]]["final"] = True
    if text.strip():  # a state between the first and the last waits, saying what for
        for name in names[1:-1]:
            states[name]["waits"] = words
    transitions = {
        f"step_{i}": {
            "from": names[i],
            "to": names[i + 1],
            "roles": ["desk"],
            "title": words,
            "effects": [{"notify": "desk", "template": text or "t", "record": text or "form"}],
        }
        for i in range(len(names) - 1)
    }
    return {
        "servflow": 1,
        "id": "hostile",
        "version": 1,
        "title": words,
        "description": about,
        "source": text or None,
        "calendar": "always",
        "roles": {"desk": {"title": words, "description": about, "rank": 1}},
        "fields": {
            "phone": {
                "type": "string",
                "pii": True,
                "title": words,
                "description": about,
                "default": PII_DEFAULT,
                "form": text or None,
            },
            "note": {
                "type": "text",
                "title": words,
                "description": about,
                "default": text or "d",
                "form": text or None,
            },
            "kind": {"type": "choice", "choices": [text or "c", "other"], "title": words},
            "items": {
                "type": "table",
                "title": words,
                "columns": {
                    "what": {"type": "string", "title": words},
                    "cost": {"type": "decimal"},
                },
            },
        },
        "states": states,
        "start": {"to": names[0], "roles": ["desk"], "title": words},
        "transitions": transitions,
        "time_limits": {
            "first_step": {
                "title": words,
                "starts": {"entered": names[0]},
                "stops": {"left": names[0]},
                "within": [{"limit": "2h"}],
                "on_breach": [{"notify": "desk"}],
            }
        },
        "invariants": [{"name": text or "rule", "check": "state != ''"}],
    }


def procedure_json(*args: Any, **kwargs: Any) -> str:
    """:func:`procedure` as text the loader reads (JSON is YAML)."""
    return json.dumps(procedure(*args, **kwargs), ensure_ascii=False)
