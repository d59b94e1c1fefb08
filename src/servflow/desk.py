"""The host-side service: load the case, run the engine, save atomically, hand out effects.

:class:`Desk` is the one call a host makes per event. It pairs the pure
:class:`~servflow.Engine` with a :class:`~servflow.store.CaseStore`:

* ``open`` starts a case and stores it with its first event;
* ``fire`` loads the case, fires the trigger on it and saves the result with a
  compare-and-set on the version it loaded. If another writer saved in between (a
  :class:`~servflow.store.Conflict`), it reloads and runs the engine again, a few times,
  so the event is judged on the case as it now is; a caller that pinned
  ``expected_version`` (the version a user saw) gets ``Rejected("stale_version")`` instead;
* ``run_due`` claims the cases whose ``next_due`` has passed (each to one worker at a
  time, see the store) and advances them, then opens the cases the procedures'
  schedules have due (``open_due``): any number of workers may run it at once;
* a step's effects are written to the store's outbox in the same transaction as the
  case and its events (when the store keeps one, :class:`~servflow.store.OutboxStore`);
  ``deliver`` hands them to a handler, each at least once and under a stable id, with
  retries and back-off, and ``failed`` lists those it gave up on;
* effects also go to the ``on_effects`` hook after the save has committed, never for a
  step that was rejected or lost: a quick in-process signal, not a durable one;
* linked cases (language 1.1): a step whose branch ``opens`` a case of another procedure
  returns an ``open`` effect, and the desk opens that case in the same transaction as
  the step (a child that cannot be opened rejects the step: nothing is saved). A child
  that closes returns a ``resume`` effect, which goes through the outbox: ``deliver``
  fires the parent's trigger itself and marks the effect delivered in the parent's own
  transaction, so the parent is resumed exactly once. Not in the child's transaction:
  the parent may be busy or have moved on, and the child's closing must not wait for it
  or be refused because of it.

The desk may use randomness (new case ids are random) and I/O; the engine may not.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any

from servflow.engine import Actor, Availability, Case, Effect, Engine, Event, Outcome
from servflow.engine.integrity import check_time
from servflow.errors import Rejected
from servflow.model import Procedure
from servflow.store.base import (
    ERROR_LENGTH,
    AlreadyDelivered,
    BatchStore,
    CaseExists,
    CaseStore,
    Conflict,
    NewCase,
    OutboxEntry,
    OutboxStore,
    Write,
)

__all__ = ["Desk"]

# How much of a schedule one step of a catch-up lists (see Desk.open_due).
_CATCH_UP_CHUNK = timedelta(days=366)

EffectsHook = Callable[[Sequence[Effect]], None]
DeliveryHandler = Callable[[OutboxEntry], object]

_LONGEST_BACKOFF = timedelta(days=1)

#: The actor a parent's resume event names when the child's id is too long to name.
_SYSTEM_ACTOR = "servflow"


class Desk:
    """Runs cases of ``engine``'s procedures, kept in ``store``.

    ``on_effects`` receives the effects of each step after its save has committed.
    ``retries`` bounds how often a step lost to a concurrent writer is run again.
    ``lease`` is how long ``run_due`` holds its claim on a case, and ``deliver`` its claim
    on an effect (a crashed worker's claim expires after it). ``outbox`` (on by default)
    writes each step's effects to the store's outbox, if the store keeps one
    (:class:`~servflow.store.OutboxStore`); ``outbox=False`` keeps only ``on_effects``.
    """

    def __init__(
        self,
        engine: Engine,
        store: CaseStore,
        *,
        on_effects: EffectsHook | None = None,
        retries: int = 5,
        lease: timedelta = timedelta(minutes=5),
        outbox: bool = True,
    ) -> None:
        if isinstance(retries, bool) or not isinstance(retries, int):
            raise TypeError(f"retries must be an int, not {type(retries).__name__}")
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        if not isinstance(lease, timedelta):
            raise TypeError(f"lease must be a timedelta, not {type(lease).__name__}")
        if not timedelta(0) < lease <= timedelta(days=366):
            raise ValueError("lease must be more than 0 and at most 366 days")
        if not isinstance(outbox, bool):
            raise TypeError(f"outbox must be True or False, not {type(outbox).__name__}")
        self.engine = engine
        self.store = store
        self.on_effects = on_effects
        self.retries = retries
        self.lease = lease
        self.outbox: OutboxStore | None = (
            store if outbox and isinstance(store, OutboxStore) else None
        )
        # Linked cases are written with the step that opens them: that needs the
        # outbox store's save, whether effects are kept or not.
        self._linking: OutboxStore | None = store if isinstance(store, OutboxStore) else None

    # -- reading ---------------------------------------------------------------------------

    def load(self, case_id: str) -> Case:
        """The stored case; raises :class:`~servflow.store.CaseNotFound`."""
        return self.store.load(case_id)

    def history(self, case_id: str) -> list[Event]:
        """The audit log of a case, in order."""
        return self.store.history(case_id)

    def available(self, case_id: str, actor: Actor, *, at: datetime) -> tuple[Availability, ...]:
        """What ``actor`` may fire on the stored case at ``at`` (see ``Engine.available``)."""
        return self.engine.available(self.store.load(case_id), actor, at=at)

    # -- writing ---------------------------------------------------------------------------

    def open(
        self,
        procedure: str,
        *,
        actor: Actor,
        data: Mapping[str, Any] | None = None,
        at: datetime,
        case_id: str | None = None,
    ) -> Case:
        """Start a case and store it; ``case_id`` defaults to a random hex id."""
        out = self.engine.start(
            procedure,
            actor=actor,
            data=data,
            at=at,
            case_id=case_id if case_id is not None else uuid.uuid4().hex,
        )
        self._create(out)
        self._deliver(out)
        return out.case

    def _create(self, out: Outcome) -> None:
        """Store a new case, with its effects in the outbox when the store keeps one."""
        if self.outbox is not None:
            self.outbox.create(out.case, out.events, out.effects)
        else:
            self.store.create(out.case, out.events)

    def fire(
        self,
        case_id: str,
        trigger: str,
        *,
        actor: Actor,
        data: Mapping[str, Any] | None = None,
        at: datetime,
        expected_version: int | None = None,
    ) -> Case:
        """Fire ``trigger`` on the stored case and save the result; raises ``Rejected``.

        Without ``expected_version`` a save lost to another writer is retried on the
        reloaded case (at most ``retries`` times, then the :class:`Conflict` is raised).
        With it, the step runs only on that version: a lost race is
        ``Rejected("stale_version")``, as the engine reports a stale version it sees.
        """

        def step(case: Case) -> Outcome:
            return self.engine.fire(
                case,
                trigger,
                actor=actor,
                data=data,
                at=at,
                expected_version=expected_version if expected_version is not None else case.version,
            )

        if expected_version is None:
            return self._run(case_id, step).case
        case = self.store.load(case_id)
        out = step(case)
        children = self._children(out)
        try:
            self._save(out, case.version, children)
        except Conflict as exc:
            raise Rejected(
                "stale_version",
                f"case {case_id} changed while {trigger!r} ran: it is at version "
                f"{exc.actual}, not {expected_version}; reload it",
                expected=expected_version,
                actual=exc.actual,
            ) from exc
        self._deliver(out, children)
        return out.case

    def advance(self, case_id: str, *, at: datetime) -> Case:
        """Apply whatever fell due on the stored case by ``at`` and save it."""
        return self._run(case_id, lambda case: self.engine.advance(case, at=at)).case

    def run_due(self, at: datetime, *, limit: int = 100) -> list[Outcome]:
        """Claim up to ``limit`` due cases, advance each to ``at``, save, release.

        Returns one :class:`Outcome` per case it changed. Safe with many workers: each
        case is claimed by one of them at a time. A case that another writer moved on in
        the meantime is reloaded and advanced again.

        One case that fails (its procedure version is no longer loaded, say, or the
        effects hook raised) does not stop the others: it keeps its claim until the lease
        runs out, so that it cannot block every later run either, and the first such error
        is raised once the other cases are done.
        """
        claimed = self.store.claim_due(at, limit=limit, lease=self.lease)
        done: list[Outcome] = []
        failure: Exception | None = None
        one_by_one = list(claimed)
        if isinstance(self.store, BatchStore) and claimed:
            one_by_one, saved, failure = self._advance_batch(self.store, claimed, at)
            done += saved
        for case in one_by_one:
            try:
                out = self._run(case.id, lambda c: self.engine.advance(c, at=at), first=case)
            except Exception as exc:
                failure = failure or exc
                continue
            self.store.release(case.id)
            if out.events:
                done.append(out)
        try:
            done.extend(self.open_due(at, limit=limit))
        except Exception as exc:
            failure = failure or exc
        if failure is not None:
            raise failure
        return done

    def _advance_batch(
        self, store: BatchStore, claimed: list[Case], at: datetime
    ) -> tuple[list[Case], list[Outcome], Exception | None]:
        """Advance the claimed cases and save them in one transaction (each with its own
        compare-and-set). Returns the cases left to the one-by-one path (a lost race, a
        step that opens a linked case, or every case if the batch itself failed), the
        saved outcomes, and the first error of a case whose advance failed (that case
        keeps its claim until the lease runs out, as in the one-by-one path)."""
        failure: Exception | None = None
        rest: list[Case] = []
        steps: list[tuple[Case, Outcome]] = []
        for case in claimed:
            try:
                out = self.engine.advance(case, at=at)
            except Exception as exc:
                failure = failure or exc
                continue
            if any(effect.kind == "open" for effect in out.effects):
                rest.append(case)
            else:
                steps.append((case, out))
        keep_effects = self.outbox is not None
        writes = [
            Write(out.case, out.events, case.version, out.effects if keep_effects else ())
            for case, out in steps
            if out.events
        ]
        quiet = [case.id for case, out in steps if not out.events]
        try:
            lost = set(store.save_batch(writes, release=quiet))
        except Exception:
            return rest + [case for case, _ in steps], [], failure
        saved: list[Outcome] = []
        for case, out in steps:
            if case.id in lost:
                rest.append(case)
            elif out.events:
                saved.append(out)
                try:
                    self._deliver(out)  # the step is saved; a failing hook is reported
                except Exception as exc:
                    failure = failure or exc
        return rest, saved, failure

    def open_due(self, at: datetime, *, limit: int = 100) -> list[Outcome]:
        """Open the scheduled cases due by ``at`` (inclusive), at most ``limit`` per call.

        ``run_due`` calls this after the due cases. Per procedure, the window starts at
        the store's schedule cursor; the first time, at the earliest `from` date of its
        schedules, or else at ``at`` (nothing before the first run is opened). A worker
        that was down catches up: whatever it missed is opened, oldest first, at most
        ``limit`` openings tried per call (one another worker opened first counts too),
        listed a year of occurrences at a time, and the cursor moves to the first
        occurrence not yet opened. Each opening has a stable case id, so an occurrence
        another worker opened first is skipped (the store refuses to create it twice).
        A procedure whose opening fails keeps its cursor there and the error is raised
        after the other procedures.
        """
        check_time(at)
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"`limit` must be an int, not {type(limit).__name__}")
        end = at + timedelta(microseconds=1)  # half-open windows: `at` itself is due
        done: list[Outcome] = []
        failure: Exception | None = None
        budget = max(0, limit)
        for proc in self.engine.procedures():
            if not proc.schedule or proc.version != self.engine.procedure(proc.id).version:
                continue
            start = self.store.schedule_cursor(proc.id)
            if start is None:
                start = _first_start(proc, self.engine, at)
            if start >= end:
                continue
            position, stopped = start, False
            while position < end and not stopped:
                # A year at a time, so that a long catch-up never lists more than a
                # year of occurrences in one call, however far back its cursor is.
                chunk = min(end, position + _CATCH_UP_CHUNK)
                try:
                    due = self.engine.openings(position, chunk, proc.id)
                except Exception as exc:
                    failure = failure or exc
                    break
                for opening in due:
                    if budget <= 0:
                        position, stopped = opening.at, True  # the next call's start
                        break
                    budget -= 1
                    try:
                        out = self.engine.open(opening)
                        self._create(out)
                    except CaseExists:
                        continue  # opened already, by another worker or an earlier run
                    except Exception as exc:
                        failure = failure or exc
                        position, stopped = opening.at, True
                        break
                    self._deliver(out)
                    done.append(out)
                else:
                    position = chunk
            if position > start:
                self.store.move_schedule_cursor(proc.id, position)
        if failure is not None:
            raise failure
        return done

    # -- the loop --------------------------------------------------------------------------

    def _run(
        self,
        case_id: str,
        step: Callable[[Case], Outcome],
        *,
        first: Case | None = None,
        delivers: str | None = None,
    ) -> Outcome:
        """Load, step, save with compare-and-set; on a lost race reload and step again."""
        case = first if first is not None else self.store.load(case_id)
        attempt = 0
        while True:
            out = step(case)
            if not out.events:
                return out
            children = self._children(out)
            try:
                self._save(out, case.version, children, delivers)
            except Conflict:
                attempt += 1
                if attempt > self.retries:
                    raise
                case = self.store.load(case_id)
                continue
            self._deliver(out, children)
            return out

    def _children(self, out: Outcome) -> list[NewCase]:
        """The linked cases a step opens, each started as its ``open`` effect says.

        A child the engine refuses to open (its start data does not fit, say) rejects the
        step itself: the reason is the child's, the message says which case it was.
        """
        made: list[NewCase] = []
        for effect in out.effects:
            if effect.kind != "open":
                continue
            how = effect.detail
            procedure = str(how["procedure"])
            actor = Actor(id=str(how["actor"]), roles=frozenset({str(how["role"])}))
            try:
                child = self.engine.start(
                    procedure,
                    actor=actor,
                    data=how["data"],
                    at=effect.at,
                    case_id=effect.recipient,
                    parent=how["parent"],
                )
            except Rejected as exc:
                raise Rejected(
                    exc.reason,
                    f"the {procedure} case this step opens cannot be opened: {exc.message}",
                    **exc.details,
                ) from exc
            made.append((child.case, child.events, child.effects))
        if made and self._linking is None:
            raise TypeError(
                f"{type(self.store).__name__} cannot open linked cases: it is not an OutboxStore"
            )
        return made

    def _save(
        self,
        out: Outcome,
        expected_version: int,
        children: list[NewCase] | None = None,
        delivers: str | None = None,
    ) -> None:
        """Save a step: the case, its events, the cases it opens and (with an outbox) the
        effects, atomically."""
        if self.outbox is not None:
            if children or delivers is not None:
                self.outbox.save(
                    out.case,
                    out.events,
                    expected_version=expected_version,
                    effects=out.effects,
                    opened=children or (),
                    delivers=delivers,
                )
            else:
                self.outbox.save(
                    out.case, out.events, expected_version=expected_version, effects=out.effects
                )
        elif children or delivers is not None:
            assert self._linking is not None  # checked by _children and deliver
            self._linking.save(
                out.case,
                out.events,
                expected_version=expected_version,
                opened=[(case, events, ()) for case, events, _ in children or ()],
                delivers=delivers,
            )
        else:
            self.store.save(out.case, out.events, expected_version=expected_version)

    def _deliver(self, out: Outcome, children: list[NewCase] | None = None) -> None:
        if self.on_effects is None:
            return
        if out.effects:
            self.on_effects(out.effects)
        for _, _, effects in children or ():
            if effects:
                self.on_effects(tuple(effects))

    # -- the outbox ------------------------------------------------------------------------

    def deliver(
        self,
        handler: DeliveryHandler,
        *,
        at: datetime,
        limit: int = 100,
        attempts: int = 5,
        backoff: timedelta = timedelta(minutes=1),
    ) -> list[OutboxEntry]:
        """Hand up to ``limit`` pending effects of the outbox to ``handler``, one at a time.

        Each is claimed for ``lease`` (as ``run_due`` claims cases, so many workers may
        deliver at once), passed to ``handler`` and marked delivered once it returns; the
        delivered entries are returned. A handler that raises does not stop the others: its
        effect is tried again after ``backoff``, doubled on each further failure (at most
        a day), and after ``attempts`` failed tries it is given up on and listed by
        :meth:`failed`. The delivered effects of a batch are marked together, in one
        transaction, when the batch ends (however it ends). Delivery is at least once: a
        worker that dies after ``handler`` returned but before the mark hands the effect
        out again when its lease ends, so a receiver de-duplicates on ``entry.id``.
        """
        box = self._outbox()
        if isinstance(attempts, bool) or not isinstance(attempts, int):
            raise TypeError(f"attempts must be an int, not {type(attempts).__name__}")
        if not 1 <= attempts <= 100:
            raise ValueError("attempts must be from 1 to 100")
        if not isinstance(backoff, timedelta):
            raise TypeError(f"backoff must be a timedelta, not {type(backoff).__name__}")
        if not timedelta(0) <= backoff <= _LONGEST_BACKOFF:
            raise ValueError("backoff must be from 0 to one day")
        delivered: list[OutboxEntry] = []
        handed: list[str] = []  # delivered, marked together when the batch ends
        try:
            for entry in box.claim_effects(at, limit=limit, lease=self.lease):
                kind = entry.effect.kind
                if kind == "open":  # carried out in the transaction of its step
                    handed.append(entry.id)
                    continue
                try:
                    if kind == "resume":
                        self._resume(entry, at)  # marks it delivered in the parent's save
                        delivered.append(entry)
                        continue
                    handler(entry)
                except Exception as exc:
                    # Only the exception's class is kept: its message may quote personal data.
                    error = type(exc).__name__[:ERROR_LENGTH]
                    tries = entry.attempts + 1
                    if tries >= attempts:
                        box.effect_failed(entry.id, at=at, error=error, retry_at=None)
                    else:
                        wait = min(backoff * 2 ** (tries - 1), _LONGEST_BACKOFF)
                        box.effect_failed(entry.id, at=at, error=error, retry_at=at + wait)
                    continue
                handed.append(entry.id)
                delivered.append(entry)
        finally:
            box.effects_delivered(handed, at=at)
        return delivered

    def _resume(self, entry: OutboxEntry, at: datetime) -> None:
        """Fire a ``resume`` effect's trigger on the parent case, once.

        The procedure authorises the step (the roles of the trigger's branches from the
        parent's state); the actor the event names is the child case (``case <id>``).
        The effect is marked delivered in the transaction that saves the parent, so a
        second worker holding the same effect (a lease that ran out) writes nothing.
        """
        effect = entry.effect
        trigger = str(effect.detail["trigger"])
        data = dict(effect.detail.get("data") or {})
        name = f"case {effect.case_id}"
        actor_id = name if len(name) <= 200 else _SYSTEM_ACTOR

        def step(case: Case) -> Outcome:
            spec = self.engine.procedure(case.procedure, case.procedure_version)
            roles = frozenset(
                role
                for branch in spec.transitions.get(trigger, ())
                if case.state in branch.source
                for role in branch.roles
            )
            when = max(at, case.updated_at)
            return self.engine.fire(
                case, trigger, actor=Actor(id=actor_id, roles=roles), data=data, at=when
            )

        # AlreadyDelivered: another worker resumed the parent with this very effect.
        with contextlib.suppress(AlreadyDelivered):
            self._run(effect.recipient, step, delivers=entry.id)

    def failed(self, *, limit: int = 100) -> list[OutboxEntry]:
        """The effects that ``deliver`` gave up on, oldest failure first."""
        return self._outbox().failed_effects(limit=limit)

    def retry(self, effect_id: str, *, at: datetime) -> None:
        """Put an effect that ``deliver`` gave up on back in the outbox, due at ``at``."""
        self._outbox().retry_effect(effect_id, at=at)

    def _outbox(self) -> OutboxStore:
        if self.outbox is None:
            raise TypeError(
                f"this desk keeps no outbox: {type(self.store).__name__} is not an "
                "OutboxStore, or the desk was built with outbox=False"
            )
        return self.outbox


def _first_start(proc: Procedure, engine: Engine, at: datetime) -> datetime:
    """Where a procedure's schedules start the first time: the earliest `from` date (at
    local midnight in its calendar's zone), or ``at`` when no schedule has one."""
    dates = [s.from_ for s in proc.schedule if s.from_ is not None]
    if not dates:
        return at
    zone = engine.calendars[proc.calendar].zone
    return datetime.combine(min(dates), time(), tzinfo=zone)
