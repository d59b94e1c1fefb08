"""One contract suite, run against every storage adapter: memory, SQLite, PostgreSQL.

The PostgreSQL run uses the server of ``SERVFLOW_TEST_POSTGRES_URL`` (default: the local
one, ``postgresql+psycopg://root@127.0.0.1:5432/test``), in tables with a prefix of their
own, dropped afterwards. If the server cannot be reached the PostgreSQL tests fail when
``CI`` is set and are skipped otherwise.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow import Actor, Case, Engine, Outcome, ServflowError
from servflow.store import (
    AlreadyDelivered,
    CaseExists,
    CaseNotFound,
    CaseStore,
    Conflict,
    MemoryStore,
    OutboxEntry,
    OutboxStore,
    SqlStore,
    effect_id,
)

REPO = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_directory(REPO / "procedures")
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a Monday
CLERK = Actor(id="clerk", roles=frozenset({"repair_reception"}))
LEASE = timedelta(minutes=5)
PG_URL = os.environ.get(
    "SERVFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
BACKENDS = ["memory", "sqlite", "postgresql"]


def repair_data(at: datetime) -> dict[str, Any]:
    return {
        "resident_name": "王小明",
        "address": "A-1203",
        "phone": "138 0000 0000",
        "fault": "Kitchen pipe leaking",
        "appointment_at": at + timedelta(hours=3),
    }


def opened(case_id: str, at: datetime = T0) -> Outcome:
    """A new repair case: due 24 minutes later (the dispatch limit's 80 % warning)."""
    return ENGINE.start("repair", actor=CLERK, data=repair_data(at), at=at, case_id=case_id)


def dispatched(case: Case, at: datetime | None = None) -> Outcome:
    when = at if at is not None else case.updated_at + timedelta(minutes=10)
    return ENGINE.fire(case, "dispatch", actor=CLERK, data={"technician": "李師傅"}, at=when)


def cancelled(case: Case) -> Outcome:
    return ENGINE.fire(
        case,
        "cancel",
        actor=CLERK,
        data={"cancel_reason": "duplicate"},
        at=case.updated_at + timedelta(minutes=5),
    )


# -- backends -----------------------------------------------------------------------------


@functools.cache
def _postgres_problem() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None."""
    try:
        import psycopg  # noqa: F401
        import sqlalchemy as sa
    except ImportError as exc:
        return f"psycopg is not installed ({exc})"
    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except sa.exc.OperationalError as exc:
        return f"PostgreSQL is unreachable at {engine.url.render_as_string()}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()


def require_postgres() -> None:
    problem = _postgres_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem}; CI is set, so the PostgreSQL tests must run")
    pytest.skip(problem)


@dataclass
class Backend:
    """A store under test, and a way to open more handles on the same storage."""

    kind: str
    store: CaseStore
    another: Callable[[], CaseStore]
    handles: list[Any] = field(default_factory=list)


@contextmanager
def open_backend(kind: str, folder: Path) -> Iterator[Backend]:
    """A fresh, empty store of ``kind``; its tables are dropped afterwards."""
    if kind == "memory":
        memory = MemoryStore()
        yield Backend(kind, memory, lambda: memory)
        return
    if kind == "sqlite":
        url, prefix = f"sqlite:///{folder / 'cases.db'}", "servflow_"
    else:
        require_postgres()
        url, prefix = PG_URL, f"sf{uuid.uuid4().hex[:12]}_"
    first = SqlStore(url, prefix=prefix)
    backend = Backend(kind, first, lambda: SqlStore(url, prefix=prefix, create=False))
    original = backend.another

    def another() -> CaseStore:
        handle = original()
        backend.handles.append(handle)
        return handle

    backend.another = another
    try:
        yield backend
    finally:
        for handle in backend.handles:
            handle.close()
        if kind == "postgresql":
            first.metadata.drop_all(first.bind)
        first.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with open_backend(request.param, tmp_path) as made:
        yield made


@pytest.fixture
def store(backend: Backend) -> CaseStore:
    return backend.store


# -- the contract -------------------------------------------------------------------------


def test_every_adapter_implements_the_protocol(store):
    assert isinstance(store, CaseStore)


def test_importing_servflow_and_its_stores_loads_no_database_library():
    code = (
        "import sys, servflow, servflow.store, servflow.store.sql\n"
        "print(','.join(m for m in ('sqlalchemy', 'psycopg', 'sqlite3') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_create_then_load_and_history_round_trip(store):
    out = opened("r-1")
    store.create(out.case, out.events)
    assert store.load("r-1") == out.case
    assert store.history("r-1") == list(out.events)
    assert ENGINE.replay(store.history("r-1")) == store.load("r-1")


def test_unknown_case_raises_case_not_found(store):
    for call in (lambda: store.load("nope"), lambda: store.history("nope")):
        with pytest.raises(CaseNotFound) as info:
            call()
        assert isinstance(info.value, KeyError)
        assert isinstance(info.value, ServflowError)
        assert info.value.case_id == "nope"
        assert "nope" in str(info.value)
    out = opened("nope")
    with pytest.raises(CaseNotFound):
        store.save(dispatched(out.case).case, dispatched(out.case).events, expected_version=1)


def test_create_twice_raises_case_exists_and_keeps_the_first(store):
    first = opened("r-1")
    store.create(first.case, first.events)
    other = opened("r-1", T0 + timedelta(hours=1))
    with pytest.raises(CaseExists) as info:
        store.create(other.case, other.events)
    assert isinstance(info.value, Conflict)
    assert store.load("r-1") == first.case
    assert store.history("r-1") == list(first.events)


def test_save_with_the_loaded_version_appends_and_replaces(store):
    out = opened("r-1")
    store.create(out.case, out.events)
    loaded = store.load("r-1")
    step = dispatched(loaded)
    store.save(step.case, step.events, expected_version=loaded.version)
    assert store.load("r-1") == step.case
    assert store.history("r-1") == [*out.events, *step.events]
    assert ENGINE.replay(store.history("r-1")) == store.load("r-1")


def test_a_stale_save_raises_conflict_and_changes_nothing(store):
    out = opened("r-1")
    store.create(out.case, out.events)
    winner = dispatched(out.case)
    store.save(winner.case, winner.events, expected_version=1)
    loser = cancelled(out.case)  # computed on version 1 too
    with pytest.raises(Conflict) as info:
        store.save(loser.case, loser.events, expected_version=1)
    assert (info.value.case_id, info.value.expected, info.value.actual) == ("r-1", 1, 2)
    assert store.load("r-1") == winner.case
    assert store.history("r-1") == [*out.events, *winner.events]


def test_several_events_of_one_step_are_saved_together(store):
    out = opened("r-1")
    store.create(out.case, out.events)
    late = ENGINE.advance(out.case, at=T0 + timedelta(hours=1))  # warned, then breached
    assert len(late.events) == 2
    store.save(late.case, late.events, expected_version=1)
    assert [e.seq for e in store.history("r-1")] == [1, 2, 3]
    assert ENGINE.replay(store.history("r-1")) == store.load("r-1") == late.case


def test_events_that_do_not_follow_the_version_are_refused(store):
    out = opened("r-1")
    store.create(out.case, out.events)
    step = dispatched(out.case)
    with pytest.raises(ValueError, match="seq"):
        store.save(step.case, (), expected_version=1)
    with pytest.raises(ValueError, match="seq"):
        store.save(step.case, out.events, expected_version=1)
    with pytest.raises(ValueError, match="seq"):
        store.create(step.case, step.events)
    assert store.load("r-1") == out.case
    assert store.history("r-1") == list(out.events)


def test_claim_due_returns_only_due_cases_earliest_first(store):
    for n in range(3):
        out = opened(f"r-{n}", T0 + timedelta(hours=n))
        store.create(out.case, out.events)
    quiet = opened("r-quiet")
    done = cancelled(quiet.case)
    assert done.case.next_due is None
    store.create(quiet.case, quiet.events)
    store.save(done.case, done.events, expected_version=1)

    at = T0 + timedelta(hours=1, minutes=30)  # r-0 due 09:24, r-1 due 10:24, r-2 at 11:24
    first = store.claim_due(at, limit=1, lease=LEASE)
    assert [c.id for c in first] == ["r-0"]
    assert first[0] == store.load("r-0")
    assert [c.id for c in store.claim_due(at, limit=10, lease=LEASE)] == ["r-1"]
    assert store.claim_due(at, limit=10, lease=LEASE) == []
    assert store.claim_due(at + timedelta(days=30), limit=0, lease=LEASE) == []


def test_a_claimed_case_is_not_claimed_again_until_released(backend):
    store = backend.store
    out = opened("r-1")
    store.create(out.case, out.events)
    at = T0 + timedelta(hours=1)
    assert [c.id for c in store.claim_due(at, limit=5, lease=LEASE)] == ["r-1"]
    assert store.claim_due(at, limit=5, lease=LEASE) == []
    assert backend.another().claim_due(at, limit=5, lease=LEASE) == []  # another worker
    store.release("r-1")
    store.release("no-such-case")  # ignored
    assert [c.id for c in backend.another().claim_due(at, limit=5, lease=LEASE)] == ["r-1"]


def test_a_claim_expires_after_its_lease(store):
    out = opened("r-1")
    store.create(out.case, out.events)
    at = T0 + timedelta(hours=1)
    assert len(store.claim_due(at, limit=5, lease=timedelta(minutes=1))) == 1
    assert store.claim_due(at + timedelta(seconds=59), limit=5, lease=LEASE) == []
    again = store.claim_due(at + timedelta(minutes=1), limit=5, lease=LEASE)
    assert [c.id for c in again] == ["r-1"]  # the first worker died: its claim lapsed


def test_claims_and_saves_compare_times_in_utc(store):
    out = opened("r-1")  # due 09:24 Shanghai = 01:24 UTC
    store.create(out.case, out.events)
    assert store.claim_due(datetime(2026, 11, 23, 1, 23, tzinfo=UTC), limit=5, lease=LEASE) == []
    due = store.claim_due(datetime(2026, 11, 23, 1, 24, tzinfo=UTC), limit=5, lease=LEASE)
    assert [c.id for c in due] == ["r-1"]
    with pytest.raises(ValueError, match="naive"):
        store.claim_due(datetime(2026, 11, 23, 1, 24), limit=5, lease=LEASE)


def test_concurrent_saves_of_one_version_let_exactly_one_win(backend):
    out = opened("r-1")
    backend.store.create(out.case, out.events)
    candidates = [dispatched(out.case), cancelled(out.case)]
    handles = [backend.another(), backend.another()]
    barrier = threading.Barrier(2)
    results: list[str] = ["", ""]

    def write(n: int) -> None:
        barrier.wait()
        try:
            handles[n].save(candidates[n].case, candidates[n].events, expected_version=1)
            results[n] = "saved"
        except Conflict:
            results[n] = "conflict"

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["conflict", "saved"]
    winner = candidates[results.index("saved")]
    assert backend.store.load("r-1") == winner.case
    assert backend.store.history("r-1") == [*out.events, *winner.events]


def claimed_by_two_workers(backend: Backend, claim: Callable[[Any], list[str]]) -> list[str]:
    """Two handles on the store claim one at a time, at once, until nothing is left; the
    ids each claim returned, both workers' together."""
    handles = [backend.another(), backend.another()]
    barrier = threading.Barrier(2)
    claimed: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            while batch := claim(handles[n]):
                claimed[n].extend(batch)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    return claimed[0] + claimed[1]


def test_concurrent_claimers_never_get_the_same_case(backend):
    total = 12
    for n in range(total):
        out = opened(f"r-{n:02d}", T0 + timedelta(minutes=n))
        backend.store.create(out.case, out.events)
    at = T0 + timedelta(hours=2)
    every = claimed_by_two_workers(
        backend, lambda store: [c.id for c in store.claim_due(at, limit=1, lease=LEASE)]
    )
    assert len(every) == len(set(every)) == total


# -- the outbox ---------------------------------------------------------------------------


def _with_effects(store: OutboxStore, case_id: str = "r-1") -> tuple[Outcome, Outcome]:
    """A repair opened (a record to file) and dispatched (a role to notify), with effects."""
    first = opened(case_id)
    store.create(first.case, first.events, first.effects)
    step = dispatched(first.case)
    store.save(step.case, step.events, expected_version=1, effects=step.effects)
    return first, step


def test_every_adapter_keeps_an_outbox(store):
    assert isinstance(store, OutboxStore)


def test_effects_are_saved_with_their_step_under_stable_ids(store):
    first, step = _with_effects(store)
    assert [e.kind for e in (*first.effects, *step.effects)] == ["record", "notify"]
    got = store.claim_effects(T0 + timedelta(hours=1), limit=10, lease=LEASE)
    assert [e.id for e in got] == ["r-1:1:0", "r-1:2:0"]
    assert [e.id for e in got] == [effect_id("r-1", 1, 0), effect_id("r-1", 2, 0)]
    assert [e.effect for e in got] == [*first.effects, *step.effects]
    assert all(isinstance(e, OutboxEntry) and e.attempts == 0 and e.error is None for e in got)


def test_a_claimed_effect_goes_to_one_worker_until_its_lease_ends(backend):
    _with_effects(backend.store)
    at = T0 + timedelta(hours=1)
    assert len(backend.store.claim_effects(at, limit=1, lease=LEASE)) == 1
    other = backend.another()
    assert [e.id for e in other.claim_effects(at, limit=5, lease=LEASE)] == ["r-1:2:0"]
    assert other.claim_effects(at + LEASE - timedelta(seconds=1), limit=5, lease=LEASE) == []
    again = other.claim_effects(at + LEASE, limit=5, lease=LEASE)  # the first worker died
    assert [e.id for e in again] == ["r-1:1:0", "r-1:2:0"]


def test_an_effect_is_not_due_before_its_step(store):
    _, step = _with_effects(store)
    assert store.claim_effects(T0 - timedelta(seconds=1), limit=5, lease=LEASE) == []
    before = step.case.updated_at - timedelta(seconds=1)
    assert [e.id for e in store.claim_effects(before, limit=5, lease=LEASE)] == ["r-1:1:0"]
    got = store.claim_effects(step.case.updated_at, limit=5, lease=LEASE)
    assert [e.id for e in got] == ["r-1:2:0"]


def test_a_delivered_effect_is_never_handed_out_again(store):
    _with_effects(store)
    at = T0 + timedelta(hours=1)
    first, second = store.claim_effects(at, limit=5, lease=LEASE)
    store.effect_delivered(first.id, at=at)
    store.effect_delivered("no-such-effect", at=at)  # ignored
    store.effect_failed(first.id, at=at, error="Late", retry_at=None)  # too late: delivered
    later = at + timedelta(days=1)
    assert [e.id for e in store.claim_effects(later, limit=5, lease=LEASE)] == [second.id]
    assert store.failed_effects() == []


def test_effects_delivered_together_are_never_handed_out_again(store):
    _with_effects(store)
    at = T0 + timedelta(hours=1)
    claimed = store.claim_effects(at, limit=5, lease=LEASE)
    assert len(claimed) == 2
    store.effects_delivered([e.id for e in claimed] + ["no-such-effect"], at=at)
    store.effects_delivered([], at=at)  # nothing to mark
    assert store.claim_effects(at + timedelta(days=1), limit=5, lease=LEASE) == []
    assert store.failed_effects() == []


def test_a_failed_delivery_is_retried_from_its_time_then_given_up(store):
    _with_effects(store)
    at = T0 + timedelta(hours=1)
    entry = store.claim_effects(at, limit=1, lease=LEASE)[0]
    store.effect_failed(entry.id, at=at, error="TimeoutError", retry_at=at + timedelta(hours=1))
    rest = store.claim_effects(at + LEASE, limit=5, lease=LEASE)
    assert [e.id for e in rest] == ["r-1:2:0"]  # the failed one waits for its retry time
    store.effect_delivered(rest[0].id, at=at + LEASE)
    retried = store.claim_effects(at + timedelta(hours=1), limit=5, lease=LEASE)
    assert [(e.id, e.attempts, e.error) for e in retried] == [(entry.id, 1, "TimeoutError")]
    store.effect_failed(entry.id, at=at + timedelta(hours=1), error="x" * 500, retry_at=None)
    failed = store.failed_effects()
    assert [(e.id, e.attempts, len(e.error or "")) for e in failed] == [(entry.id, 2, 200)]
    assert failed[0].failed_at == at + timedelta(hours=1)
    assert failed[0].effect == entry.effect
    assert store.claim_effects(at + timedelta(days=9), limit=5, lease=LEASE) == []
    store.retry_effect(entry.id, at=at + timedelta(days=2))
    assert store.failed_effects() == []
    back = store.claim_effects(at + timedelta(days=2), limit=5, lease=LEASE)
    assert [(e.id, e.attempts) for e in back] == [(entry.id, 0)]


def test_a_lost_save_writes_none_of_its_effects(store):
    first = opened("r-1")
    store.create(first.case, first.events, first.effects)
    winner = cancelled(first.case)
    store.save(winner.case, winner.events, expected_version=1, effects=winner.effects)
    loser = dispatched(first.case)
    with pytest.raises(Conflict):
        store.save(loser.case, loser.events, expected_version=1, effects=loser.effects)
    later = T0 + timedelta(days=1)
    got = store.claim_effects(later, limit=10, lease=LEASE)
    assert [e.effect for e in got] == [*first.effects, *winner.effects]
    assert all(e.id.startswith(("r-1:1:", "r-1:2:")) for e in got)


def test_an_effect_of_another_case_is_refused_before_anything_is_written(store):
    _, step = _with_effects(store, "r-1")
    other = opened("r-2")
    with pytest.raises(ValueError, match="effect of case 'r-1'"):
        store.create(other.case, other.events, step.effects)
    with pytest.raises(TypeError, match="Effect objects"):
        store.create(other.case, other.events, ["notify"])  # type: ignore[list-item]
    with pytest.raises(CaseNotFound):
        store.load("r-2")


def test_a_save_creates_the_cases_it_opens_in_the_same_transaction(store):
    first = opened("r-1")
    store.create(first.case, first.events, first.effects)
    step = dispatched(first.case)
    child = opened("r-1-2-0", T0 + timedelta(minutes=10))
    store.save(
        step.case,
        step.events,
        expected_version=1,
        effects=step.effects,
        opened=[(child.case, child.events, child.effects)],
    )
    assert store.load("r-1-2-0") == child.case
    assert store.history("r-1-2-0") == list(child.events)
    got = store.claim_effects(T0 + timedelta(hours=1), limit=10, lease=LEASE)
    assert [e.id for e in got] == ["r-1:1:0", "r-1:2:0", "r-1-2-0:1:0"]


def test_a_save_whose_opened_case_exists_writes_nothing(store):
    first = opened("r-1")
    store.create(first.case, first.events)
    taken = opened("r-2")
    store.create(taken.case, taken.events)
    step = dispatched(first.case)
    again = opened("r-2", T0 + timedelta(minutes=10))
    with pytest.raises(CaseExists):
        store.save(
            step.case,
            step.events,
            expected_version=1,
            effects=step.effects,
            opened=[(again.case, again.events, again.effects)],
        )
    assert store.load("r-1") == first.case
    assert store.load("r-2") == taken.case
    assert store.claim_effects(T0 + timedelta(days=1), limit=10, lease=LEASE) == []


def test_a_save_that_delivers_an_effect_marks_it_once(store):
    first = opened("r-1")
    store.create(first.case, first.events, first.effects)
    mark = effect_id("r-1", 1, 0)
    other = opened("r-2")
    store.create(other.case, other.events)
    step = dispatched(other.case)
    store.save(step.case, step.events, expected_version=1, delivers=mark)
    assert store.claim_effects(T0 + timedelta(days=1), limit=10, lease=LEASE) == []
    late = cancelled(step.case)
    with pytest.raises(AlreadyDelivered):
        store.save(late.case, late.events, expected_version=2, delivers=mark)
    assert store.load("r-2") == step.case  # nothing written
    with pytest.raises(AlreadyDelivered):
        store.save(late.case, late.events, expected_version=2, delivers="r-9:1:0")


def test_concurrent_deliverers_never_get_the_same_effect(backend):
    total = 6
    for n in range(total):
        _with_effects(backend.store, f"r-{n}")
    at = T0 + timedelta(hours=2)
    every = claimed_by_two_workers(
        backend, lambda store: [e.id for e in store.claim_effects(at, limit=1, lease=LEASE)]
    )
    assert len(every) == len(set(every)) == 2 * total  # a record and a notify per case


# -- memory and SQLite agree on any sequence of operations ----------------------------------

IDS = ("a", "b", "c")


@functools.cache
def _lives() -> dict[str, list[Outcome]]:
    """Each case's life: opened, dispatched, chased, completed."""
    lives: dict[str, list[Outcome]] = {}
    for n, case_id in enumerate(IDS):
        start = T0 + timedelta(minutes=7 * n)
        life = [opened(case_id, start)]
        life.append(dispatched(life[-1].case, start + timedelta(minutes=20)))
        life.append(ENGINE.fire(life[-1].case, "chase", actor=CLERK, at=start + timedelta(hours=1)))
        done_at = start + timedelta(hours=5)
        life.append(
            ENGINE.fire(
                life[-1].case,
                "complete",
                actor=CLERK,
                data={"work_order_no": "WO-1", "completed_at": done_at},
                at=done_at,
            )
        )
        lives[case_id] = life
    return lives


operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(IDS)),
        st.tuples(st.just("save"), st.sampled_from(IDS), st.integers(1, 3)),
        st.tuples(st.just("claim"), st.integers(0, 3 * 24 * 60), st.integers(0, 3)),
        st.tuples(st.just("release"), st.sampled_from(IDS)),
        st.tuples(st.just("claim_effects"), st.integers(0, 3 * 24 * 60), st.integers(0, 3)),
        st.tuples(st.just("delivered"), st.sampled_from(IDS), st.integers(1, 4)),
        st.tuples(st.just("failed"), st.sampled_from(IDS), st.integers(1, 4), st.booleans()),
    ),
    max_size=25,
)


