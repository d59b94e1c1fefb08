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
from typing import Any

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


class _Version(argparse.Action):
    """``--version``: the version and which build is installed, worked out only when asked
    (finding the compiled modules walks the package's folder)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from servflow import __version__
        from servflow.engine.native import build_name

        print(f"servflow {__version__} ({build_name()})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="servflow",
        description="Service-desk procedures as enforceable state machines.",
    )
    parser.add_argument(
        "--version", action=_Version, help="show servflow's version and build, and exit"
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
