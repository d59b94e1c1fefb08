"""``store.find``: the same answers, pages and errors from memory, SQLite and PostgreSQL.

The expected answers are computed here from the definitions in docs/storage.md, by
brute force over the cases themselves, not with the store's own filter.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow import Case
from servflow.store import CaseQuery, CaseStore, MemoryStore, Page, SqlStore
from servflow.store.query import MAX_PAGE
from tests.test_store_contract import (
    CLERK,
    ENGINE,
    PG_URL,
    T0,
    cancelled,
    opened,
    require_postgres,
)

FIELDS = ("technician", "callback_officer")
TECHNICIANS = ("李師傅", "t2", "t3")


@contextmanager
def fresh_store(kind: str, folder: Path) -> Iterator[CaseStore]:
    if kind == "memory":
        yield MemoryStore(assignee_fields=FIELDS)
        return
    if kind == "sqlite":
        store = SqlStore(f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}", assignee_fields=FIELDS)
    else:
        require_postgres()
        prefix = f"sq{uuid.uuid4().hex[:12]}_"
        store = SqlStore(PG_URL, prefix=prefix, assignee_fields=FIELDS)
    try:
        yield store
    finally:
        if kind == "postgresql":
            store.metadata.drop_all(store.bind)
        store.close()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CaseStore]:
    with fresh_store(request.param, tmp_path) as made:
        yield made


@functools.cache
def pool() -> tuple[tuple[Case, tuple[Any, ...]], ...]:
    """Thirty cases opened 37 minutes apart: recorded, dispatched to one of three
    technicians, or cancelled, at escalation levels 0 to 3; each with its events."""
    made = []
    for n in range(30):
        at = T0 + timedelta(minutes=37 * n)
        first = opened(f"c{n:02d}", at)
        case, events = first.case, list(first.events)
        if n % 3 == 1:
            step = ENGINE.fire(
                case,
                "dispatch",
                actor=CLERK,
                data={"technician": TECHNICIANS[n % 3 if n % 2 else 0]},
                at=at + timedelta(minutes=10 + n),
            )
            case, events = step.case, events + list(step.events)
        elif n % 5 == 0:
            step = cancelled(case)
            case, events = step.case, events + list(step.events)
        made.append((case.model_copy(update={"escalation_level": n % 4}), tuple(events)))
    return tuple(made)


def deadline(case: Case) -> datetime | None:
    due = [t.due_at for t in case.timers.values() if t.status == "running" and t.due_at]
    return min(due) if due else None


def expected(cases: list[Case], query: CaseQuery) -> list[str]:
    """The ids that answer ``query``, in its order, by the documented definitions."""
    found = []
    for case in cases:
        ends = deadline(case)
        if query.procedure is not None and case.procedure != query.procedure:
            continue
        if query.states is not None and case.state not in query.states:
            continue
        if query.min_escalation is not None and case.escalation_level < query.min_escalation:
            continue
        if query.assignee is not None and case.data.get(query.assignee[0]) != query.assignee[1]:
            continue
        if query.due_before is not None and not (ends is not None and ends < query.due_before):
            continue
        if query.order == "due" and ends is None:
            continue
        if query.order == "next_due" and case.next_due is None:
            continue
        if query.opened_from is not None and case.opened_at < query.opened_from:
            continue
        if query.opened_before is not None and case.opened_at >= query.opened_before:
            continue
        found.append(case)
    if query.order == "due":
        found.sort(key=lambda c: (deadline(c), c.id))
    elif query.order == "next_due":
        found.sort(key=lambda c: (c.next_due, c.id))
    else:
        found.sort(key=lambda c: (c.opened_at, c.id))
    return [c.id for c in found]


def every_page(store: CaseStore, query: CaseQuery, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    while True:
        page = store.find(query, limit=limit, after=after)
        assert isinstance(page, Page)
        assert len(page.cases) <= limit
        pages.append([c.id for c in page.cases])
        if page.next is None:
            return pages
        assert page.cases, "a page with a next token holds cases"
        after = page.next


def fill(store: CaseStore) -> list[Case]:
    for case, events in pool():
        store.create(case, events)
    return [case for case, _ in pool()]


moments = st.integers(-60, 30 * 37 + 3 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))
queries = st.builds(
    CaseQuery,
    procedure=st.sampled_from([None, "repair", "complaint"]),
    states=st.one_of(
        st.none(),
        st.sampled_from(["recorded", "dispatched", "cancelled"]),
        st.lists(st.sampled_from(["recorded", "dispatched", "closed"]), min_size=1, max_size=3),
    ),
    min_escalation=st.one_of(st.none(), st.integers(0, 4)),
    assignee=st.one_of(
        st.none(), st.tuples(st.sampled_from(FIELDS), st.sampled_from([*TECHNICIANS, "nobody"]))
    ),
    due_before=st.one_of(st.none(), moments),
    opened_from=st.one_of(st.none(), moments),
    opened_before=st.one_of(st.none(), moments),
    order=st.sampled_from(["opened", "due", "next_due"]),
)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CaseStore]]:
    folder = tmp_path_factory.mktemp("queries")
    with (
        fresh_store("memory", folder) as memory,
        fresh_store("sqlite", folder) as sqlite,
        fresh_store("postgresql", folder) as postgresql,
    ):
        for store in (memory, sqlite, postgresql):
            fill(store)
        yield {"memory": memory, "sqlite": sqlite, "postgresql": postgresql}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=queries, limit=st.integers(1, 12))
def test_every_store_pages_through_exactly_the_defined_answer(filled, query, limit):
    want = expected([case for case, _ in pool()], query)
    for kind, store in filled.items():
        pages = every_page(store, query, limit)
        got = [case_id for page in pages for case_id in page]
        assert got == want, kind
        assert all(len(page) == limit for page in pages[:-1]), kind


def test_my_queue_is_the_cases_assigned_to_me_soonest_due_first(store):
    fill(store)
    page = store.find(
        CaseQuery(assignee=("technician", "李師傅"), states="dispatched", order="due"), limit=100
    )
    mine = [c for c, _ in pool() if c.data.get("technician") == "李師傅"]
    assert mine
    assert {c.id for c in page.cases} == {c.id for c in mine}
    dues = [deadline(c) for c in page.cases]
    assert dues == sorted(dues)  # type: ignore[type-var]
    assert page.next is None


def test_overdue_is_a_running_limit_due_before_the_moment(store):
    fill(store)
    now = T0 + timedelta(hours=3)
    page = store.find(CaseQuery(due_before=now), limit=MAX_PAGE)
    assert page.cases
    for case in page.cases:
        assert deadline(case) is not None
        assert deadline(case) < now
    cancelled_ids = {c.id for c, _ in pool() if c.state == "cancelled"}
    assert not cancelled_ids & {c.id for c in page.cases}  # no running limit: never overdue


def test_a_save_moves_a_case_between_queues(store):
    first = opened("moving", T0)
    step = ENGINE.fire(
        first.case, "dispatch", actor=CLERK, data={"technician": "t2"}, at=T0 + timedelta(minutes=5)
    )
    store.create(step.case, [*first.events, *step.events])

    def queue(who: str) -> set[str]:
        return {c.id for c in store.find(CaseQuery(assignee=("technician", who))).cases}

    assert queue("t2") == {"moving"}
    assert queue("t3") == set()
    chased = ENGINE.fire(step.case, "chase", actor=CLERK, at=T0 + timedelta(minutes=9))
    # The store copies whatever the saved case holds: here another technician.
    handed_over = chased.case.model_copy(update={"data": {**chased.case.data, "technician": "t3"}})
    store.save(handed_over, chased.events, expected_version=step.case.version)
    assert queue("t2") == set()
    assert queue("t3") == {"moving"}
    cleared = ENGINE.fire(chased.case, "chase", actor=CLERK, at=T0 + timedelta(minutes=19))
    without = cleared.case.model_copy(
        update={"data": {k: v for k, v in cleared.case.data.items() if k != "technician"}}
    )
    store.save(without, cleared.events, expected_version=chased.case.version)
    assert queue("t3") == set()


def test_a_page_resumes_after_its_last_case_whatever_was_saved_in_between(store):
    fill(store)
    query = CaseQuery(order="opened")
    first = store.find(query, limit=5)
    # A new case opened before every other one sorts ahead of the token: not repeated,
    # not in a later page; the cases after the token all come, once each.
    early = opened("a-new-one", T0 - timedelta(days=1))
    store.create(early.case, early.events)
    rest = []
    after = first.next
    while after is not None:
        page = store.find(query, limit=7, after=after)
        rest += [c.id for c in page.cases]
        after = page.next
    ids = [c.id for c in first.cases] + rest
    assert ids == expected([c for c, _ in pool()], query)
    assert "a-new-one" not in ids


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda s: s.find(CaseQuery(assignee=("phone", "1"))), ValueError, "does not index"),
        (lambda s: s.find(limit=0), ValueError, "from 1 to 1000"),
        (lambda s: s.find(limit=MAX_PAGE + 1), ValueError, "from 1 to 1000"),
        (lambda s: s.find(limit=True), TypeError, "must be an int"),
        (lambda s: s.find(after="not a token"), ValueError, "not a token from Page.next"),
        (lambda s: s.find(after="W10"), ValueError, "not a token from Page.next"),
        (lambda s: s.find(after=7), TypeError, "token from Page.next"),
        (lambda s: s.find(after="x" * 5000), ValueError, "not a token from Page.next"),
    ],
)
def test_bad_questions_are_refused_alike_by_every_store(store, call, error, words):
    with pytest.raises(error, match=words):
        call(store)


def test_a_token_of_one_order_is_refused_by_the_other(store):
    fill(store)
    token = store.find(CaseQuery(order="due"), limit=1).next
    assert token is not None
    with pytest.raises(ValueError, match="token of an 'due' query"):
        store.find(CaseQuery(order="opened"), after=token)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"states": []}, ValueError),
        ({"states": [3]}, TypeError),
        ({"procedure": ""}, ValueError),
        ({"min_escalation": -1}, ValueError),
        ({"min_escalation": 1.5}, TypeError),
        ({"assignee": ("technician",)}, TypeError),
        ({"assignee": ("technician", 5)}, TypeError),
        ({"assignee": ("technician", "\x00")}, ValueError),
        ({"due_before": datetime(2026, 1, 1)}, ValueError),  # naive
        ({"opened_from": "2026-01-01"}, TypeError),
        ({"order": "newest"}, ValueError),
    ],
)
def test_a_malformed_query_is_refused_when_it_is_made(options, error):
    with pytest.raises(error):
        CaseQuery(**options)


def test_assignee_fields_are_names():
    with pytest.raises(TypeError, match="not one string"):
        MemoryStore(assignee_fields="technician")
    with pytest.raises(ValueError, match="name of 1 to 200 characters"):
        SqlStore("sqlite://", assignee_fields=[""])


def test_only_the_named_assignee_fields_leave_the_json(tmp_path):
    """Personal data stays in the case's JSON: the assignee table holds the named fields."""
    import sqlalchemy as sa

    with fresh_store("sqlite", tmp_path) as store:
        fill(store)
        assert isinstance(store, SqlStore)
        with store.bind.connect() as conn:
            rows = conn.execute(sa.select(store.assignees.c.field).distinct()).scalars().all()
            columns = [c.name for c in store.cases.columns]
        assert set(rows) == {"technician"}
        assert not {"phone", "resident_name", "address"} & set(columns)


