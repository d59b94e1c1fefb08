"""An in-memory :class:`~servflow.store.CaseStore`: for tests, demos and single processes.

Cases and events are frozen pydantic models, so the store keeps the very objects it is
given and hands them out again: nobody can change them. One lock makes every operation
atomic between the threads of one process; nothing survives the process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from servflow.engine import Case, Event
from servflow.store.base import (
    CaseExists,
    CaseNotFound,
    Conflict,
    check_claim,
    check_events,
    check_save,
    storable_id,
)

__all__ = ["MemoryStore"]


class MemoryStore:
    """Dicts behind a lock. Implements :class:`~servflow.store.CaseStore`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cases: dict[str, Case] = {}
        self._logs: dict[str, list[Event]] = {}
        self._claims: dict[str, datetime] = {}

    def create(self, case: Case, events: Sequence[Event]) -> None:
        check_events(case, events, 1)
        with self._lock:
            if case.id in self._cases:
                raise CaseExists(case.id, self._cases[case.id].version)
            self._cases[case.id] = case
            self._logs[case.id] = list(events)

    def load(self, case_id: str) -> Case:
        if not storable_id(case_id):
            raise CaseNotFound(case_id)
        with self._lock:
            try:
                return self._cases[case_id]
            except KeyError:
                raise CaseNotFound(case_id) from None

    def save(self, case: Case, events: Sequence[Event], *, expected_version: int) -> None:
        check_save(case, events, expected_version)
        with self._lock:
            stored = self._cases.get(case.id)
            if stored is None:
                raise CaseNotFound(case.id)
            if stored.version != expected_version:
                raise Conflict(case.id, expected_version, stored.version)
            self._logs[case.id].extend(events)
            self._cases[case.id] = case

    def history(self, case_id: str) -> list[Event]:
        if not storable_id(case_id):
            raise CaseNotFound(case_id)
        with self._lock:
            try:
                return list(self._logs[case_id])
            except KeyError:
                raise CaseNotFound(case_id) from None

    def claim_due(self, at: datetime, *, limit: int, lease: timedelta) -> list[Case]:
        at, until, limit = check_claim(at, limit, lease)
        now = _utc(at)
        with self._lock:
            due = sorted(
                (
                    c
                    for c in self._cases.values()
                    if c.next_due is not None
                    and _utc(c.next_due) <= now
                    and (c.id not in self._claims or self._claims[c.id] <= now)
                ),
                key=lambda c: (_utc(c.next_due or now), c.id),
            )[:limit]
            for case in due:
                self._claims[case.id] = _utc(until)
            return due

    def release(self, case_id: str) -> None:
        if not storable_id(case_id):
            return
        with self._lock:
            self._claims.pop(case_id, None)

    def close(self) -> None:
        """Nothing to close; here so that every adapter can be closed alike."""

    def case_ids(self, procedure: str | None = None) -> list[str]:
        """The ids of every stored case (of ``procedure`` only, when given), sorted."""
        with self._lock:
            return sorted(
                case_id
                for case_id, case in self._cases.items()
                if procedure is None or case.procedure == procedure
            )


def _utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: pass a timezone-aware datetime")
    return moment.astimezone(UTC)
