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

A store may also keep an *outbox* (:class:`OutboxStore`): the effects of each step,
written in the same transaction as the case and its events, each under a stable id
(:func:`effect_id`), and handed out to delivery workers with the same kind of lease
(``Desk.deliver``). Both adapters of this package keep one.

Times passed to a store are timezone-aware; adapters compare them in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from servflow.bounds import VERSION_LIMIT, id_problem, text_problem
from servflow.engine import Case, Effect, Event
from servflow.engine.integrity import check_time
from servflow.errors import ServflowError
from servflow.store.query import CaseQuery, Page

__all__ = [
    "ERROR_LENGTH",
    "MAX_CLAIM",
    "AlreadyDelivered",
    "BatchStore",
    "CaseExists",
    "CaseLister",
    "CaseNotFound",
    "CaseStore",
    "Conflict",
    "NewCase",
    "OutboxEntry",
    "OutboxStore",
    "Write",
    "check_claim",
    "check_cursor",
    "check_effects",
    "check_events",
    "check_limit",
    "check_outbox_call",
    "check_save",
    "effect_id",
    "error_text",
    "storable_id",
]

MAX_CLAIM = 10_000
"""The most cases one ``claim_due`` hands out; a larger ``limit`` is read as this."""

_LONGEST_LEASE = timedelta(days=366)

ERROR_LENGTH = 200
"""The longest error text the outbox keeps for a failed delivery (longer text is cut)."""


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


class AlreadyDelivered(ServflowError):
    """A save that was to mark an effect delivered found it delivered already; nothing written.

    Another worker carried the effect out first (``Desk.deliver`` of a ``resume``): the
    step must not be taken twice.
    """

    def __init__(self, effect_id: str) -> None:
        self.effect_id = effect_id
        super().__init__(f"effect {effect_id!r} is no longer pending: it was delivered already")


#: A case to create in the same transaction as a save: the case, its first events, and
#: the effects of its opening step.
NewCase = tuple[Case, Sequence[Event], Sequence[Effect]]


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


