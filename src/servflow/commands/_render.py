"""What ``diagram`` and ``docs`` share: find the procedure, report why not, write output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from servflow.commands._common import add_procedures_option, resolve_procedure
from servflow.errors import DefinitionError
from servflow.model import LANGUAGES, Procedure
from servflow.procedures.load import Catalogue
from servflow.render.common import DEFAULT_LANGUAGE

__all__ = ["add_common_options", "load_or_report", "write_output"]


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "proc",
        metavar="PROC",
        help="a procedure id (looked up in the procedures folder) or a procedure file",
    )
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=DEFAULT_LANGUAGE,
        help=f"language of titles and headings (default: {DEFAULT_LANGUAGE})",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    add_procedures_option(parser)


def load_or_report(command: str, args: argparse.Namespace) -> tuple[Procedure, Catalogue] | int:
    """The procedure named by PROC, or the exit code after explaining why there is none."""
    path = Path(args.proc)
    if path.suffix in (".yaml", ".yml") and not path.exists():
        print(f"servflow {command}: error: no such file: {path}", file=sys.stderr)
        return 2
    try:
        return resolve_procedure(args.proc, args.procedures)
    except DefinitionError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic, file=sys.stderr)
        print(f"servflow {command}: {args.proc} has errors; run `servflow check`", file=sys.stderr)
        return 1
    except (LookupError, FileNotFoundError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"servflow {command}: error: {message}", file=sys.stderr)
        return 2


def write_output(command: str, text: str, output: str | None) -> int:
    if not output:
        sys.stdout.write(text)
        return 0
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"servflow {command}: cannot write {output}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0
