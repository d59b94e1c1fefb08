"""What the subcommands share: finding procedures by id or path."""

from __future__ import annotations

import argparse
from pathlib import Path

from servflow.catalogue import catalogue_path
from servflow.errors import DefinitionError
from servflow.model import Procedure
from servflow.procedures.load import Catalogue, load_catalogue, load_file

__all__ = ["add_procedures_option", "default_procedures_dir", "resolve_procedure"]


def add_procedures_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--procedures",
        metavar="DIR",
        help="folder of procedure files (default: ./procedures if it exists, "
        "else the standard catalogue)",
    )


def default_procedures_dir(option: str | None) -> Path:
    if option:
        return Path(option)
    local = Path("procedures")
    return local if local.is_dir() else catalogue_path()


def resolve_procedure(proc: str, procedures_dir: str | None) -> tuple[Procedure, Catalogue]:
    """PROC is a procedure id (looked up in the procedures folder) or a file path.

    Raises :class:`DefinitionError` (with diagnostics) when the file is invalid, and
    ``LookupError`` when no procedure of that id exists.
    """
    folder = default_procedures_dir(procedures_dir)
    path = Path(proc)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if path.is_dir():  # a folder named like a file: say so rather than scan it
            raise DefinitionError(load_file(path).diagnostics)
        # A file of its own, with the calendar files of its own folder, as the engine
        # loads it (servflow.procedures.load.catalogue_files).
        catalogue = load_catalogue([path])
        result = catalogue.results[0]
        errors = catalogue.errors
        if errors or result.procedure is None:
            raise DefinitionError(errors or result.diagnostics)
        return result.procedure, catalogue
    catalogue = load_catalogue([folder])
    matches = [p for p in catalogue.procedures if p.id == proc]
    if not matches:
        errors = catalogue.errors
        if errors:
            raise DefinitionError(errors)
        known = sorted({p.id for p in catalogue.procedures})
        raise LookupError(
            f"no procedure {proc!r} in {folder} (known: {', '.join(known) or 'none'})"
        )
    return max(matches, key=lambda p: p.version), catalogue
