"""The SQL store's two ways of running its statements write the same rows.

A store made from a URL runs its hot statements on the driver's cursor; a store on the
host's Engine runs them through SQLAlchemy (servflow.store.sql_run). A random life of
cases (opened, stepped, advanced by ``run_due``, delivered) is played through a Desk on
each, side by side (three repairs open first): every call must end alike and every table
must hold the same rows.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow import Actor, Desk, ServflowError
from servflow.store import CaseExists, CaseQuery, SqlStore
from servflow.store.sql import sqlite_engine
from servflow.store.sql_run import CoreRunner, DriverRunner, Statement
from tests.test_store_contract import CLERK, ENGINE, PG_URL, T0, repair_data, require_postgres

SUPERVISOR = Actor(id="supervisor", roles=frozenset({"cs_supervisor"}))
OFFICER = Actor(id="officer", roles=frozenset({"callback_officer"}))

Step = tuple[str, Actor, Callable[[Any], dict[str, Any]]]
STEPS: list[Step] = [
    ("dispatch", CLERK, lambda at: {"technician": "李師傅"}),
    ("dispatch", CLERK, lambda at: {"technician": "t-7", "priority": "urgent"}),
    ("chase", CLERK, lambda at: {}),
    ("reprioritise", CLERK, lambda at: {"priority": "emergency"}),
    ("reprioritise", SUPERVISOR, lambda at: {"priority": "normal"}),
    ("complete", CLERK, lambda at: {"work_order_no": "WO-1", "completed_at": at}),
    ("cancel", CLERK, lambda at: {"cancel_reason": "duplicate"}),
    ("designate", SUPERVISOR, lambda at: {"callback_officer": "officer"}),
    ("record_result", OFFICER, lambda at: {"satisfied": True, "callback_notes": "Fixed"}),
]

operations = st.lists(
    st.tuples(
        st.integers(1, 24 * 60),  # minutes since the operation before
        st.one_of(
            st.tuples(st.just("open"), st.integers(0, 2)),
            st.tuples(st.just("fire"), st.integers(0, 2), st.integers(0, len(STEPS) - 1)),
            st.tuples(st.just("fire_child"), st.integers(0, 2), st.integers(0, len(STEPS) - 1)),
            st.tuples(st.just("run_due"), st.integers(1, 3)),
            st.tuples(st.just("deliver"), st.integers(1, 3)),
            st.tuples(st.just("claim"), st.integers(1, 3)),
            st.tuples(st.just("release"), st.integers(0, 2)),
        ),
    ),
    max_size=30,
)


def apply(desk: Desk, operation: tuple[Any, ...], at: Any) -> object:
    """Run one operation; what it returned, or the kind of error it raised."""
    kind = operation[0]
    try:
        if kind == "open":
            return desk.open(
                "repair", actor=CLERK, data=repair_data(at), at=at, case_id=f"r{operation[1]}"
            )
        if kind in ("fire", "fire_child"):
            case_id = f"r{operation[1]}"
            if kind == "fire_child":  # the callback case the repair's completion opened
                opened = [e for e in desk.history(case_id) if e.detail.get("opens")]
                if not opened:
                    return "no child"
                case_id = opened[-1].detail["opens"][0]
            trigger, actor, data = STEPS[operation[2]]
            return desk.fire(case_id, trigger, actor=actor, data=data(at), at=at)
        if kind == "claim":  # as run_due does, without the steps
            return desk.store.claim_due(at, limit=operation[1], lease=timedelta(minutes=5))
        if kind == "release":
            desk.store.release(f"r{operation[1]}")
            return None
        if kind == "run_due":
            return [out.case for out in desk.run_due(at, limit=operation[1])]
        return [entry.id for entry in desk.deliver(lambda entry: None, at=at, limit=operation[1])]
    except (ServflowError, KeyError) as exc:
        return (type(exc).__name__, getattr(exc, "reason", None))


def rows(store: SqlStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store, by the table's name without its prefix."""
    prefix = store.cases.name.removesuffix("cases")
    found = {}
    with store.bind.connect() as conn:
        for table in store.metadata.sorted_tables:
            every = [tuple(row) for row in conn.execute(sa.select(table))]
            found[table.name.removeprefix(prefix)] = sorted(every, key=repr)
    return found


