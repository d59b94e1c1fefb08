"""An in-memory :class:`~servflow.store.CaseStore`: for tests, demos and single processes.

Cases and events are frozen pydantic models, so the store keeps the very objects it is
given and hands them out again: nobody can change them. One lock makes every operation
atomic between the threads of one process; nothing survives the process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from servflow.engine import Case, Effect, Event
from servflow.store.base import (
    AlreadyDelivered,
    CaseExists,
    CaseNotFound,
    Conflict,
    NewCase,
    OutboxEntry,
    Write,
    check_claim,
    check_cursor,
    check_effects,
    check_events,
    check_limit,
    check_outbox_call,
    check_save,
    error_text,
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


@dataclass
class _Outgoing:
    """An effect in the outbox and where its delivery stands."""

    order: tuple[str, int, int]
    effect: Effect
    due_at: datetime
    attempts: int = 0
    error: str | None = None
    delivered_at: datetime | None = None
    failed_at: datetime | None = None

    def entry(self, effect_id: str) -> OutboxEntry:
        return OutboxEntry(effect_id, self.effect, self.attempts, self.error, self.failed_at)


class MemoryStore:
    """Dicts behind a lock. Implements :class:`~servflow.store.OutboxStore`
    (and so :class:`~servflow.store.CaseStore`).

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
        self._outbox: dict[str, _Outgoing] = {}

    def create(self, case: Case, events: Sequence[Event], effects: Sequence[Effect] = ()) -> None:
        check_events(case, events, 1)
        rows = check_effects(case, effects)
        with self._lock:
            if case.id in self._cases:
                raise CaseExists(case.id, self._cases[case.id].version)
            self._cases[case.id] = case
            self._logs[case.id] = list(events)
            self._put(case, rows)

    def load(self, case_id: str) -> Case:
        if not storable_id(case_id):
            raise CaseNotFound(case_id)
        with self._lock:
            try:
                return self._cases[case_id]
            except KeyError:
                raise CaseNotFound(case_id) from None

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
        check_save(case, events, expected_version)
        rows = check_effects(case, effects)
        children = []
        for child, child_events, child_effects in opened:
            check_events(child, child_events, 1)
            children.append((child, list(child_events), check_effects(child, child_effects)))
        with self._lock:
            stored = self._cases.get(case.id)
            if stored is None:
                raise CaseNotFound(case.id)
            if stored.version != expected_version:
                raise Conflict(case.id, expected_version, stored.version)
            ids = [child.id for child, _, _ in children]
            for child_id in ids:
                if child_id in self._cases or ids.count(child_id) > 1:
                    raise CaseExists(child_id)
            if delivers is not None:
                done = self._outbox.get(delivers)
                if done is None or done.delivered_at is not None or done.failed_at is not None:
                    raise AlreadyDelivered(delivers)
                done.delivered_at = _utc(case.updated_at)
            self._logs[case.id].extend(events)
            self._cases[case.id] = case
            self._put(case, rows)
            for child, child_events, child_rows in children:
                self._cases[child.id] = child
                self._logs[child.id] = child_events
                self._put(child, child_rows)

    def save_batch(self, writes: Sequence[Write], *, release: Sequence[str] = ()) -> list[str]:
        prepared = []
        for write in writes:
            check_save(write.case, write.events, write.expected_version)
            prepared.append((write, check_effects(write.case, write.effects)))
        lost = []
        with self._lock:
            for write, rows in prepared:
                case = write.case
                stored = self._cases.get(case.id)
                if stored is None or stored.version != write.expected_version:
                    lost.append(case.id)
                    continue
                self._logs[case.id].extend(write.events)
                self._cases[case.id] = case
                self._put(case, rows)
                self._claims.pop(case.id, None)
            for case_id in release:
                self._claims.pop(case_id, None)
        return lost

    def _put(self, case: Case, rows: list[tuple[str, Effect]]) -> None:
        """Queue a step's effects (the lock is held): due at once, from the step's time."""
        for index, (effect_id, effect) in enumerate(rows):
            self._outbox[effect_id] = _Outgoing(
                (case.id, case.version, index), effect, _utc(case.updated_at)
            )

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

    # -- the outbox ------------------------------------------------------------------------

    def claim_effects(self, at: datetime, *, limit: int, lease: timedelta) -> list[OutboxEntry]:
        at, until, limit = check_claim(at, limit, lease)
        now = _utc(at)
        with self._lock:
            due = sorted(
                (
                    (effect_id, row)
                    for effect_id, row in self._outbox.items()
                    if row.delivered_at is None and row.failed_at is None and row.due_at <= now
                ),
                key=lambda item: (item[1].due_at, item[1].order),
            )[:limit]
            for _, row in due:
                row.due_at = _utc(until)
            return [row.entry(effect_id) for effect_id, row in due]

    def effect_delivered(self, effect_id: str, *, at: datetime) -> None:
        if not check_outbox_call(at, effect_id):
            return
        with self._lock:
            row = self._outbox.get(effect_id)
            if row is not None and row.delivered_at is None:
                row.delivered_at, row.failed_at = _utc(at), None

    def effects_delivered(self, effect_ids: Sequence[str], *, at: datetime) -> None:
        known = [i for i in effect_ids if check_outbox_call(at, i)]
        with self._lock:
            for effect_id in known:
                row = self._outbox.get(effect_id)
                if row is not None and row.delivered_at is None:
                    row.delivered_at, row.failed_at = _utc(at), None

    def effect_failed(
        self, effect_id: str, *, at: datetime, error: str, retry_at: datetime | None
    ) -> None:
        known = check_outbox_call(at, effect_id)
        if retry_at is not None:
            check_outbox_call(retry_at, effect_id)
        error = error_text(error)
        if not known:
            return
        with self._lock:
            row = self._outbox.get(effect_id)
            if row is None or row.delivered_at is not None or row.failed_at is not None:
                return
            row.attempts += 1
            row.error = error
            if retry_at is None:
                row.failed_at = _utc(at)
            else:
                row.due_at = _utc(retry_at)

    def failed_effects(self, *, limit: int = 100) -> list[OutboxEntry]:
        limit = check_limit(limit)
        with self._lock:
            failed = sorted(
                ((i, r) for i, r in self._outbox.items() if r.failed_at is not None),
                key=lambda item: (item[1].failed_at or item[1].due_at, item[1].order),
            )[:limit]
            return [row.entry(effect_id) for effect_id, row in failed]

    def retry_effect(self, effect_id: str, *, at: datetime) -> None:
        if not check_outbox_call(at, effect_id):
            return
        with self._lock:
            row = self._outbox.get(effect_id)
            if row is not None and row.failed_at is not None:
                row.failed_at, row.attempts, row.due_at = None, 0, _utc(at)

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