def _apply(store: CaseStore, op: tuple[Any, ...]) -> Any:
    lives = _lives()
    try:
        if op[0] == "create":
            first = lives[op[1]][0]
            store.create(first.case, first.events, first.effects)
        elif op[0] == "save":
            before, step = lives[op[1]][op[2] - 1], lives[op[1]][op[2]]
            store.save(
                step.case, step.events, expected_version=before.case.version, effects=step.effects
            )
        elif op[0] == "claim":
            at = T0 + timedelta(minutes=op[1])
            return [c.id for c in store.claim_due(at, limit=op[2], lease=LEASE)]
        elif op[0] == "claim_effects":
            at = T0 + timedelta(minutes=op[1])
            return [(e.id, e.attempts) for e in store.claim_effects(at, limit=op[2], lease=LEASE)]
        elif op[0] == "delivered":
            store.effect_delivered(effect_id(op[1], op[2], 0), at=T0)
        elif op[0] == "failed":
            retry = T0 + timedelta(hours=op[2]) if op[3] else None
            store.effect_failed(effect_id(op[1], op[2], 0), at=T0, error="E", retry_at=retry)
        else:
            store.release(op[1])
    except (Conflict, CaseNotFound) as exc:
        return type(exc).__name__
    return None


def _contents(store: CaseStore) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for case_id in IDS:
        try:
            found[case_id] = (store.load(case_id), store.history(case_id))
        except CaseNotFound:
            found[case_id] = None
    return found


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_memory_and_sqlite_stores_agree_on_any_sequence_of_operations(ops):
    memory = MemoryStore()
    with SqlStore("sqlite://") as sql:
        for op in ops:
            assert _apply(memory, op) == _apply(sql, op), op
        assert _contents(memory) == _contents(sql)
        assert memory.failed_effects() == sql.failed_effects()
        for found in _contents(sql).values():
            if found is not None:
                assert ENGINE.replay(found[1]) == found[0]


