"""``servflow diagram PROC``: the state diagram of a procedure, as Mermaid or Graphviz dot.

Titles are in ``--lang``; each arrow shows the step's title, its guard (abbreviated) and
the roles that may take it; each state the time limits running in it; final states are
marked. Paste Mermaid into Markdown (GitHub renders it), or pipe dot into ``dot -Tsvg``.
"""

from __future__ import annotations

import argparse

from servflow.commands._render import add_common_options, load_or_report, write_output
from servflow.render.diagram import render_diagram

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "diagram",
        help="draw a procedure's state diagram (mermaid or dot)",
        description="Print the state diagram of a procedure as Mermaid stateDiagram-v2 "
        "(default) or Graphviz dot text.",
    )
    add_common_options(parser)
    parser.add_argument(
        "--format",
        choices=("mermaid", "dot"),
        default="mermaid",
        help="mermaid (default) or dot",
    )


def run(args: argparse.Namespace) -> int:
    loaded = load_or_report("diagram", args)
    if isinstance(loaded, int):
        return loaded
    procedure, _ = loaded
    return write_output("diagram", render_diagram(procedure, args.format, args.lang), args.output)
