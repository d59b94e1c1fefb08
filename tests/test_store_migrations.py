"""The SQL store's schema upgrades: from nothing, from servflow 0.1's tables with data in
them, once when many processes start together, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from servflow.cli import main
from servflow.store import CaseQuery, SqlStore
from servflow.store.migrate import HEAD, current
from servflow.store.sql import SchemaOutOfDate, utc_text
from tests.test_store_contract import CLERK, ENGINE, PG_URL, T0, opened, require_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database URL and a table prefix nobody else uses."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'desk.db'}", "servflow_"
        return
    require_postgres()
    prefix = f"mg{uuid.uuid4().hex[:12]}_"
    yield PG_URL, prefix
    bind = sa.create_engine(PG_URL)
    leftovers = sa.MetaData()
    leftovers.reflect(bind, only=lambda name, _: name.startswith(prefix))
    leftovers.drop_all(bind)
    bind.dispose()


def revision_of(url: str, prefix: str) -> str | None:
    bind = sa.create_engine(url)
    try:
        with bind.connect() as conn:
            return current(conn, prefix)
    finally:
        bind.dispose()


def make_01_database(url: str, prefix: str) -> list[str]:
    """The tables and rows servflow 0.1's SqlStore wrote, by its own definitions (copied
    from that release), holding three repair cases; returns their ids."""
    bind = sa.create_engine(url)
    time_type = sa.String(27).with_variant(sa.String(27, collation="C"), "postgresql")
    metadata = sa.MetaData()
    cases = sa.Table(
        f"{prefix}cases",
        metadata,
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("procedure", sa.String(200), nullable=False),
        sa.Column("procedure_version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("next_due", time_type, nullable=True),
        sa.Column("claimed_until", time_type, nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Index(f"ix_{prefix}cases_next_due", "next_due"),
    )
    events = sa.Table(
        f"{prefix}events",
        metadata,
        sa.Column("case_id", sa.String(255), sa.ForeignKey(cases.c.id), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", time_type, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    metadata.create_all(bind)
    ids = []
    with bind.begin() as conn:
        for n in range(3):
            first = opened(f"old-{n}", T0 + timedelta(minutes=n))
            case, log = first.case, list(first.events)
            if n == 1:
                step = ENGINE.fire(
                    case,
                    "dispatch",
                    actor=CLERK,
                    data={"technician": "李師傅"},
                    at=T0 + timedelta(minutes=5),
                )
                case, log = step.case, log + list(step.events)
            conn.execute(
                sa.insert(cases).values(
                    id=case.id,
                    procedure=case.procedure,
                    procedure_version=case.procedure_version,
                    state=case.state,
                    version=case.version,
                    next_due=utc_text(case.next_due) if case.next_due else None,
                    data=case.model_dump_json(),
                )
            )
            conn.execute(
                sa.insert(events),
                [
                    {
                        "case_id": e.case_id,
                        "seq": e.seq,
                        "at": utc_text(e.at),
                        "kind": e.kind,
                        "body": e.model_dump_json(),
                    }
                    for e in log
                ],
            )
            ids.append(case.id)
    bind.dispose()
    return ids


def test_a_new_database_gets_exactly_the_tables_the_store_declares(place):
    """The head revision and SqlStore's own table definitions agree, column by column."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url, prefix = place
    store = SqlStore(url, prefix=prefix)
    with store.bind.connect() as conn:
        assert current(conn, prefix) == HEAD
        diff = compare_metadata(MigrationContext.configure(conn), store.metadata)
    store.close()
    assert diff == []


def test_a_01_database_with_cases_is_upgraded_and_its_cases_answer_queries(place):
    url, prefix = place
    ids = make_01_database(url, prefix)
    assert revision_of(url, prefix) == "0001"
    with pytest.raises(SchemaOutOfDate, match="servflow db upgrade"):
        SqlStore(url, prefix=prefix, create=False)

    store = SqlStore(url, prefix=prefix, assignee_fields=["technician"])
    for case_id in ids:
        case = store.load(case_id)
        assert ENGINE.replay(store.history(case_id)) == case
    # The copied columns were filled from each case's JSON.
    assert [c.id for c in store.find(CaseQuery(order="opened")).cases] == ids
    mine = store.find(CaseQuery(assignee=("technician", "李師傅")))
    assert [c.id for c in mine.cases] == ["old-1"]
    overdue = store.find(CaseQuery(due_before=T0 + timedelta(hours=1), order="due"))
    assert [c.id for c in overdue.cases] == ["old-0", "old-2"]  # 30 minutes to dispatch
    # And the store goes on working on them.
    step = ENGINE.fire(
        store.load("old-0"),
        "dispatch",
        actor=CLERK,
        data={"technician": "李師傅"},
        at=T0 + timedelta(minutes=9),
    )
    store.save(step.case, step.events, expected_version=1)
    mine = store.find(CaseQuery(assignee=("technician", "李師傅")))
    assert [c.id for c in mine.cases] == ["old-0", "old-1"]
    store.close()
    # A second start finds nothing to do and keeps the recorded assignee fields.
    again = SqlStore(url, prefix=prefix, create=False)
    assert again.assignee_fields == ("technician",)
    again.close()


def test_processes_starting_together_upgrade_once(place):
    url, prefix = place
    make_01_database(url, prefix)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            SqlStore(url, prefix=prefix).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert revision_of(url, prefix) == HEAD


def test_changing_the_assignee_fields_reindexes_every_case(tmp_path):
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    make_01_database(url, "servflow_")
    store = SqlStore(url)
    assert store.assignee_fields == ()
    with pytest.raises(ValueError, match="does not index"):
        store.find(CaseQuery(assignee=("technician", "李師傅")))
    assert store.reindex_assignees(["technician"]) == 3
    assert [c.id for c in store.find(CaseQuery(assignee=("technician", "李師傅"))).cases] == [
        "old-1"
    ]
    store.close()
    later = SqlStore(url)  # no set given: the database's is used
    assert later.assignee_fields == ("technician",)
    later.close()


def test_servflow_db_upgrade_and_current(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    make_01_database(url, "servflow_")
    assert main(["db", "current", url]) == 0
    assert "revision 0001" in capsys.readouterr().out
    assert main(["db", "upgrade", url]) == 0
    assert f"upgraded from 0001 to revision {HEAD}" in capsys.readouterr().out
    assert main(["db", "upgrade", url]) == 0
    assert f"already at revision {HEAD}" in capsys.readouterr().out
    assert main(["db", "upgrade", "not a url"]) == 2
    assert "servflow db:" in capsys.readouterr().err


def test_a_failed_upgrade_leaves_the_database_as_it_was(tmp_path):
    """A case whose JSON cannot be read stops the upgrade; nothing of it is kept."""
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    make_01_database(url, "servflow_")
    bind = sa.create_engine(url)
    with bind.begin() as conn:
        conn.execute(sa.text("UPDATE servflow_cases SET data = '{}' WHERE id = 'old-2'"))
    with pytest.raises(KeyError):
        SqlStore(url)
    with bind.connect() as conn:
        assert current(conn, "servflow_") == "0001"
        columns = {c["name"] for c in sa.inspect(conn).get_columns("servflow_cases")}
    bind.dispose()
    assert "deadline" not in columns
