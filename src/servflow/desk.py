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
* effects go to the ``on_effects`` hook after the save has committed, never for a step
  that was rejected or lost.

The desk may use randomness (new case ids are random) and I/O; the engine may not.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any

from servflow.engine import Actor, Availability, Case, Effect, Engine, Event, Outcome
from servflow.engine.integrity import check_time
from servflow.errors import Rejected
from servflow.model import Procedure
from servflow.store.base import CaseExists, CaseStore, Conflict

__all__ = ["Desk"]

# How much of a schedule one step of a catch-up lists (see Desk.open_due).
_CATCH_UP_CHUNK = timedelta(days=366)

EffectsHook = Callable[[Sequence[Effect]], None]


class Desk:
    """Runs cases of ``engine``'s procedures, kept in ``store``.

    ``on_effects`` receives the effects of each step after its save has committed.
    ``retries`` bounds how often a step lost to a concurrent writer is run again.
    ``lease`` is how long ``run_due`` holds its claim on a case (a crashed worker's claim
    expires after it).
    """

    def __init__(
        self,
        engine: Engine,
        store: CaseStore,
        *,
        on_effects: EffectsHook | None = None,
        retries: int = 5,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        if isinstance(retries, bool) or not isinstance(retries, int):
            raise TypeError(f"retries must be an int, not {type(retries).__name__}")
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        if not isinstance(lease, timedelta):
            raise TypeError(f"lease must be a timedelta, not {type(lease).__name__}")
        if not timedelta(0) < lease <= timedelta(days=366):
            raise ValueError("lease must be more than 0 and at most 366 days")
        self.engine = engine
        self.store = store
        self.on_effects = on_effects
        self.retries = retries
        self.lease = lease

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
        self.store.create(out.case, out.events)
        self._deliver(out)
        return out.case

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
        try:
            self.store.save(out.case, out.events, expected_version=case.version)
        except Conflict as exc:
            raise Rejected(
                "stale_version",
                f"case {case_id} changed while {trigger!r} ran: it is at version "
                f"{exc.actual}, not {expected_version}; reload it",
                expected=expected_version,
                actual=exc.actual,
            ) from exc
        self._deliver(out)
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
        for case in claimed:
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
                        self.store.create(out.case, out.events)
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
        self, case_id: str, step: Callable[[Case], Outcome], *, first: Case | None = None
    ) -> Outcome:
        """Load, step, save with compare-and-set; on a lost race reload and step again."""
        case = first if first is not None else self.store.load(case_id)
        attempt = 0
        while True:
            out = step(case)
            if not out.events:
                return out
            try:
                self.store.save(out.case, out.events, expected_version=case.version)
            except Conflict:
                attempt += 1
                if attempt > self.retries:
                    raise
                case = self.store.load(case_id)
                continue
            self._deliver(out)
            return out

    def _deliver(self, out: Outcome) -> None:
        if out.effects and self.on_effects is not None:
            self.on_effects(out.effects)


def _first_start(proc: Procedure, engine: Engine, at: datetime) -> datetime:
    """Where a procedure's schedules start the first time: the earliest `from` date (at
    local midnight in its calendar's zone), or ``at`` when no schedule has one."""
    dates = [s.from_ for s in proc.schedule if s.from_ is not None]
    if not dates:
        return at
    zone = engine.calendars[proc.calendar].zone
    return datetime.combine(min(dates), time(), tzinfo=zone)
