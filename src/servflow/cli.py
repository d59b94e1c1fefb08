"""The ``servflow`` command: check, schema, diagram, docs, render, test, explore, demo,
report and db.

Each subcommand lives in its own module under :mod:`servflow.commands`, exposing
``register(subparsers)`` and ``run(args) -> int``. Exit codes: 0 success, 1 problems found
(failed checks, failed scenarios), 2 usage errors (argparse's own convention).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

COMMANDS = (
    "check",
    "schema",
    "diagram",
    "docs",
    "render",
    "test",
    "explore",
    "demo",
    "report",
    "db",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="servflow",
        description="Service-desk procedures as enforceable state machines.",
    )
    from servflow import __version__
    from servflow.engine.native import build_name

    parser.add_argument(
        "--version", action="version", version=f"servflow {__version__} ({build_name()})"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"servflow.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``servflow`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    module = importlib.import_module(f"servflow.commands.{args.command}")
    try:
        code: int = module.run(args)
    except BrokenPipeError:  # pragma: no cover - `servflow docs repair | head`
        return 0
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