@pytest.mark.parametrize(
    "query",
    [
        CaseQuery(assignee=("technician", "t2"), states="dispatched", order="due"),
        CaseQuery(procedure="repair", states=["recorded"]),
        CaseQuery(due_before=T0, order="due"),
        CaseQuery(order="next_due"),
        CaseQuery(opened_from=T0, opened_before=T0 + timedelta(days=1)),
    ],
)
def test_sqlite_answers_each_query_from_an_index(tmp_path, query):
    """No query reads the whole case table: SQLite's plan names an index for each."""
    import sqlalchemy as sa

    with fresh_store("sqlite", tmp_path) as store:
        assert isinstance(store, SqlStore)
        seen: list[str] = []

        def explain(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "LIMIT" in statement:
                plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
                seen.extend(str(row[-1]) for row in plan)

        sa.event.listen(store.bind, "before_cursor_execute", explain)
        store.find(query, limit=10)
        sa.event.remove(store.bind, "before_cursor_execute", explain)
        cases_table = f"{store.cases.name}"
        scans = [step for step in seen if step.startswith(f"SCAN {cases_table}")]
        assert seen
        assert not scans, seen


def test_times_are_compared_in_utc(store):
    fill(store)
    zone_a = store.find(CaseQuery(opened_before=T0 + timedelta(minutes=38)), limit=100)
    zone_b = store.find(
        CaseQuery(opened_before=(T0 + timedelta(minutes=38)).astimezone(UTC)), limit=100
    )
    assert [c.id for c in zone_a.cases] == [c.id for c in zone_b.cases] == ["c00", "c01"]
