"""The storage contract: what a host's case store must do for :class:`servflow.Desk`.

A store keeps, per case, two things: the case itself (its JSON is the source of truth)
and its audit log, the events in ``seq`` order. It promises five things, which the one
contract suite in ``tests/test_store_contract.py`` checks against every adapter:

* **Atomic steps.** ``create`` and ``save`` write the case and its new events together
  or not at all.
* **No lost updates.** ``save`` replaces the case only if the stored version is still the
  one the caller loaded (compare-and-set on ``version``), else raises :class:`Conflict`.
* **An append-only log.** ``history`` returns every event ever saved, in order, and
  ``engine.replay(store.history(id)) == store.load(id)``.
* **Queries.** ``find`` answers a :class:`~servflow.store.query.CaseQuery` one page at a
  time, in a fixed order, with keyset pagination.
* **Schedule cursors.** ``schedule_cursor`` and ``move_schedule_cursor`` keep, per
  procedure, the instant up to which its scheduled cases were opened; the cursor only
  moves forward. (Exactly-once openings come from ``create`` and the stable case ids.)
* **Exclusive claims.** ``claim_due`` hands each due case to one worker at a time, for a
  lease that expires if the worker dies, so that many workers can run ``Desk.run_due``.

Times passed to a store are timezone-aware; adapters compare them in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from servflow.bounds import VERSION_LIMIT, id_problem
from servflow.engine import Case, Event
from servflow.engine.integrity import check_time
from servflow.errors import ServflowError
from servflow.store.query import CaseQuery, Page

__all__ = [
    "MAX_CLAIM",
    "CaseExists",
    "CaseLister",
    "CaseNotFound",
    "CaseStore",
    "Conflict",
    "check_claim",
    "check_cursor",
    "check_events",
    "check_save",
    "storable_id",
]

MAX_CLAIM = 10_000
"""The most cases one ``claim_due`` hands out; a larger ``limit`` is read as this."""

_LONGEST_LEASE = timedelta(days=366)


class CaseNotFound(ServflowError, KeyError):
    """No case of that id is stored. A ``KeyError`` too, so ``except KeyError`` works."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(case_id)

    def __str__(self) -> str:
        return f"no case {self.case_id!r} in the store"


class Conflict(ServflowError):
    """A write lost a race: the stored case is not at the version the caller expected.

    Nothing was written. Reload the case and run the step again (``Desk`` does that), or
    report the conflict to the user. ``actual`` is the stored version when it is known.
    """

    def __init__(
        self, case_id: str, expected: int | None, actual: int | None, message: str | None = None
    ) -> None:
        self.case_id = case_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            message
            or f"case {case_id!r} is at version {actual}, not {expected}: another writer saved first"
        )


class CaseExists(Conflict):
    """``create`` was given the id of a case that is already stored; nothing was written."""

    def __init__(self, case_id: str, actual: int | None = None) -> None:
        super().__init__(case_id, None, actual, f"case {case_id!r} is already stored")


@runtime_checkable
class CaseStore(Protocol):
    """Where a :class:`~servflow.Desk` keeps cases and their audit logs."""

    def create(self, case: Case, events: Sequence[Event]) -> None:
        """Store a new case and its first events (seq 1 .. case.version) atomically.

        Raises :class:`CaseExists` if the id is taken.
        """
        ...

    def load(self, case_id: str) -> Case:
        """The stored case; raises :class:`CaseNotFound`."""
        ...

    def save(self, case: Case, events: Sequence[Event], *, expected_version: int) -> None:
        """Append ``events`` and replace the case, if the stored version is ``expected_version``.

        ``events`` are the events that took the case from ``expected_version`` to
        ``case.version``. Raises :class:`Conflict` (nothing written) when the stored version
        differs, :class:`CaseNotFound` when there is no such case.
        """
        ...

    def history(self, case_id: str) -> list[Event]:
        """Every event of the case, in ``seq`` order; raises :class:`CaseNotFound`."""
        ...

    def claim_due(self, at: datetime, *, limit: int, lease: timedelta) -> list[Case]:
        """Claim up to ``limit`` cases whose ``next_due <= at``, earliest first.

        A claimed case is not returned again, to this or any other worker, until it is
        released or ``at + lease`` has passed (the ``at`` of a later call), so a worker
        that dies loses its claims after the lease.
        """
        ...

    def release(self, case_id: str) -> None:
        """End the claim on a case (if any); unknown ids are ignored."""
        ...

    def find(
        self, query: CaseQuery | None = None, *, limit: int = 50, after: str | None = None
    ) -> Page:
        """One page of the cases that answer ``query``, in its order (see :mod:`~servflow.store.query`).

        ``limit`` is from 1 to :data:`~servflow.store.query.MAX_PAGE`; ``after`` is the
        ``next`` token of the previous page. A query on an assignee field the store does
        not index raises ``ValueError``.
        """
        ...

    def schedule_cursor(self, procedure: str) -> datetime | None:
        """How far the schedules of ``procedure`` have been opened: every occurrence
        before this instant was (``Desk.run_due``); None when nothing was ever opened."""
        ...

    def move_schedule_cursor(self, procedure: str, to: datetime) -> None:
        """Move the cursor of ``procedure`` forward to ``to``; a cursor at or past it stays.

        Forward only, so that workers that race leave the furthest of their cursors.
        """
        ...


