"""What the procedures and calendars held together must satisfy, and what names a version.

An engine holds procedures keyed by id and version, each pinned to its content by a
digest, and the calendars their time limits count in. Three rules hold for any such set,
whether it comes from a folder of files or from models built in Python:

* an id and version is defined once (``duplicate-version``);
* a calendar takes a name of its own: ``always`` is built in (``duplicate-calendar``);
* every calendar a procedure names is defined (``unknown-calendar``).

Each rule is written here once. :class:`~servflow.engine.Engine` applies them to what it is
given, naming the procedure or calendar; the loader
(:func:`servflow.procedures.load.load_catalogue`) applies them to the files of a
catalogue, positioning each problem at the key that causes it. Both report the same
message.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator

from servflow._hints import did_you_mean
from servflow.model import Procedure

__all__ = [
    "BUILT_IN_CALENDAR",
    "calendar_name_problem",
    "calendar_references",
    "digest_of",
    "duplicate_version_message",
    "unknown_calendar_message",
]

BUILT_IN_CALENDAR = "always"
"""The calendar every engine holds (24x7, UTC); no calendar file may define it."""

Path = tuple[str | int, ...]


def digest_of(procedure: Procedure) -> str:
    """Content digest: the same for the same meaning, whatever the comments or layout.

    ``measures`` is left out: it tells reports how to read cases and changes nothing in
    how they run, so naming a measure must not strand the cases pinned to the digest.
    """
    canonical = json.dumps(
        procedure.model_dump(mode="json", by_alias=True, exclude={"measures"}),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def duplicate_version_message(procedure_id: str, version: int, first: str | None) -> str:
    """Why a second definition of ``procedure_id`` v``version`` is refused (``first``: the
    file that defined it first, when it came from one)."""
    if first is None:
        return f"procedure {procedure_id!r} version {version} is given twice"
    return f"procedure {procedure_id!r} version {version} is also defined in {first}"


def calendar_name_problem(name: str, defined: Collection[str]) -> str | None:
    """Why a calendar may not be defined under ``name`` beside ``defined``, or None."""
    if name == BUILT_IN_CALENDAR:
        return f"{name!r} is built in (24x7, UTC); give the calendar another name"
    if name in defined:
        return f"calendar {name!r} is defined twice"
    return None


def calendar_references(procedure: Procedure) -> Iterator[tuple[Path, str]]:
    """Every calendar ``procedure`` names, with the path of the key that names it."""
    yield ("calendar",), procedure.calendar
    for name, limit in procedure.time_limits.items():
        for i, target in enumerate(limit.within):
            if target.calendar is not None:
                yield ("time_limits", name, "within", i, "calendar"), target.calendar


def unknown_calendar_message(name: str, defined: Collection[str]) -> str | None:
    """Why a procedure may not count in calendar ``name`` beside ``defined``, or None."""
    if name == BUILT_IN_CALENDAR or name in defined:
        return None
    return f"unknown calendar {name!r}" + did_you_mean(name, {BUILT_IN_CALENDAR, *defined})
