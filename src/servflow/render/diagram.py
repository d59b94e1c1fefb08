"""State diagrams of a procedure, as Mermaid ``stateDiagram-v2`` or Graphviz dot text.

Both show the same thing, drawn from the procedure file alone: every state with its
localized title and the time limits whose clock runs (⏱) or is paused (⏸) in it; the
start of a case; every transition branch with its title, its guard (abbreviated) and
the roles that may take it; final states marked (an arrow to the end point in Mermaid, a
double border in dot). The output is deterministic (the file's order, nothing random),
so generated diagrams can be kept in the repository and compared in a test. Only the
definition is drawn: no case data, and no field defaults (a ``pii`` field's default could
be personal data).

Whatever a title says, it stays a label: every text is escaped for the format (Mermaid's
``#code;`` entities, dot's quoted strings), and states are drawn under ids no keyword of
either language can take (``s_<name>`` in Mermaid, quoted names in dot). The tests read
the output with Mermaid's own parser and with Graphviz.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from servflow.model import Branch, Procedure, Start
from servflow.procedures.lint import limit_coverage
from servflow.render.common import DEFAULT_LANGUAGE, labelled_expression, localized
from servflow.render.labels import LABELS

__all__ = ["DiagramFormat", "render_diagram", "render_dot", "render_mermaid"]

DiagramFormat = Literal["mermaid", "dot"]

GUARD_WIDTH = 28


@dataclass(frozen=True)
class _Node:
    name: str
    title: str
    lines: tuple[str, ...]
    final: bool


@dataclass(frozen=True)
class _Arrow:
    source: str | None  # None: the start of a case
    target: str
    lines: tuple[str, ...]


def abbreviate(text: str, width: int = GUARD_WIDTH) -> str:
    """One line of at most ``width`` characters, cut with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def _limit_text(proc: Procedure, name: str, lang: str) -> str:
    limit = proc.time_limits[name]
    # "1m" that runs to the close of business reads as one minute unless it says so.
    close = LABELS.get(lang, LABELS[DEFAULT_LANGUAGE])["end_of_day"]
    close = close if close.startswith("（") else " " + close  # a space before "(" only
    targets = "/".join(
        (t.limit or f"≤{t.until}") + (close if t.end_of_working_day else "") for t in limit.within
    )
    return f"{localized(limit.title, lang, name)} {targets}"


def _nodes(proc: Procedure, lang: str) -> list[_Node]:
    running: dict[str, list[str]] = {s: [] for s in proc.states}
    paused: dict[str, list[str]] = {s: [] for s in proc.states}
    for name, limit in proc.time_limits.items():
        coverage = limit_coverage(proc, limit)
        for state in proc.states:
            if state in coverage.running:
                running[state].append(f"⏱ {_limit_text(proc, name, lang)}")
            elif state in coverage.paused:
                paused[state].append(f"⏸ {localized(limit.title, lang, name)}")
    # A state that waits on purpose says what for (`waits`), in one short line.
    waits = {
        name: [f"⏳ {abbreviate(localized(state.waits, lang))}"] if state.waits else []
        for name, state in proc.states.items()
    }
    return [
        _Node(
            name=name,
            title=localized(state.title, lang, name),
            lines=tuple(running[name] + paused[name] + waits[name]),
            final=state.final,
        )
        for name, state in proc.states.items()
    ]


def _branch_lines(
    proc: Procedure, trigger: str, branch: Start | Branch, lang: str
) -> tuple[str, ...]:
    lines = [localized(branch.title, lang, trigger)]
    if branch.when:
        # The analyst's words for the condition, when written, read better than the rule.
        words = localized(branch.message or {}, lang)
        lines.append(f"[{abbreviate(words or labelled_expression(proc, branch.when, lang))}]")
    roles = [
        localized(proc.roles[r].title, lang, r) if r in proc.roles else r for r in branch.roles
    ]
    who = ", ".join(roles)
    if branch.assignee is not None:
        # Only the person the field names: the field's title, never a value.
        spec = proc.fields.get(branch.assignee)
        who += f" ({localized(spec.title, lang, branch.assignee) if spec else branch.assignee})"
    lines.append(who)
    # A linked case the step opens (language 1.1): the procedure's id, and the trigger
    # its closing fires back here.
    for link in branch.opens if isinstance(branch, Branch) else ():
        lines.append(f"⇢ {link.procedure}" + (f" ⇠ {link.resume}" if link.resume else ""))
    return tuple(lines)


def _arrows(proc: Procedure, lang: str) -> list[_Arrow]:
    start_roles = [
        localized(proc.roles[r].title, lang, r) if r in proc.roles else r for r in proc.start.roles
    ]
    start_lines = [", ".join(start_roles)]
    if proc.schedule:  # the calendar opens cases too: say which schedules, by title
        start_lines.append(
            "⏰ " + ", ".join(localized(s.title, lang, s.every or "rrule") for s in proc.schedule)
        )
    arrows = [_Arrow(None, proc.start.to, tuple(start_lines))]
    for trigger, branches in proc.transitions.items():
        for branch in branches:
            lines = _branch_lines(proc, trigger, branch, lang)
            arrows.extend(_Arrow(src, branch.to, lines) for src in branch.source)
    return arrows