@contextmanager
def two_stores(folder: Path) -> Iterator[tuple[SqlStore, SqlStore]]:
    """A store on the driver's cursor and one through SQLAlchemy, each on its own file."""
    host = sqlite_engine(f"sqlite:///{folder / 'core.db'}")
    driver = SqlStore(f"sqlite:///{folder / 'driver.db'}", assignee_fields=["technician"])
    core = SqlStore(host, assignee_fields=["technician"])
    try:
        yield driver, core
    finally:
        driver.close()
        host.dispose()


def test_a_store_from_a_url_runs_on_the_driver_and_a_hosts_engine_through_sqlalchemy(
    tmp_path,
):
    with two_stores(tmp_path) as (driver, core):
        with driver._run() as run:
            assert isinstance(run, DriverRunner)
        with core._run() as run:
            assert isinstance(run, CoreRunner)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations)
def test_the_driver_and_sqlalchemy_write_the_same_rows(steps):
    with tempfile.TemporaryDirectory() as folder, two_stores(Path(folder)) as (driver, core):
        desks = Desk(ENGINE, driver), Desk(ENGINE, core)
        at = T0
        for minutes, operation in [(0, ("open", n)) for n in range(3)] + steps:
            at += timedelta(minutes=minutes)
            first, second = (apply(desk, operation, at) for desk in desks)
            assert first == second, operation
            assert rows(driver) == rows(core), operation


# Values a resident or an attacker may type: quotes, SQL, backslashes, CJK, emoji, other
# scripts; stored as the engine's JSON text, a parameter on either path.
HOSTILE_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=120,
).filter(lambda text: text.strip() != "") | st.sampled_from(
    [
        "'); DROP TABLE cases; --",
        '" OR 1=1 --',
        "\\'\\\"%_?:name$1",
        "王小明 🏠 A座\u300012樓",
        "ا\u200fلعربية",
    ]
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=HOSTILE_TEXT, fault=HOSTILE_TEXT, technician=HOSTILE_TEXT)
def test_hostile_text_is_stored_alike_on_both_paths(name, fault, technician):
    with tempfile.TemporaryDirectory() as folder, two_stores(Path(folder)) as (driver, core):
        answers = []
        for store in (driver, core):
            desk = Desk(ENGINE, store)
            data = {**repair_data(T0), "resident_name": name, "fault": fault}
            try:
                desk.open("repair", actor=CLERK, data=data, at=T0, case_id="r-1")
                case = desk.fire(
                    "r-1", "dispatch", actor=CLERK, data={"technician": technician}, at=T0
                )
            except ServflowError as exc:  # refused alike (a value the field does not take)
                answers.append((type(exc).__name__, getattr(exc, "reason", None)))
                continue
            assert store.load("r-1") == case
            assert store.find(CaseQuery(assignee=("technician", technician))) != []
            answers.append(case.model_dump(mode="json"))
        assert answers[0] == answers[1]
        assert rows(driver) == rows(core)


# A repair's whole life, with its callback case and the resume it sends back.
A_LIFE: list[tuple[Any, ...]] = [
    ("open", 1),
    ("open", 2),
    ("fire", 1, 0),
    ("fire", 1, 2),
    ("claim", 3),
    ("release", 1),
    ("release", 2),
    ("run_due", 3),
    ("fire", 1, 5),
    ("fire_child", 1, 7),
    ("fire_child", 1, 8),
    ("deliver", 20),
    ("fire", 2, 6),
    ("open", 2),
    ("run_due", 3),
]


def live(driver: SqlStore, core: SqlStore) -> None:
    desks = Desk(ENGINE, driver), Desk(ENGINE, core)
    at = T0
    for operation in A_LIFE:
        at += timedelta(hours=5)
        first, second = (apply(desk, operation, at) for desk in desks)
        assert first == second, operation
        assert rows(driver) == rows(core), operation
    assert driver.load("r1").state == "closed"  # resumed by its callback, through the outbox


