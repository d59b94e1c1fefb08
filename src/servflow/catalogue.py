"""Where the standard catalogue of procedures lives, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

__all__ = ["catalogue_path"]


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