# -- schedule cursors ----------------------------------------------------------------------


def test_a_schedule_cursor_starts_empty_and_only_moves_forward(store):
    assert store.schedule_cursor("routine_check") is None
    store.move_schedule_cursor("routine_check", T0 + timedelta(hours=2))
    assert store.schedule_cursor("routine_check") == T0 + timedelta(hours=2)
    store.move_schedule_cursor("routine_check", T0)  # backwards: kept where it was
    assert store.schedule_cursor("routine_check") == T0 + timedelta(hours=2)
    # The same instant in another zone is not a move; a later one is.
    store.move_schedule_cursor("routine_check", (T0 + timedelta(hours=2)).astimezone(UTC))
    store.move_schedule_cursor("routine_check", T0 + timedelta(hours=3, microseconds=1))
    moved = store.schedule_cursor("routine_check")
    assert moved == T0 + timedelta(hours=3, microseconds=1)
    assert moved is not None
    assert moved.utcoffset() is not None
    assert store.schedule_cursor("other") is None  # one cursor per procedure


def test_schedule_cursor_arguments_are_checked(store):
    with pytest.raises(TypeError):
        store.schedule_cursor(3)
    with pytest.raises(ValueError, match="procedure id"):
        store.schedule_cursor("")
    with pytest.raises(ValueError, match="naive"):
        store.move_schedule_cursor("routine_check", datetime(2026, 1, 1))
    assert store.schedule_cursor("routine_check") is None