def test_a_whole_life_writes_the_same_rows(tmp_path):
    with two_stores(tmp_path) as (driver, core):
        live(driver, core)


def test_a_whole_life_on_postgresqls_driver_writes_what_sqlalchemy_writes_on_sqlite():
    require_postgres()
    prefix = f"dr{uuid.uuid4().hex[:12]}_"
    driver = SqlStore(PG_URL, prefix=prefix, assignee_fields=["technician"])
    try:
        with tempfile.TemporaryDirectory() as folder, two_stores(Path(folder)) as (_, core):
            live(driver, core)
    finally:
        driver.metadata.drop_all(driver.bind)
        driver.close()


def test_the_drivers_errors_are_sqlalchemys(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'cases.db'}")
    out = ENGINE.start("repair", actor=CLERK, data=repair_data(T0), at=T0, case_id="r-1")
    store.create(out.case, out.events)
    with pytest.raises(CaseExists):  # from the driver's IntegrityError
        store.create(out.case, out.events)
    with pytest.raises(sa.exc.IntegrityError) as info, store._run() as run:
        run.count(store._sql.insert_case, {"id": "r-1", **store._case_row(out.case)})
    assert "r-1" not in str(info.value)  # the parameters are hidden
    store.close()


def test_the_compiled_statements_take_every_column_the_row_builders_give(tmp_path):
    # The driver's path writes the columns a statement was compiled with: a column the
    # row builders gained and the statement did not would be dropped without a word.
    from servflow.store import sql

    out = ENGINE.start("repair", actor=CLERK, data=repair_data(T0), at=T0, case_id="r-1")
    store = SqlStore(f"sqlite:///{tmp_path / 'cases.db'}")
    try:
        effects = store._outbox_rows(out.case, out.effects)
        assert effects
        assert set(store._case_row(out.case)) == set(sql._CASE_COLUMNS)
        assert set(store._event_row(out.events[0])) == set(sql._EVENT_COLUMNS)
        assert all(set(row) == set(sql._EFFECT_COLUMNS) for row in effects)
        tables = {
            "cases": (store.cases, {"id", "claimed_until", *sql._CASE_COLUMNS}),
            "events": (store.events, set(sql._EVENT_COLUMNS)),
            "outbox": (store.outbox, set(sql._EFFECT_COLUMNS)),
        }
        for name, (table, written) in tables.items():
            assert {column.name for column in table.columns} == written, name
    finally:
        store.close()


def test_a_statement_whose_values_need_converting_is_refused():
    # SQLite keeps a DateTime as text that SQLAlchemy writes: the driver could not.
    table = sa.Table("t", sa.MetaData(), sa.Column("at", sa.DateTime))
    with pytest.raises(TypeError, match="needs converting"):
        Statement.build(sa.insert(table), sqlite_engine("sqlite://").dialect, ["at"])


