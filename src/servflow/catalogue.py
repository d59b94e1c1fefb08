"""The engine with the language: :class:`servflow.Engine`, and where the standard catalogue lives.

:class:`servflow.engine.Engine` is the pure core: it compiles the procedures it is given
and imports nothing above it, so it cannot read a file or run the language's static checks
(they live with the loader, in :mod:`servflow.procedures`). The :class:`Engine` here is
that class with the language supplied, and the one ``from servflow import Engine`` gives:

* ``Engine([...])`` checks procedures built in Python as a file would be, by handing the
  core the loader's static checks as its ``checker``;
* ``Engine.from_directory(...)`` loads a folder through the loader, which has checked every
  file, and hands the result to the core as it is;
* ``Engine.standard()`` is ``from_directory`` of the catalogue shipped with servflow.

It is a subclass, so an engine built here is a :class:`servflow.engine.Engine` wherever one
is expected (the desk, the stores, the testing kit). The loader is imported when it is
first needed, not with this module: ``import servflow`` (which re-exports this class) and
an engine built from models by the core load neither YAML nor the loader.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Self

from servflow.calendar_spec import CalendarSpec
from servflow.engine import core
from servflow.engine.calendar import Calendar
from servflow.errors import DefinitionError, Diagnostic
from servflow.model import Procedure

__all__ = ["Engine", "catalogue_path", "language_checks"]


def language_checks(procedure: Procedure) -> list[Diagnostic]:
    """The loader's static checks of ``procedure``, positioned in a file named after it."""
    from servflow.procedures.checks import check_procedure
    from servflow.procedures.source import SourceMap

    return check_procedure(procedure, SourceMap(f"<{procedure.id} v{procedure.version}>"))


class Engine(core.Engine):
    """Runs cases of the procedures it holds; built from models or from procedure files.

    See :class:`servflow.engine.Engine` for what it does; this class adds the language:
    procedures built in Python are checked as a file would be.
    """

    def __init__(
        self,
        procedures: Iterable[Procedure] = (),
        *,
        calendars: Mapping[str, CalendarSpec | Calendar] | None = None,
    ) -> None:
        """Check and compile ``procedures``; raises :class:`DefinitionError` listing every
        problem."""
        super().__init__(procedures, calendars=calendars, checker=language_checks)

    @classmethod
    def from_directory(cls, *paths: str | Path) -> Self:
        """Load every procedure and calendar file of the given directories (or files).

        A folder gives its YAML files; a file gives itself and the calendar files of its
        own folder; nothing is borrowed from elsewhere
        (:func:`servflow.procedures.load.catalogue_files`, the rule ``servflow check``
        follows too).
        """
        from servflow.procedures.load import load_catalogue

        catalogue = load_catalogue(paths)
        errors = catalogue.errors
        if errors:
            raise DefinitionError(errors)
        # The loader has just run the static checks on every file: the core compiles what
        # it checked without running them again (this skips the checker, not the rules the
        # core applies itself).
        engine = cls.__new__(cls)
        core.Engine.__init__(engine, catalogue.procedures, calendars=catalogue.calendars)
        return engine

    @classmethod
    def standard(cls) -> Self:
        """The standard catalogue shipped with servflow (repair, complaint, renovation, ...)."""
        return cls.from_directory(catalogue_path())


def catalogue_path() -> Path:
    """The folder of the standard procedures shipped with servflow.

    In an installed wheel they are the package data folder ``servflow/catalogue``; in an
    editable install of a checkout, the repository's ``procedures/`` folder.
    """
    here = Path(__file__).resolve().parent
    packaged = here / "catalogue"
    if packaged.is_dir():
        return packaged
    checkout = here.parent.parent / "procedures"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("the standard catalogue is missing from this installation of servflow")
