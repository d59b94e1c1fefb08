"""An in-memory :class:`~servflow.store.CaseStore`: for tests, demos and single processes.

Cases and events are frozen pydantic models, so the store keeps the very objects it is
given and hands them out again: nobody can change them. One lock makes every operation
atomic between the threads of one process; nothing survives the process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from servflow.engine import Case, Event
from servflow.store.base import (
    CaseExists,
    CaseNotFound,
    Conflict,
    check_claim,
    check_cursor,
    check_events,
    check_save,
    storable_id,
)
from servflow.store.query import (
    CaseQuery,
    Page,
    assignee_values,
    check_assignee_fields,
    check_assignee_query,
    check_page,
    decode_after,
    encode_after,
    sort_key,
)

__all__ = ["MemoryStore"]


class MemoryStore:
    """Dicts behind a lock. Implements :class:`~servflow.store.CaseStore`.

    ``assignee_fields`` names the fields :meth:`find` may be asked about by ``assignee``
    (as :class:`~servflow.store.SqlStore` indexes them; see :mod:`servflow.store.query`).
    """

    def __init__(self, *, assignee_fields: Iterable[str] = ()) -> None:
        self.assignee_fields: tuple[str, ...] = check_assignee_fields(assignee_fields)
        self._lock = threading.Lock()
        self._cases: dict[str, Case] = {}
        self._logs: dict[str, list[Event]] = {}
        self._claims: dict[str, datetime] = {}
        self._cursors: dict[str, datetime] = {}

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

    def find(
        self, query: CaseQuery | None = None, *, limit: int = 50, after: str | None = None
    ) -> Page:
        query = query if query is not None else CaseQuery()
        limit = check_page(limit)
        check_assignee_query(query, self.assignee_fields)
        start = decode_after(after, query.order) if after is not None else None
        with self._lock:
            cases = list(self._cases.values())
        found = sorted(
            (
                (sort_key(case, query.order), case)
                for case in cases
                if query.matches(case, assignee_values(case, self.assignee_fields))
            ),
            key=lambda pair: pair[0],
        )
        if start is not None:
            found = [pair for pair in found if pair[0] > start]
        page = found[: limit + 1]
        more = len(page) > limit
        page = page[:limit]
        return Page(
            [case for _, case in page],
            encode_after(query.order, page[-1][0]) if more else None,
        )

    def close(self) -> None:
        """Nothing to close; here so that every adapter can be closed alike."""

    def schedule_cursor(self, procedure: str) -> datetime | None:
        check_cursor(procedure)
        with self._lock:
            return self._cursors.get(procedure)

    def move_schedule_cursor(self, procedure: str, to: datetime) -> None:
        check_cursor(procedure, to)
        with self._lock:
            known = self._cursors.get(procedure)
            if known is None or _utc(known) < _utc(to):
                self._cursors[procedure] = _utc(to)

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