def test_a_step_sets_only_the_columns_it_changed_and_keeps_unchanged_assignee_rows(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'cases.db'}", assignee_fields=["technician"])
    desk = Desk(ENGINE, store)
    desk.open("repair", actor=CLERK, data=repair_data(T0), at=T0, case_id="r-1")
    desk.fire("r-1", "dispatch", actor=CLERK, data={"technician": "t-7"}, at=T0)
    said: list[str] = []

    @sa.event.listens_for(store.bind, "checkout")
    def trace(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_trace_callback(said.append)

    for kept in store._idle:  # the connections the store keeps between transactions
        kept.connection.driver_connection.set_trace_callback(said.append)

    desk.fire("r-1", "chase", actor=CLERK, at=T0 + timedelta(minutes=5))
    [update] = [sql for sql in said if sql.startswith("UPDATE servflow_cases")]
    assert update.split(" WHERE ")[0].startswith("UPDATE servflow_cases SET version=")
    assert "state=" not in update  # so its index is left alone
    assert "next_due=" not in update
    assert not [sql for sql in said if "servflow_assignees (" in sql or "DELETE" in sql]
    said.clear()
    desk.fire("r-1", "cancel", actor=CLERK, data={"cancel_reason": "dup"}, at=T0 + timedelta(1))
    [update] = [sql for sql in said if sql.startswith("UPDATE servflow_cases")]
    assert "state='cancelled'" in update
    assert store.find(CaseQuery(assignee=("technician", "t-7"))).cases[0].state == "cancelled"
    store.close()


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("claim_due", "ix_servflow_cases_next_due"),
        ("load_case", "sqlite_autoindex_servflow_cases_1"),
        ("stored_case", "sqlite_autoindex_servflow_cases_1"),
        ("claim_case", "sqlite_autoindex_servflow_cases_1"),
    ],
)
def test_the_hot_statements_read_an_index_not_the_table(tmp_path, name, index):
    store = SqlStore(f"sqlite:///{tmp_path / 'cases.db'}", assignee_fields=["technician"])
    statement = getattr(store._sql, name)
    with store.bind.connect() as conn:
        args = [None] * len(statement.keys)
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement.sql}", tuple(args)).all()
    steps = [str(row[-1]) for row in plan]
    assert not [step for step in steps if step.startswith("SCAN")], steps
    assert any(f"USING INDEX {index}" in step for step in steps), steps
    store.close()


def test_sqlite_connections_kept_between_transactions_go_back_when_done(tmp_path):
    from servflow.store.sql import _KEPT

    store = SqlStore(f"sqlite:///{tmp_path / 'cases.db'}")
    pool = store.bind.pool
    out = ENGINE.start("repair", actor=CLERK, data=repair_data(T0), at=T0, case_id="r-1")
    store.create(out.case, out.events)
    assert len(store._idle) == 1
    assert pool.checkedout() == 1
    with pytest.raises(CaseExists):  # a failed transaction's connection is not kept
        store.create(out.case, out.events)
    assert not store._idle
    assert pool.checkedout() == 0
    assert store.load("r-1") == out.case

    def work() -> None:
        for _ in range(20):
            store.load("r-1")

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= len(store._idle) <= _KEPT
    assert pool.checkedout() == len(store._idle)
    store.close()
    assert not store._idle
    assert pool.checkedout() == 0


def test_a_kept_connection_reads_what_another_store_wrote(tmp_path):
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    with SqlStore(url) as reader, SqlStore(url, create=False) as writer:
        desk = Desk(ENGINE, writer)
        desk.open("repair", actor=CLERK, data=repair_data(T0), at=T0, case_id="r-1")
        assert reader.load("r-1").version == 1
        desk.fire("r-1", "dispatch", actor=CLERK, data={"technician": "t-7"}, at=T0)
        assert reader.load("r-1").version == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_process_uses_none_of_the_connections_its_parent_kept(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'cases.db'}")
    out = ENGINE.start("repair", actor=CLERK, data=repair_data(T0), at=T0, case_id="r-1")
    store.create(out.case, out.events)
    # Held here, so that no connection the child opens can take one's place in memory.
    parents = [run.connection.driver_connection for run in store._idle]
    assert parents
    # The child's pool is the host's to let go after a fork, as SQLAlchemy asks.
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        status = 1
        try:
            store.bind.dispose(close=False)
            fine = store.load("r-1") == out.case
            used = [run.connection.driver_connection for run in store._idle]
            shared = any(u is p for u in used for p in parents)
            status = 0 if fine and used and not shared else 2
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.load("r-1") == out.case  # the parent's connections still serve it
    assert all(any(run.connection.driver_connection is p for p in parents) for run in store._idle)
    store.close()


def test_a_postgresql_store_keeps_no_connection_out_of_its_pool():
    require_postgres()
    store = SqlStore(PG_URL, prefix=f"kp{uuid.uuid4().hex[:12]}_")
    try:
        out = ENGINE.start("repair", actor=CLERK, data=repair_data(T0), at=T0, case_id="r-1")
        store.create(out.case, out.events)
        assert store.load("r-1") == out.case
        assert not store._idle
    finally:
        store.metadata.drop_all(store.bind)
        store.close()