def test_concurrent_cursor_moves_leave_the_furthest(backend):
    handles = [backend.another() for _ in range(4)]
    barrier = threading.Barrier(len(handles))
    errors: list[BaseException] = []

    def move(n: int) -> None:
        try:
            barrier.wait()
            handles[n].move_schedule_cursor("routine_check", T0 + timedelta(hours=n))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(n,)) for n in range(len(handles))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert backend.store.schedule_cursor("routine_check") == T0 + timedelta(hours=3)


# -- listing cases (servflow report) ------------------------------------------------------


def test_case_ids_lists_every_stored_case_sorted_and_by_procedure(store):
    from servflow.store import CaseLister

    assert isinstance(store, CaseLister)
    assert store.case_ids() == []
    for case_id in ("r-2", "r-10", "r-1"):
        out = opened(case_id)
        store.create(out.case, out.events)
    saved = dispatched(store.load("r-1"))
    store.save(saved.case, saved.events, expected_version=1)
    assert store.case_ids() == ["r-1", "r-10", "r-2"]
    assert store.case_ids("repair") == ["r-1", "r-10", "r-2"]
    assert store.case_ids("complaint") == []


# -- batches (Desk.run_due saves a batch of due cases in one transaction) ------------------


def test_a_batch_saves_each_write_on_its_own_compare_and_set(store):
    from servflow.store import BatchStore, Write

    assert isinstance(store, BatchStore)
    cases = {}
    for n in range(3):
        out = opened(f"b-{n}", T0 + timedelta(minutes=n))
        store.create(out.case, out.events)
        cases[out.case.id] = out.case
    at = T0 + timedelta(hours=2)
    claimed = store.claim_due(at, limit=10, lease=LEASE)
    assert sorted(c.id for c in claimed) == ["b-0", "b-1", "b-2"]
    # A clerk dispatches b-1 between the claim and the batch: its write loses its race.
    clerk_step = dispatched(cases["b-1"], T0 + timedelta(minutes=20))
    store.save(clerk_step.case, clerk_step.events, expected_version=1)
    steps = {c.id: ENGINE.advance(c, at=at) for c in claimed}
    writes = [
        Write(steps[i].case, steps[i].events, 1, steps[i].effects) for i in ("b-0", "b-1", "b-2")
    ]
    assert store.save_batch(writes, release=[]) == ["b-1"]
    assert store.load("b-0") == steps["b-0"].case
    assert store.load("b-2") == steps["b-2"].case
    assert store.load("b-1") == clerk_step.case  # nothing of the lost write
    assert ENGINE.replay(store.history("b-0")) == steps["b-0"].case
    # The saved cases' claims ended; the lost one keeps its claim until released.
    later = at + timedelta(days=3)
    again = [c.id for c in store.claim_due(at + timedelta(seconds=1), limit=10, lease=LEASE)]
    assert "b-1" not in again
    store.release("b-1")
    assert "b-1" in [c.id for c in store.claim_due(later, limit=10, lease=LEASE)]
    # The saved steps' effects went to the outbox with them.
    pending = store.claim_effects(later, limit=100, lease=LEASE)
    assert {e.effect.case_id for e in pending if e.effect.kind == "notify"} >= {"b-0", "b-2"}


