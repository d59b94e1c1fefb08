"""``DjangoStore``: servflow's storage contract on the Django ORM, in the host's transaction.

Every method runs in ``transaction.atomic()``: on its own it is a transaction; inside the
host's ``atomic()`` block it is a savepoint of the host's transaction, so the host's rows
(a work order, say) and servflow's case and events commit or roll back together. The
contract is servflow's ``CaseStore`` (see servflow's docs/storage.md): atomic steps,
compare-and-set on the version, an append-only log, exclusive claims, and queries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet

from desk.models import ScheduleCursor, StoredCase, StoredEvent
from servflow import Case, Event
from servflow.store import CaseExists, CaseNotFound, CaseQuery, Conflict, Page
from servflow.store.base import check_claim, check_cursor, check_events, check_save, storable_id
from servflow.store.query import check_page, deadline_of, decode_after, encode_after, utc_text


def _row(case: Case) -> dict[str, object]:
    return {
        "procedure": case.procedure,
        "procedure_version": case.procedure_version,
        "state": case.state,
        "version": case.version,
        "escalation_level": case.escalation_level,
        "opened_at": case.opened_at,
        "next_due": case.next_due,
        "deadline": deadline_of(case),
        "data": case.model_dump(mode="json"),
    }


def _case(data: object) -> Case:
    return Case.model_validate_json(json.dumps(data))


def _events(case_id: str, events: Sequence[Event]) -> list[StoredEvent]:
    return [
        StoredEvent(
            case_id=case_id, seq=e.seq, at=e.at, kind=e.kind, body=e.model_dump(mode="json")
        )
        for e in events
    ]


class DjangoStore:
    """Cases in the host's Django models. Implements servflow's ``CaseStore``."""

    def create(self, case: Case, events: Sequence[Event]) -> None:
        check_events(case, events, 1)
        try:
            with transaction.atomic():
                StoredCase.objects.create(id=case.id, **_row(case))
                StoredEvent.objects.bulk_create(_events(case.id, events))
        except IntegrityError:
            raise CaseExists(case.id) from None

    def load(self, case_id: str) -> Case:
        if not storable_id(case_id):
            raise CaseNotFound(case_id)
        data = StoredCase.objects.filter(id=case_id).values_list("data", flat=True).first()
        if data is None:
            raise CaseNotFound(case_id)
        return _case(data)

    def save(self, case: Case, events: Sequence[Event], *, expected_version: int) -> None:
        check_save(case, events, expected_version)
        with transaction.atomic():
            changed = StoredCase.objects.filter(id=case.id, version=expected_version).update(
                **_row(case)
            )
            if changed != 1:
                actual = (
                    StoredCase.objects.filter(id=case.id).values_list("version", flat=True).first()
                )
                if actual is None:
                    raise CaseNotFound(case.id)
                raise Conflict(case.id, expected_version, actual)
            StoredEvent.objects.bulk_create(_events(case.id, events))

    def history(self, case_id: str) -> list[Event]:
        if not storable_id(case_id):
            raise CaseNotFound(case_id)
        bodies = list(
            StoredEvent.objects.filter(case_id=case_id)
            .order_by("seq")
            .values_list("body", flat=True)
        )
        if not bodies and not StoredCase.objects.filter(id=case_id).exists():
            raise CaseNotFound(case_id)
        return [Event.model_validate_json(json.dumps(body)) for body in bodies]

    def claim_due(self, at: datetime, *, limit: int, lease: timedelta) -> list[Case]:
        at, until, limit = check_claim(at, limit, lease)
        if limit <= 0:
            return []
        with transaction.atomic():
            due = (
                StoredCase.objects.filter(next_due__lte=at)
                .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=at))
                .order_by("next_due", "id")
            )
            if connection.features.has_select_for_update_skip_locked:
                due = due.select_for_update(skip_locked=True)
            rows = list(due.values_list("id", "data")[:limit])
            StoredCase.objects.filter(id__in=[case_id for case_id, _ in rows]).update(
                claimed_until=until
            )
        return [_case(data) for _, data in rows]

    def release(self, case_id: str) -> None:
        if storable_id(case_id):
            StoredCase.objects.filter(id=case_id).update(claimed_until=None)

    def find(
        self, query: CaseQuery | None = None, *, limit: int = 50, after: str | None = None
    ) -> Page:
        query = query if query is not None else CaseQuery()
        limit = check_page(limit)
        start = decode_after(after, query.order) if after is not None else None
        key = {"due": "deadline", "next_due": "next_due"}.get(query.order, "opened_at")
        rows: QuerySet[StoredCase] = StoredCase.objects.all()
        if query.procedure is not None:
            rows = rows.filter(procedure=query.procedure)
        if query.states is not None:
            rows = rows.filter(state__in=list(query.states))
        if query.min_escalation is not None:
            rows = rows.filter(escalation_level__gte=query.min_escalation)
        if query.assignee is not None:
            field, value = query.assignee
            rows = rows.filter(**{f"data__data__{field}": value})
        if query.due_before is not None:
            rows = rows.filter(deadline__lt=query.due_before)
        if query.opened_from is not None:
            rows = rows.filter(opened_at__gte=query.opened_from)
        if query.opened_before is not None:
            rows = rows.filter(opened_at__lt=query.opened_before)
        if query.order != "opened":
            rows = rows.filter(**{f"{key}__isnull": False})
        if start is not None:
            moment = datetime.fromisoformat(start[0].removesuffix("Z")).replace(tzinfo=UTC)
            rows = rows.filter(Q(**{f"{key}__gt": moment}) | Q(**{key: moment, "id__gt": start[1]}))
        found = list(rows.order_by(key, "id")[: limit + 1])
        more = len(found) > limit
        found = found[:limit]
        cases = [_case(row.data) for row in found]
        last = (utc_text(getattr(found[-1], key)), found[-1].id) if found else None
        return Page(cases, encode_after(query.order, last) if more and last else None)

    def schedule_cursor(self, procedure: str) -> datetime | None:
        check_cursor(procedure)
        return (
            ScheduleCursor.objects.filter(procedure=procedure)
            .values_list("until", flat=True)
            .first()
        )

    def move_schedule_cursor(self, procedure: str, to: datetime) -> None:
        check_cursor(procedure, to)
        with transaction.atomic():
            moved = ScheduleCursor.objects.filter(procedure=procedure, until__lt=to).update(
                until=to
            )
            if not moved:
                try:
                    with transaction.atomic():
                        ScheduleCursor.objects.get_or_create(
                            procedure=procedure, defaults={"until": to}
                        )
                except IntegrityError:  # another worker made it first: move theirs
                    ScheduleCursor.objects.filter(procedure=procedure, until__lt=to).update(
                        until=to
                    )
