"""What a SQLite file promises once a commit returns: ``synchronous`` of SqlStore and
sqlite_engine (FULL by default, NORMAL when asked), in WAL mode, and refused where a store
cannot apply it."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from servflow.store import SqlStore
from servflow.store.sql import _enter_wal, sqlite_engine
from tests.test_store_contract import opened

# PRAGMA synchronous answers with a number: 1 NORMAL, 2 FULL.
LEVELS = {"normal": 1, "full": 2}


def pragmas(bind: sa.Engine) -> tuple[str, int]:
    with bind.connect() as conn:
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
        level = conn.exec_driver_sql("PRAGMA synchronous").scalar_one()
    return journal, level


def test_a_file_store_waits_for_the_disk_at_each_commit_by_default(tmp_path: Path) -> None:
    with SqlStore(f"sqlite:///{tmp_path / 'desk.db'}") as store:
        assert pragmas(store.bind) == ("wal", LEVELS["full"])


@pytest.mark.parametrize("choice", ["full", "normal"])
def test_the_choice_reaches_every_connection_and_the_cases_are_kept(
    tmp_path: Path, choice: str
) -> None:
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    first = opened("r-1")
    with SqlStore(url, synchronous=choice) as store:  # type: ignore[arg-type]
        store.create(first.case, first.events)
        # a second connection of the pool (the first still checked out) is set up alike
        with store.bind.connect() as one:
            assert one.exec_driver_sql("PRAGMA synchronous").scalar_one() == LEVELS[choice]
            one.commit()
            with store.bind.connect() as two:
                assert two.connection.dbapi_connection is not one.connection.dbapi_connection
                assert two.exec_driver_sql("PRAGMA synchronous").scalar_one() == LEVELS[choice]
    with SqlStore(url, create=False) as again:
        assert again.load("r-1") == first.case


def test_a_hosts_engine_takes_the_choice_from_sqlite_engine(tmp_path: Path) -> None:
    bind = sqlite_engine(f"sqlite:///{tmp_path / 'host.db'}", synchronous="normal")
    try:
        assert pragmas(bind) == ("wal", LEVELS["normal"])
        SqlStore(bind).close()
    finally:
        bind.dispose()


def test_an_unknown_choice_is_refused_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous is 'full' or 'normal', not 'off'"):
        sqlite_engine(f"sqlite:///{tmp_path / 'x.db'}", synchronous="off")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not 'off'"):
        SqlStore(f"sqlite:///{tmp_path / 'y.db'}", synchronous="off")  # type: ignore[arg-type]


def test_a_store_on_a_hosts_engine_refuses_a_choice_it_cannot_apply(tmp_path: Path) -> None:
    """The host's engine is already set up: the store must not pretend to change it."""
    bind = sqlite_engine(f"sqlite:///{tmp_path / 'host.db'}")
    try:
        with pytest.raises(ValueError, match=r"sqlite_engine\(url, synchronous=\.\.\.\)"):
            SqlStore(bind, synchronous="normal")
        assert pragmas(bind)[1] == LEVELS["full"]
    finally:
        bind.dispose()


class _Cursor:
    """A cursor whose file is held by others for the first ``refusals`` attempts."""

    def __init__(self, refusals: int, mode: str = "delete", error: str = "database is locked"):
        self.refusals, self.mode, self.error = refusals, mode, error
        self.statements: list[str] = []

    def execute(self, statement: str) -> _Cursor:
        self.statements.append(statement)
        if self.refusals:
            self.refusals -= 1
            raise sqlite3.OperationalError(self.error)
        if statement == "PRAGMA journal_mode = WAL":
            self.mode = "wal"
        return self

    def fetchone(self) -> tuple[str]:
        return (self.mode,)


def test_a_connection_refused_the_switch_to_wal_waits_and_looks_again() -> None:
    cursor = _Cursor(refusals=3)
    _enter_wal(cursor, patience=5)
    assert cursor.mode == "wal"
    assert cursor.statements[-1] == "PRAGMA journal_mode = WAL"


def test_a_file_in_wal_already_is_not_switched_again() -> None:
    cursor = _Cursor(refusals=0, mode="wal")
    _enter_wal(cursor, patience=5)
    assert cursor.statements == ["PRAGMA journal_mode"]


def test_the_wait_for_wal_ends_and_says_why() -> None:
    cursor = _Cursor(refusals=10_000)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _enter_wal(cursor, patience=0.2)
    assert time.monotonic() - started < 2
    assert cursor.mode == "delete"


def test_other_errors_are_not_waited_out() -> None:
    cursor = _Cursor(refusals=1, error="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _enter_wal(cursor, patience=5)
    assert len(cursor.statements) == 1


def test_stores_opening_a_new_file_together_all_start(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def start(url: str) -> None:
        try:
            SqlStore(url).close()
        except BaseException as exc:  # every failure is the test's
            errors.append(exc)

    for round_ in range(5):
        url = f"sqlite:///{tmp_path / f'desk-{round_}.db'}"
        threads = [threading.Thread(target=start, args=(url,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