def storable_id(case_id: object) -> bool:
    """Whether a case of this id could be stored; ``TypeError`` if it is not text.

    A store answers a look-up of an id no case can have (empty, a NUL, a lone surrogate,
    too long) with :class:`CaseNotFound` without asking the database, whose driver would
    raise an error of its own for some of them.
    """
    if not isinstance(case_id, str):
        raise TypeError(f"a case id is text, not {type(case_id).__name__}")
    return id_problem(case_id) is None


def check_claim(at: datetime, limit: int, lease: timedelta) -> tuple[datetime, datetime, int]:
    """The checked arguments of ``claim_due``: ``at``, the end of the lease, the limit.

    ``at`` as the engine's event times (``TypeError``/``ValueError``); ``limit`` an int
    (at most :data:`MAX_CLAIM` is used); ``lease`` a timedelta of at most a year.
    """
    check_time(at)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"`limit` must be an int, not {type(limit).__name__}")
    if not isinstance(lease, timedelta):
        raise TypeError(f"`lease` must be a timedelta, not {type(lease).__name__}")
    if not timedelta(0) <= lease <= _LONGEST_LEASE:
        raise ValueError("`lease` must be between 0 and 366 days")
    return at, at + lease, max(0, min(limit, MAX_CLAIM))


def check_save(case: Case, events: Sequence[Event], expected_version: int) -> None:
    """:func:`check_events` for ``save``: ``expected_version`` an int, then the events."""
    if isinstance(expected_version, bool) or not isinstance(expected_version, int):
        raise TypeError(f"`expected_version` must be an int, not {type(expected_version).__name__}")
    check_events(case, events, expected_version + 1)


def check_events(case: Case, events: Sequence[Event], first_seq: int) -> None:
    """Refuse a write whose events do not take the case from ``first_seq - 1`` to its version.

    A store calls this before writing: a log with a gap or a stranger's event could never
    be replayed, and finding that out years later is worse than a ``ValueError`` now. A
    case whose id or version no store column can hold is refused the same way (a case
    built with ``model_copy`` skips the model's own checks), and so is an
    ``expected_version`` (``first_seq - 1``) that is not an int.
    """
    if not isinstance(case, Case):
        raise TypeError(f"expected a Case, not {type(case).__name__}")
    if isinstance(first_seq, bool) or not isinstance(first_seq, int):
        raise TypeError(f"`expected_version` must be an int, not {type(first_seq).__name__}")
    problem = id_problem(case.id)
    if problem is not None:
        raise ValueError(problem)
    for label, number in (("version", case.version), ("procedure_version", case.procedure_version)):
        if (
            isinstance(number, bool)
            or not isinstance(number, int)
            or not 1 <= number <= VERSION_LIMIT
        ):
            raise ValueError(f"case {case.id!r}: {label} must be from 1 to {VERSION_LIMIT}")
    if first_seq < 1:
        raise ValueError(f"`expected_version` must be 0 or more, not {first_seq - 1}")
    if not all(isinstance(e, Event) for e in events):
        raise TypeError("the events must be Event objects")
    expected = list(range(first_seq, case.version + 1))
    if not expected:
        raise ValueError(
            f"case {case.id!r} at version {case.version}: nothing to write after version {first_seq - 1}"
        )
    if [e.seq for e in events] != expected or any(e.case_id != case.id for e in events):
        raise ValueError(
            f"the events of case {case.id!r} must be seq {first_seq}..{case.version} of that case, "
            f"got {[(e.case_id, e.seq) for e in events]}"
        )


def check_cursor(procedure: object, *to: object) -> None:
    """The checked arguments of the schedule-cursor methods: a procedure id, and for a
    move the time (aware, as the engine's event times)."""
    if not isinstance(procedure, str):
        raise TypeError(f"a procedure id is text, not {type(procedure).__name__}")
    if not procedure or len(procedure) > 200 or id_problem(procedure) is not None:
        raise ValueError("a procedure id is 1 to 200 printable characters")
    for moment in to:
        check_time(moment)


@runtime_checkable
class CaseLister(Protocol):
    """A store that can list its cases, for reports over all of them (``servflow report``).

    Kept apart from :class:`CaseStore`, which a :class:`~servflow.Desk` needs and which a
    host's own store may implement without it; both reference adapters implement both.
    """

    def case_ids(self, procedure: str | None = None) -> list[str]:
        """The ids of every stored case (of ``procedure`` only, when given), sorted."""
        ...
