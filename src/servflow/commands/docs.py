"""``servflow docs PROC``: the procedure's standard operating procedure, in Markdown.

Rendered from the procedure file alone: purpose, roles, the steps in order with who does
each and what information it needs, time limits and escalation, rules, the data (fields
marked ``pii`` flagged as confidential) and the record forms, in ``--lang``.
"""

from __future__ import annotations

import argparse

from servflow.commands._render import add_common_options, load_or_report, write_output
from servflow.render.sop import render_sop

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "docs",
        help="write a procedure's SOP as Markdown",
        description="Print the standard operating procedure of a procedure as Markdown, "
        "in Traditional Chinese (zh-Hant), Simplified Chinese (zh-Hans) or English (en).",
    )
    add_common_options(parser)


def run(args: argparse.Namespace) -> int:
    loaded = load_or_report("docs", args)
    if isinstance(loaded, int):
        return loaded
    procedure, catalogue = loaded
    text = render_sop(procedure, args.lang, calendars=catalogue.calendars)
    return write_output("docs", text, args.output)
