"""A SqlStore on the host's own Engine or Connection: the host's rows and servflow's are
written in one transaction, committed or rolled back together, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from servflow.store import CaseNotFound, Conflict, SqlStore
from servflow.store.sql import sqlite_engine
from tests.test_store_contract import CLERK, ENGINE, PG_URL, T0, opened, require_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[sa.Engine, str]]:
    """The host's engine, a table of the host's own, and a prefix for servflow's tables."""
    if request.param == "sqlite":
        engine = sqlite_engine(f"sqlite:///{tmp_path / 'host.db'}")
        prefix = "servflow_"
    else:
        require_postgres()
        engine = sa.create_engine(PG_URL)
        prefix = f"ht{uuid.uuid4().hex[:12]}_"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {prefix}host_orders (id VARCHAR(40) PRIMARY KEY)"))
    yield engine, prefix
    if request.param == "postgresql":
        leftovers = sa.MetaData()
        leftovers.reflect(engine, only=lambda name, _: name.startswith(prefix))
        leftovers.drop_all(engine)
    engine.dispose()


def orders(engine: sa.Engine, prefix: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(f"SELECT id FROM {prefix}host_orders")).scalars())


def test_the_host_commits_its_rows_and_the_case_together(host):
    engine, prefix = host
    with engine.connect() as conn:
        with conn.begin():
            store = SqlStore(conn, prefix=prefix)
        first = opened("r-1")
        with conn.begin():
            conn.execute(sa.text(f"INSERT INTO {prefix}host_orders VALUES ('order-1')"))
            store.create(first.case, first.events)
        store.close()  # leaves the host's connection open
        assert not conn.closed
    assert orders(engine, prefix) == ["order-1"]
    check = SqlStore(engine, prefix=prefix, create=False)
    assert check.load("r-1") == first.case
    check.close()
    assert engine.pool.checkedout() == 0  # the host's engine is the host's to dispose


def test_a_rolled_back_host_transaction_takes_the_case_with_it(host):
    engine, prefix = host
    SqlStore(engine, prefix=prefix).close()
    with engine.connect() as conn:
        store = SqlStore(conn, prefix=prefix, create=False)
        first = opened("r-2")
        transaction = conn.begin()
        conn.execute(sa.text(f"INSERT INTO {prefix}host_orders VALUES ('order-2')"))
        store.create(first.case, first.events)
        assert store.load("r-2") == first.case  # visible inside the transaction
        transaction.rollback()
        with pytest.raises(CaseNotFound):
            store.load("r-2")
    assert orders(engine, prefix) == []


def test_a_lost_race_undoes_servflows_part_only(host):
    """A Conflict rolls back the store's savepoint; the host's transaction goes on."""
    engine, prefix = host
    first = opened("r-3")
    with SqlStore(engine, prefix=prefix) as plain:
        plain.create(first.case, first.events)
        step = ENGINE.fire(
            first.case,
            "dispatch",
            actor=CLERK,
            data={"technician": "t"},
            at=T0 + timedelta(minutes=5),
        )
        plain.save(step.case, step.events, expected_version=1)
    with engine.connect() as conn, conn.begin():
        store = SqlStore(conn, prefix=prefix, create=False)
        conn.execute(sa.text(f"INSERT INTO {prefix}host_orders VALUES ('order-3')"))
        with pytest.raises(Conflict):
            store.save(step.case, step.events, expected_version=1)  # already at 2
        conn.execute(sa.text(f"INSERT INTO {prefix}host_orders VALUES ('order-4')"))
    assert sorted(orders(engine, prefix)) == ["order-3", "order-4"]
    with SqlStore(engine, prefix=prefix, create=False) as again:
        assert again.load("r-3") == step.case
        assert len(again.history("r-3")) == 2


def test_a_rollback_takes_a_case_created_before_any_host_row(host):
    """The case is the transaction's first write: the savepoint must not commit it."""
    engine, prefix = host
    SqlStore(engine, prefix=prefix).close()
    with engine.connect() as conn:
        store = SqlStore(conn, prefix=prefix, create=False)
        with conn.begin() as transaction:
            first = opened("r-5")
            store.create(first.case, first.events)
            transaction.rollback()
        with pytest.raises(CaseNotFound):
            store.load("r-5")


def test_a_sqlite_engine_that_begins_lazily_is_refused(tmp_path):
    lazy = sa.create_engine(f"sqlite:///{tmp_path / 'lazy.db'}")
    with pytest.raises(ValueError, match=r"sqlite_engine\(url\)"):
        SqlStore(lazy)
    with lazy.connect() as conn, pytest.raises(ValueError, match="begin transactions lazily"):
        SqlStore(conn)
    lazy.dispose()


def test_anything_else_is_refused():
    with pytest.raises(TypeError, match="URL, a SQLAlchemy Engine or a Connection"):
        SqlStore(42)  # type: ignore[arg-type]
