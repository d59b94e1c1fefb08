"""``servflow schema``: print the JSON Schema of the procedure language, for editors.

Point the YAML language server at it with a first line such as
``# yaml-language-server: $schema=../docs/servflow.schema.json``; the same schema ships
inside the package as ``servflow/servflow.schema.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from servflow.procedures.schema import schema_text

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of procedure files (for editors)",
        description="Print the JSON Schema (draft 2020-12) of procedure and calendar files. "
        "Editors with the YAML language server use it when a file starts with "
        "'# yaml-language-server: $schema=PATH'.",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the schema to FILE instead of stdout"
    )


def run(args: argparse.Namespace) -> int:
    text = schema_text()
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"servflow schema: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return 2
        return 0
    sys.stdout.write(text)
    return 0