def test_a_batch_with_a_malformed_write_writes_nothing(store):
    from servflow.store import Write

    good, bad = opened("g-1"), opened("g-2")
    store.create(good.case, good.events)
    store.create(bad.case, bad.events)
    step = dispatched(good.case)
    other = dispatched(bad.case)
    with pytest.raises(ValueError, match="seq"):
        store.save_batch(
            [Write(step.case, step.events, 1), Write(other.case, [], 1)], release=["g-1"]
        )
    assert store.load("g-1") == good.case
    assert store.history("g-1") == list(good.events)


def test_run_due_in_batches_ends_as_case_by_case_would(backend):
    """The batch path and the case-by-case path leave the same cases and logs."""
    from servflow import Desk

    class OneByOne:
        """The same store, without save_batch: Desk takes the case-by-case path."""

        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            if name == "save_batch":
                raise AttributeError(name)
            return getattr(self._inner, name)

    batch_store = backend.store
    with open_backend("memory", Path(".")) as plain:
        for store in (batch_store, plain.store):
            for n in range(5):
                out = opened(f"d-{n}", T0 + timedelta(minutes=7 * n))
                store.create(out.case, out.events)
        at = T0 + timedelta(hours=3)
        fast = Desk(ENGINE, batch_store).run_due(at, limit=3)
        slow = Desk(ENGINE, OneByOne(plain.store)).run_due(at, limit=3)
        assert [o.case for o in fast] == [o.case for o in slow]
        for n in range(5):
            assert batch_store.load(f"d-{n}") == plain.store.load(f"d-{n}")
            assert batch_store.history(f"d-{n}") == plain.store.history(f"d-{n}")