def _heading(proc: Procedure, lang: str) -> str:
    return f"{localized(proc.title, lang, proc.id)} · {proc.id} v{proc.version}"


# -- Mermaid -------------------------------------------------------------------------------

# Mermaid's entity codes (#NN;) for every character with a meaning in a label: the
# quotes and colons that end one, `;` that ends a statement, `%%` comments and `{ }`
# directives, HTML (< > &), backticks that start a Markdown string, and `#` itself.
_MERMAID_ESCAPES = {ch: f"#{ord(ch)};" for ch in "#;:{}&`%\\"} | {
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
}


def _mermaid_text(text: str) -> str:
    return "".join(_MERMAID_ESCAPES.get(ch, ch) for ch in " ".join(text.split()))


def _mermaid_id(name: str) -> str:
    # Mermaid has no quoted ids, and its keywords (state, style, scale, default, accTitle,
    # direction, note, class, end...) keep growing: every state gets a prefix no keyword
    # starts with, and its name is shown in the label instead.
    return f"s_{name}"


def _yaml_string(text: str) -> str:
    # Front matter is YAML: a JSON string is a YAML double-quoted scalar once the
    # characters YAML reads as line breaks or a byte order mark (JSON does not) are
    # escaped too.
    quoted = json.dumps(" ".join(text.split()), ensure_ascii=False)
    return "".join(f"\\u{ord(ch):04x}" if ch in "\x85\u2028\u2029\ufeff" else ch for ch in quoted)


def render_mermaid(proc: Procedure, lang: str = DEFAULT_LANGUAGE) -> str:
    """The procedure as a Mermaid ``stateDiagram-v2``."""
    out = [
        "---",
        f"title: {_yaml_string(_heading(proc, lang))}",
        "---",
        "stateDiagram-v2",
    ]
    nodes = _nodes(proc, lang)
    for node in nodes:
        label = "<br/>".join(_mermaid_text(t) for t in (node.title, *node.lines))
        out.append(f'    state "{label}" as {_mermaid_id(node.name)}')
    for arrow in _arrows(proc, lang):
        source = "[*]" if arrow.source is None else _mermaid_id(arrow.source)
        label = "<br/>".join(_mermaid_text(t) for t in arrow.lines)
        out.append(f"    {source} --> {_mermaid_id(arrow.target)} : {label}")
    finals = [node for node in nodes if node.final]
    for node in finals:
        out.append(f"    {_mermaid_id(node.name)} --> [*]")
    if finals:
        out.append("    classDef final stroke-width:3px")
        out.extend(f"    class {_mermaid_id(node.name)} final" for node in finals)
    return "\n".join(out) + "\n"


# -- Graphviz dot --------------------------------------------------------------------------


def _dot_text(text: str) -> str:
    return " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"')


def _dot_id(name: str) -> str:
    # Always quoted: a quoted id is never a keyword (node, edge, graph, subgraph...).
    # State names start with a letter, so none is the start point's "__start__".
    return f'"{_dot_text(name)}"'


def _dot_label(lines: tuple[str, ...] | list[str]) -> str:
    return '"' + "\\n".join(_dot_text(t) for t in lines) + '"'


def render_dot(proc: Procedure, lang: str = DEFAULT_LANGUAGE) -> str:
    """The procedure as a Graphviz ``digraph``."""
    font = 'fontname="sans-serif"'
    out = [
        f'digraph "{_dot_text(proc.id)}" {{',
        f"    graph [label={_dot_label([_heading(proc, lang)])}, labelloc=t, {font}];",
        f"    node [shape=box, style=rounded, {font}];",
        f"    edge [{font}, fontsize=10];",
        '    "__start__" [shape=point, width=0.15, label=""];',
    ]
    for node in _nodes(proc, lang):
        extra = ", peripheries=2" if node.final else ""
        out.append(
            f"    {_dot_id(node.name)} [label={_dot_label([node.title, *node.lines])}{extra}];"
        )
    for arrow in _arrows(proc, lang):
        source = '"__start__"' if arrow.source is None else _dot_id(arrow.source)
        out.append(f"    {source} -> {_dot_id(arrow.target)} [label={_dot_label(arrow.lines)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def render_diagram(
    proc: Procedure, fmt: DiagramFormat = "mermaid", lang: str = DEFAULT_LANGUAGE
) -> str:
    """The state diagram of ``proc`` in ``fmt`` with titles in ``lang``."""
    return render_dot(proc, lang) if fmt == "dot" else render_mermaid(proc, lang)