def effect_id(case_id: str, seq: int, index: int) -> str:
    """The outbox id of an effect: ``<case id>:<seq>:<index>``.

    ``seq`` is the case's version after the step that asked for the effect (the ``seq``
    of the step's last event) and ``index`` the effect's place in that step's effects, from
    0. A step is saved once (compare-and-set on the version), so the id names one effect
    for good: a receiver that is handed an effect twice (a worker died after delivering
    it, before marking it delivered) recognises it by this id.
    """
    return f"{case_id}:{seq}:{index}"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One effect in the outbox, as a delivery worker is handed it.

    ``attempts`` counts the deliveries that failed so far; ``error`` is what the last one
    raised (the exception's class name); ``failed_at`` is set once the outbox gave up on
    it (see ``Desk.failed``).
    """

    id: str
    effect: Effect
    attempts: int = 0
    error: str | None = None
    failed_at: datetime | None = None


@runtime_checkable
class OutboxStore(CaseStore, Protocol):
    """A :class:`CaseStore` that also keeps the effects of each step: an outbox.

    ``create`` and ``save`` take the step's ``effects`` and write them in the same
    transaction as the case and its events, under :func:`effect_id` ids, pending. The
    rest hands them out: each pending effect to one delivery worker at a time, for a lease
    (as ``claim_due`` does cases), until it is marked delivered or failed.
    """

    def create(self, case: Case, events: Sequence[Event], effects: Sequence[Effect] = ()) -> None:
        """:meth:`CaseStore.create`, with the step's effects put in the outbox atomically."""
        ...

    def save(
        self,
        case: Case,
        events: Sequence[Event],
        *,
        expected_version: int,
        effects: Sequence[Effect] = (),
        opened: Sequence[NewCase] = (),
        delivers: str | None = None,
    ) -> None:
        """:meth:`CaseStore.save`, with the step's effects put in the outbox atomically.

        In the same transaction: ``opened`` cases are created (linked cases the step
        opens, with their own events and effects; :class:`CaseExists` if an id is taken),
        and the outbox effect ``delivers`` (a ``resume`` this step carries out) is marked
        delivered; if it is not pending any more, :class:`AlreadyDelivered`. Either way
        nothing is written when any part fails.
        """
        ...

    def claim_effects(self, at: datetime, *, limit: int, lease: timedelta) -> list[OutboxEntry]:
        """Claim up to ``limit`` pending effects whose turn has come by ``at``, oldest first.

        A claimed effect is not handed out again until ``at + lease`` (a worker that died
        loses its claim), unless it is marked failed with a ``retry_at``.
        """
        ...

    def effect_delivered(self, effect_id: str, *, at: datetime) -> None:
        """Mark an effect delivered: it is never handed out again. Unknown ids are ignored."""
        ...

    def effects_delivered(self, effect_ids: Sequence[str], *, at: datetime) -> None:
        """:meth:`effect_delivered` for many effects, in one transaction."""
        ...

    def effect_failed(
        self, effect_id: str, *, at: datetime, error: str, retry_at: datetime | None
    ) -> None:
        """Count a failed delivery: try again from ``retry_at``, or give up (``None``).

        ``error`` (cut to :data:`ERROR_LENGTH` characters) is kept as the last error. An
        effect given up on is listed by :meth:`failed_effects`. An effect already
        delivered, or an unknown id, is left alone.
        """
        ...

    def failed_effects(self, *, limit: int = 100) -> list[OutboxEntry]:
        """The effects given up on, oldest failure first."""
        ...

    def retry_effect(self, effect_id: str, *, at: datetime) -> None:
        """Put an effect given up on back in the outbox, due at ``at``, its count reset."""
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
    return at, at + lease, check_limit(limit)


def check_limit(limit: object) -> int:
    """A ``limit`` argument: an int (``TypeError``), read as 0 .. :data:`MAX_CLAIM`."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"`limit` must be an int, not {type(limit).__name__}")
    return max(0, min(limit, MAX_CLAIM))


def check_effects(case: Case, effects: Sequence[Effect]) -> list[tuple[str, Effect]]:
    """The outbox rows of a step's ``effects``: ``(effect_id, effect)``, in order.

    Refuses (``TypeError``/``ValueError``, before anything is written) an effect that is
    not an :class:`Effect` or belongs to another case.
    """
    rows: list[tuple[str, Effect]] = []
    for index, effect in enumerate(effects):
        if not isinstance(effect, Effect):
            raise TypeError(f"the effects must be Effect objects, not {type(effect).__name__}")
        if effect.case_id != case.id:
            raise ValueError(
                f"an effect of case {effect.case_id!r} cannot be saved with {case.id!r}"
            )
        rows.append((effect_id(case.id, case.version, index), effect))
    return rows


def check_outbox_call(at: datetime, effect_id: object) -> bool:
    """Check ``at`` and ``effect_id`` of an outbox call; whether any effect could have the id.

    ``at`` as the engine's event times (``TypeError``/``ValueError``); an id that is not
    text is a ``TypeError``; text that no :func:`effect_id` can be (as an unknown id)
    makes the call do nothing, without asking the database.
    """
    check_time(at)
    if not isinstance(effect_id, str):
        raise TypeError(f"an effect id is text, not {type(effect_id).__name__}")
    parts = effect_id.rsplit(":", 2)  # the case id may hold ':' itself
    return (
        len(parts) == 3
        and id_problem(parts[0]) is None
        and all(p.isascii() and p.isdigit() and len(p) <= 10 for p in parts[1:])
    )


def error_text(error: object) -> str:
    """The error text an outbox keeps: at most :data:`ERROR_LENGTH` storable characters."""
    if not isinstance(error, str):
        raise TypeError(f"an error is text, not {type(error).__name__}")
    return "".join(c if text_problem(c) is None else "?" for c in error[:ERROR_LENGTH])


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


@dataclass(frozen=True)
class Write:
    """One step of a :meth:`BatchStore.save_batch`: a case, the events that took it from
    ``expected_version`` to its version, and the effects for the outbox."""

    case: Case
    events: Sequence[Event]
    expected_version: int
    effects: Sequence[Effect] = ()


@runtime_checkable
class BatchStore(Protocol):
    """A store that saves many steps in one transaction (``Desk.run_due`` uses it).

    Each step keeps its own compare-and-set: a step whose case moved on is left out,
    the others are written. Both reference adapters implement it.
    """

    def save_batch(self, writes: Sequence[Write], *, release: Sequence[str] = ()) -> list[str]:
        """Save each write whose case is still at its ``expected_version``, in one
        transaction; the claims of the saved cases end, and so do those on ``release``.

        Returns the ids of the writes that lost their race (nothing of them was written,
        and their claims stay unless listed in ``release``). Any other failure raises and
        writes nothing.
        """
        ...
