"""What the subcommands share: finding procedures by id or path."""

from __future__ import annotations

import argparse
from pathlib import Path

from servflow.catalogue import catalogue_path
from servflow.errors import DefinitionError
from servflow.model import Procedure
from servflow.procedures.load import Catalogue, load_catalogue

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
        # A file of its own, with the calendars of the procedures folder beside it.
        others = [c for c in _calendar_files(folder) if c.resolve() != path.resolve()]
        catalogue = load_catalogue([path, *others])
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


def _calendar_files(folder: Path) -> list[Path]:
    """The calendar files of a folder (files with `calendars:` and no procedure `id:`)."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.y*ml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if "\ncalendars:" in f"\n{text}" and "\nid:" not in f"\n{text}":
            found.append(path)
    return found
