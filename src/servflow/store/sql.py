"""A SQL :class:`~servflow.store.CaseStore` on SQLAlchemy Core: SQLite embedded, PostgreSQL.

Tables (names take a ``prefix``, ``servflow_`` by default)::

    servflow_cases      id PK, procedure, procedure_version, state, version,
                        next_due (indexed), claimed_until, data (the case's JSON),
                        escalation_level, opened_at, deadline (indexed for queries)
    servflow_events     case_id, seq, PK (case_id, seq), at, kind, body (the event's JSON)
    servflow_assignees  case_id, field, PK (case_id, field), value: the store's
                        ``assignee_fields``, indexed (field, value, case_id) for ``find``
    servflow_schedule_cursors  procedure PK, until (how far its schedules were opened)
    servflow_outbox     id PK (case_id:seq:index), case_id, seq, idx, kind, due_at (indexed),
                        attempts, error, delivered_at, failed_at, body (the effect's JSON)

The JSON columns are the source of truth (``Case.model_dump_json()``,
``Event.model_dump_json()``); the other columns are copies for queries. Personal data
lives only in the JSON, and the engine is built with ``hide_parameters=True`` so that no
value reaches a log or an error message.

Times are stored as ISO 8601 UTC text of one fixed width, ``2026-11-23T01:00:00.000000Z``
(see :func:`utc_text`), so that text order is time order on every database; on
PostgreSQL the columns use the ``C`` collation, so no locale can change that order.

Concurrency:

* ``save`` is ``UPDATE ... WHERE id = :id AND version = :expected``; no row changed means
  another writer saved first (:class:`~servflow.store.Conflict`). The events are
  inserted in the same transaction. The UPDATE sets only the columns whose values
  changed, and the assignee rows are rewritten only when they changed (the stored row
  is read first, in the same transaction), so SQLite leaves the other indexes alone.
* The effects of a step go into the outbox in the transaction that saves the step.
  ``claim_effects`` works as ``claim_due`` does, on ``due_at`` (which a claim moves to
  the end of its lease, and a failed delivery to the time of the next try).
* ``claim_due`` selects due, unclaimed (or expired) rows and stamps ``claimed_until`` in one
  transaction. On PostgreSQL the select is ``FOR UPDATE SKIP LOCKED``: concurrent
  claimers skip each other's rows instead of waiting for them. On SQLite every writing
  transaction starts with ``BEGIN IMMEDIATE``, which takes the database's one write lock
  up front, so claims are serialised (and a ``save`` cannot deadlock upgrading a read
  lock); file databases use WAL mode, so readers do not wait for the writer.

A store made from a URL runs the statements of its hot paths on the driver's cursor,
compiled once; a store on the host's Engine or Connection runs them through SQLAlchemy
(see :mod:`servflow.store.sql_run`).

sqlalchemy is imported inside the methods, not at the top: ``import servflow`` (and so
``import servflow.engine``) must not load a database library. After the first call the
import is a dictionary look-up.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from servflow.bounds import ID_LENGTH
from servflow.engine import Case, Effect, Event
from servflow.errors import IntegrityError, ServflowError
from servflow.store.base import (
    ERROR_LENGTH,
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
    deadline_of,
    decode_after,
    encode_after,
    utc_text,
)
from servflow.store.sql_run import CoreRunner, DriverRunner, Runner, Statement

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["ID_LENGTH", "SchemaOutOfDate", "SqlStore", "sqlite_engine", "utc_text"]

Synchronous = Literal["full", "normal"]
_SYNCHRONOUS: dict[str, str] = {"full": "FULL", "normal": "NORMAL"}

_TIME_WIDTH = len("2026-11-23T01:00:00.000000Z")
# An effect's id is its case's id, ":", the step's seq and ":", its index (two ints).
_EFFECT_ID_LENGTH = ID_LENGTH + 24


class SqlStore:
    """Cases, audit logs and the outbox in SQL tables. Implements :class:`~servflow.store.OutboxStore`.

    ``url`` is a SQLAlchemy URL: ``sqlite:///servflow.db`` (the default, a file beside the
    process), ``sqlite://`` (in memory, one per store), or
    ``postgresql+psycopg://user@host/db`` (install ``servflow[postgres]``); or the host's
    own SQLAlchemy ``Engine``, or a ``Connection``, so that the host's rows and servflow's
    are written in one transaction (each operation then runs in a savepoint of the host's
    transaction, and the host commits). ``create`` upgrades the tables to this release's
    schema, creating them if missing (see :mod:`servflow.store.migrate`). ``prefix``
    names the tables (``<prefix>cases``, ``<prefix>events``, ``<prefix>outbox``, ...). ``assignee_fields`` names the fields
    :meth:`find` may ask about (recorded in the database; see docs/storage.md).
    ``synchronous`` is what a SQLite file promises once a step's commit returns (see
    :func:`sqlite_engine`): ``"full"`` (the default) that it survives a power loss,
    ``"normal"`` that it survives the process crashing but perhaps not the machine. Call
    :meth:`close` (or use ``with``) when done.
    """

    def __init__(
        self,
        url: str | sa.Engine | sa.Connection = "sqlite:///servflow.db",
        *,
        create: bool = True,
        prefix: str = "servflow_",
        assignee_fields: Iterable[str] | None = None,
        synchronous: Synchronous = "full",
    ) -> None:
        import sqlalchemy as sa

        wanted = None if assignee_fields is None else check_assignee_fields(assignee_fields)
        self.assignee_fields: tuple[str, ...] = ()
        self._connection: sa.Connection | None = None
        self._idle: list[DriverRunner] = []  # see _run
        self._idle_pid = os.getpid()
        self._owned = isinstance(url, str)
        if isinstance(url, sa.Connection):
            # The host's connection: every operation runs inside the host's transaction
            # (in a savepoint of its own), and the host commits. One thread at a time.
            self._connection = url
            self.bind: sa.Engine = url.engine
            self._serial: AbstractContextManager[Any] = threading.Lock()
        elif isinstance(url, sa.Engine):
            self.bind = url
            self._serial = nullcontext()
        elif isinstance(url, str):
            parsed = sa.make_url(url)
            if parsed.get_backend_name() == "sqlite":
                self.bind = sqlite_engine(parsed, synchronous=synchronous)
                memory = _in_memory(parsed)
            else:
                self.bind = sa.create_engine(parsed, hide_parameters=True, pool_pre_ping=True)
                memory = False
            self._serial = threading.Lock() if memory else nullcontext()
        else:
            raise TypeError(
                "SqlStore takes a database URL, a SQLAlchemy Engine or a Connection, "
                f"not {type(url).__name__}"
            )
        if synchronous != "full" and not (
            isinstance(url, str) and self.bind.dialect.name == "sqlite"
        ):
            raise ValueError(
                "synchronous is a choice for the SQLite databases a store opens from a URL; "
                "make a host's SQLite engine with sqlite_engine(url, synchronous=...)"
            )
        self.dialect: str = self.bind.dialect.name
        self.url: str = self.bind.url.render_as_string(hide_password=True)
        if not self._owned and self.dialect == "sqlite":
            _check_sqlite_savepoints(self._connection or self.bind)

        time_type = sa.String(_TIME_WIDTH).with_variant(
            sa.String(_TIME_WIDTH, collation="C"), "postgresql"
        )
        self.metadata: sa.MetaData = sa.MetaData()
        self.cases: sa.Table = sa.Table(
            f"{prefix}cases",
            self.metadata,
            sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
            sa.Column("procedure", sa.String(200), nullable=False),
            sa.Column("procedure_version", sa.Integer, nullable=False),
            sa.Column("state", sa.String(200), nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("next_due", time_type, nullable=True),
            sa.Column("claimed_until", time_type, nullable=True),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("escalation_level", sa.Integer, nullable=False, server_default="0"),
            sa.Column("opened_at", time_type, nullable=True),
            sa.Column("deadline", time_type, nullable=True),
            sa.Index(f"ix_{prefix}cases_next_due", "next_due"),
            sa.Index(f"ix_{prefix}cases_state", "procedure", "state", "opened_at", "id"),
            sa.Index(f"ix_{prefix}cases_opened", "opened_at", "id"),
            sa.Index(f"ix_{prefix}cases_deadline", "deadline", "id"),
            sa.Index(f"ix_{prefix}cases_escalation", "escalation_level"),
        )
        self.assignees: sa.Table = sa.Table(
            f"{prefix}assignees",
            self.metadata,
            sa.Column(
                "case_id",
                sa.String(ID_LENGTH),
                sa.ForeignKey(self.cases.c.id),
                primary_key=True,
            ),
            sa.Column("field", sa.String(200), primary_key=True),
            sa.Column("value", sa.String(ID_LENGTH), nullable=False),
            sa.Index(f"ix_{prefix}assignees_value", "field", "value", "case_id"),
        )
        self.events: sa.Table = sa.Table(
            f"{prefix}events",
            self.metadata,
            sa.Column(
                "case_id",
                sa.String(ID_LENGTH),
                sa.ForeignKey(self.cases.c.id),
                primary_key=True,
            ),
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("at", time_type, nullable=False),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("body", sa.Text, nullable=False),
        )
        self.outbox: sa.Table = sa.Table(
            f"{prefix}outbox",
            self.metadata,
            sa.Column("id", sa.String(_EFFECT_ID_LENGTH), primary_key=True),
            sa.Column(
                "case_id", sa.String(ID_LENGTH), sa.ForeignKey(self.cases.c.id), nullable=False
            ),
            sa.Column("seq", sa.Integer, nullable=False),
            sa.Column("idx", sa.Integer, nullable=False),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("due_at", time_type, nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("error", sa.String(ERROR_LENGTH), nullable=True),
            sa.Column("delivered_at", time_type, nullable=True),
            sa.Column("failed_at", time_type, nullable=True),
            sa.Column("body", sa.Text, nullable=False),
            sa.Index(f"ix_{prefix}outbox_due_at", "due_at"),
        )
        self.cursors: sa.Table = sa.Table(
            f"{prefix}schedule_cursors",
            self.metadata,
            sa.Column("procedure", sa.String(200), primary_key=True),
            sa.Column("until", time_type, nullable=False),
        )
        self.settings: sa.Table = sa.Table(
            f"{prefix}settings",
            self.metadata,
            sa.Column("name", sa.String(200), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
        # Alembic's revision table, declared so that ``metadata.drop_all`` removes it too.
        self.revisions: sa.Table = sa.Table(
            f"{prefix}alembic_version",
            self.metadata,
            sa.Column("version_num", sa.String(32), primary_key=True),
        )
        self._sql = _Statements(self)
        from servflow.store.migrate import HEAD, current, upgrade

        if create:
            with self._serial:
                upgrade(self._connection or self.bind, prefix)
        else:
            with self._transaction(read=True) as conn:
                found = current(conn, prefix)
            if found != HEAD:
                self.close()
                raise SchemaOutOfDate(self.url, prefix, found)
        self.assignee_fields = self._assignee_setting(wanted)

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection of a store made from a URL.

        A store made from the host's Engine or Connection leaves them to the host.
        """
        if self._owned:
            while self._idle:
                self._idle.pop().close()
            self.bind.dispose()

    # -- the contract ----------------------------------------------------------------------

    def create(self, case: Case, events: Sequence[Event], effects: Sequence[Effect] = ()) -> None:
        check_events(case, events, 1)
        rows = self._outbox_rows(case, effects)
        with self._run() as run:
            self._insert_case(run, case, events, rows)

    def load(self, case_id: str) -> Case:
        if not storable_id(case_id):
            raise CaseNotFound(case_id)
        with self._run(one_statement=True) as run:
            found = run.rows(self._sql.load_case, {"case_id": case_id})
        if not found:
            raise CaseNotFound(case_id)
        return _stored(Case, found[0][0], case_id)

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
        rows = self._outbox_rows(case, effects)
        children = []
        for child, child_events, child_effects in opened:
            check_events(child, child_events, 1)
            children.append((child, child_events, self._outbox_rows(child, child_effects)))
        sql = self._sql
        with self._run() as run:
            found = self._compare_and_set(run, case, expected_version)
            if found is None:
                raise CaseNotFound(case.id)
            if found != expected_version:
                raise Conflict(case.id, expected_version, found)
            run.many(sql.insert_event, [self._event_row(e) for e in events])
            run.many(sql.insert_effect, rows)
            for child, child_events, child_rows in children:
                # the whole transaction rolls back when this raises
                self._insert_case(run, child, child_events, child_rows)
            if delivers is not None:
                marked = run.count(
                    sql.mark_delivered,
                    {"effect_id": delivers, "delivered": utc_text(case.updated_at)},
                )
                if marked != 1:
                    raise AlreadyDelivered(delivers)

    def save_batch(self, writes: Sequence[Write], *, release: Sequence[str] = ()) -> list[str]:
        prepared = []
        for write in writes:
            check_save(write.case, write.events, write.expected_version)
            prepared.append((write, self._outbox_rows(write.case, write.effects)))
        sql, lost = self._sql, []
        with self._run() as run:
            events: list[dict[str, Any]] = []
            outgoing: list[dict[str, Any]] = []
            for write, rows in prepared:
                expected = write.expected_version
                if self._compare_and_set(run, write.case, expected, claimed=True) != expected:
                    lost.append(write.case.id)
                    continue
                events += [self._event_row(e) for e in write.events]
                outgoing += rows
            run.many(sql.insert_event, events)
            run.many(sql.insert_effect, outgoing)
            ended = [{"case_id": case_id} for case_id in release if storable_id(case_id)]
            run.many(sql.release_case, ended)
        return lost

    def history(self, case_id: str) -> list[Event]:
        import sqlalchemy as sa

        if not storable_id(case_id):
            raise CaseNotFound(case_id)
        events = self.events
        with self._transaction(read=True) as conn:
            bodies = (
                conn.execute(
                    sa.select(events.c.body)
                    .where(events.c.case_id == case_id)
                    .order_by(events.c.seq)
                )
                .scalars()
                .all()
            )
            if (
                not bodies
                and not conn.execute(
                    sa.select(self.cases.c.id).where(self.cases.c.id == case_id)
                ).first()
            ):
                raise CaseNotFound(case_id)
        return [_stored(Event, body, case_id) for body in bodies]

    def claim_due(self, at: datetime, *, limit: int, lease: timedelta) -> list[Case]:
        at, lease_end, limit = check_claim(at, limit, lease)
        now, until = utc_text(at), utc_text(lease_end)
        if limit <= 0:
            return []
        with self._run() as run:
            rows = run.rows(self._sql.claim_due, {"now": now, "limit": limit})
            run.many(self._sql.claim_case, [{"case_id": row[0], "until": until} for row in rows])
        return [_stored(Case, data, case_id) for case_id, data in rows]

    def release(self, case_id: str) -> None:
        if not storable_id(case_id):
            return
        with self._run() as run:
            run.count(self._sql.release_case, {"case_id": case_id})

    def find(
        self, query: CaseQuery | None = None, *, limit: int = 50, after: str | None = None
    ) -> Page:
        import sqlalchemy as sa

        query = query if query is not None else CaseQuery()
        limit = check_page(limit)
        check_assignee_query(query, self.assignee_fields)
        start = decode_after(after, query.order) if after is not None else None
        cases = self.cases
        key = {"due": cases.c.deadline, "next_due": cases.c.next_due}.get(
            query.order, cases.c.opened_at
        )
        select = sa.select(cases.c.id, cases.c.data, key.label("key"))
        where: list[Any] = []
        if query.assignee is not None:
            held = self.assignees
            select = select.join(held, held.c.case_id == cases.c.id)
            where += [held.c.field == query.assignee[0], held.c.value == query.assignee[1]]
        if query.procedure is not None:
            where.append(cases.c.procedure == query.procedure)
        if query.states is not None:
            where.append(cases.c.state.in_(list(query.states)))
        if query.min_escalation is not None:
            where.append(cases.c.escalation_level >= query.min_escalation)
        if query.due_before is not None:
            where.append(cases.c.deadline < utc_text(query.due_before))
        if query.order != "opened":
            where.append(key.is_not(None))
        if query.opened_from is not None:
            where.append(cases.c.opened_at >= utc_text(query.opened_from))
        if query.opened_before is not None:
            where.append(cases.c.opened_at < utc_text(query.opened_before))
        if start is not None:
            where.append(sa.or_(key > start[0], sa.and_(key == start[0], cases.c.id > start[1])))
        statement = select.where(*where).order_by(key, cases.c.id).limit(limit + 1)
        with self._transaction(read=True) as conn:
            rows = conn.execute(statement).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            [_stored(Case, row.data, row.id) for row in rows],
            encode_after(query.order, (rows[-1].key, rows[-1].id)) if more else None,
        )

    def reindex_assignees(self, fields: Iterable[str]) -> int:
        """Index ``fields`` instead of the database's present assignee fields.

        Rewrites the assignee table from every stored case's JSON (in one transaction) and
        records the new set in the database, where every store opened later reads it.
        Stop the other processes writing to this database first: a process that is already
        running keeps the set it read when it started. Returns the number of cases indexed.
        """
        import sqlalchemy as sa

        names = check_assignee_fields(fields)
        count = 0
        with self._transaction() as conn:
            conn.execute(sa.delete(self.assignees))
            last = ""
            while True:
                rows = conn.execute(
                    sa.select(self.cases.c.id, self.cases.c.data)
                    .where(self.cases.c.id > last)
                    .order_by(self.cases.c.id)
                    .limit(1_000)
                ).all()
                if not rows:
                    break
                found = [
                    {"case_id": row.id, "field": name, "value": value}
                    for row in rows
                    for name, value in sorted(
                        assignee_values(_stored(Case, row.data, row.id), names).items()
                    )
                ]
                if found:
                    conn.execute(sa.insert(self.assignees), found)
                count += len(rows)
                last = rows[-1].id
            conn.execute(sa.delete(self.settings).where(self.settings.c.name == _ASSIGNEES))
            conn.execute(
                sa.insert(self.settings).values(name=_ASSIGNEES, value=json.dumps(list(names)))
            )
        self.assignee_fields = names
        return count

    # -- schedule cursors ------------------------------------------------------------------

    def schedule_cursor(self, procedure: str) -> datetime | None:
        import sqlalchemy as sa

        check_cursor(procedure)
        with self._transaction(read=True) as conn:
            until = conn.execute(
                sa.select(self.cursors.c.until).where(self.cursors.c.procedure == procedure)
            ).scalar_one_or_none()
        if until is None:
            return None
        return datetime.fromisoformat(until.removesuffix("Z")).replace(tzinfo=UTC)

    def move_schedule_cursor(self, procedure: str, to: datetime) -> None:
        import sqlalchemy as sa

        check_cursor(procedure, to)
        text, cursors = utc_text(to), self.cursors
        for attempt in range(2):
            try:
                with self._transaction() as conn:
                    # The row is locked while it is compared and moved, so that workers
                    # moving it at once take turns and each compares with the latest.
                    known = conn.execute(
                        sa.select(cursors.c.until)
                        .where(cursors.c.procedure == procedure)
                        .with_for_update()
                    ).scalar_one_or_none()
                    if known is None:
                        conn.execute(sa.insert(cursors).values(procedure=procedure, until=text))
                    elif known < text:
                        conn.execute(
                            sa.update(cursors)
                            .where(cursors.c.procedure == procedure)
                            .values(until=text)
                        )
                return
            except sa.exc.IntegrityError:
                # Another worker inserted the first cursor meanwhile: the row is there
                # now, so the next attempt locks it and moves it.
                if attempt:
                    raise

    def case_ids(self, procedure: str | None = None) -> list[str]:
        """The ids of every stored case (of ``procedure`` only, when given), sorted."""
        import sqlalchemy as sa

        query = sa.select(self.cases.c.id).order_by(self.cases.c.id)
        if procedure is not None:
            query = query.where(self.cases.c.procedure == procedure)
        with self._transaction(read=True) as conn:
            return list(conn.execute(query).scalars().all())

    # -- helpers ---------------------------------------------------------------------------

    def _assignee_setting(self, wanted: tuple[str, ...] | None) -> tuple[str, ...]:
        """The assignee fields recorded in the database, after recording ``wanted`` there."""
        import sqlalchemy as sa

        with self._transaction(read=True) as conn:
            text = conn.execute(
                sa.select(self.settings.c.value).where(self.settings.c.name == _ASSIGNEES)
            ).scalar_one_or_none()
        recorded = tuple(json.loads(text)) if text is not None else ()
        if wanted is None or wanted == recorded:
            return recorded
        self.reindex_assignees(wanted)
        return wanted

    def _insert_case(
        self, run: Runner, case: Case, events: Sequence[Event], rows: list[dict[str, Any]]
    ) -> None:
        """Insert a new case, its events, its assignee rows and its outbox rows."""
        import sqlalchemy as sa

        try:
            run.count(self._sql.insert_case, {"id": case.id, **self._case_row(case)})
        except sa.exc.IntegrityError:
            raise CaseExists(case.id) from None
        run.many(self._sql.insert_event, [self._event_row(e) for e in events])
        self._write_assignees(run, case)
        run.many(self._sql.insert_effect, rows)

    def _compare_and_set(
        self, run: Runner, case: Case, expected: int, *, claimed: bool = False
    ) -> int | None:
        """Write the case's row if it is at version ``expected``, and its assignee rows.

        Returns the version the stored case was at (``expected`` when it was written), or
        None when there is no such case. Only the columns whose values changed are set,
        and the assignee rows are rewritten only if they changed: SQLite then leaves the
        indexes of the other columns alone (a ``chase`` step's commit wrote 14.5 pages of
        write-ahead log when every column was set, 6.5 now).
        ``claimed`` also ends run_due's claim on the case.

        The stored row is read in the writing transaction; the UPDATE still compares the
        version, so a writer that saves in between (on PostgreSQL, which lets it) makes
        this one lose the race, as before. A version's columns never change once it is
        saved, so the columns read are those the UPDATE replaces.
        """
        sql = self._sql
        found = run.rows(sql.stored_case, {"case_id": case.id})
        if not found:
            return None
        stored = dict(zip(_QUERY_COLUMNS, found[0], strict=False))
        if stored["version"] != expected:
            return int(stored["version"])
        changed = {
            name: value
            for name, value in self._case_row(case).items()
            if name not in stored or stored[name] != value
        }
        if claimed:
            changed["claimed_until"] = None
        update = sql.update_case(tuple(changed))
        if run.count(update, {"case_id": case.id, "expected": expected, **changed}) != 1:
            again = run.rows(sql.case_version, {"case_id": case.id})
            return int(again[0][0]) if again else None
        held = {row[-2]: row[-1] for row in found if row[-2] is not None}
        if held != assignee_values(case, self.assignee_fields):
            run.count(sql.delete_assignees, {"case_id": case.id})
            self._write_assignees(run, case)
        return expected

    def _write_assignees(self, run: Runner, case: Case) -> None:
        """Copy a new case's indexed assignee fields into their table."""
        values = assignee_values(case, self.assignee_fields)
        run.many(
            self._sql.insert_assignee,
            [{"case_id": case.id, "field": k, "value": v} for k, v in sorted(values.items())],
        )

    # -- the outbox ------------------------------------------------------------------------

    def claim_effects(self, at: datetime, *, limit: int, lease: timedelta) -> list[OutboxEntry]:
        import sqlalchemy as sa

        at, lease_end, limit = check_claim(at, limit, lease)
        if limit <= 0:
            return []
        box = self.outbox
        query = (
            sa.select(box.c.id, box.c.body, box.c.attempts, box.c.error)
            .where(
                box.c.delivered_at.is_(None),
                box.c.failed_at.is_(None),
                box.c.due_at <= utc_text(at),
            )
            .order_by(box.c.due_at, box.c.case_id, box.c.seq, box.c.idx)
            .limit(limit)
            .with_for_update(skip_locked=True)  # as in claim_due
        )
        with self._transaction() as conn:
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    sa.update(box)
                    .where(box.c.id.in_([row.id for row in rows]))
                    .values(due_at=utc_text(lease_end))
                )
        return [
            OutboxEntry(row.id, _stored(Effect, row.body, row.id), row.attempts, row.error)
            for row in rows
        ]

    def effect_delivered(self, effect_id: str, *, at: datetime) -> None:
        import sqlalchemy as sa

        if not check_outbox_call(at, effect_id):
            return
        box = self.outbox
        with self._transaction() as conn:
            conn.execute(
                sa.update(box)
                .where(box.c.id == effect_id, box.c.delivered_at.is_(None))
                .values(delivered_at=utc_text(at), failed_at=None)
            )

    def effects_delivered(self, effect_ids: Sequence[str], *, at: datetime) -> None:
        import sqlalchemy as sa

        known = [i for i in effect_ids if check_outbox_call(at, i)]
        if not known:
            return
        box = self.outbox
        with self._transaction() as conn:
            conn.execute(
                sa.update(box)
                .where(box.c.id.in_(known), box.c.delivered_at.is_(None))
                .values(delivered_at=utc_text(at), failed_at=None)
            )

    def effect_failed(
        self, effect_id: str, *, at: datetime, error: str, retry_at: datetime | None
    ) -> None:
        import sqlalchemy as sa

        known = check_outbox_call(at, effect_id)
        if retry_at is not None:
            check_outbox_call(retry_at, effect_id)
        values: dict[str, Any] = {"error": error_text(error)}
        if not known:
            return
        box = self.outbox
        values["attempts"] = box.c.attempts + 1
        if retry_at is None:
            values["failed_at"] = utc_text(at)
        else:
            values["due_at"] = utc_text(retry_at)
        with self._transaction() as conn:
            conn.execute(
                sa.update(box)
                .where(
                    box.c.id == effect_id,
                    box.c.delivered_at.is_(None),
                    box.c.failed_at.is_(None),
                )
                .values(**values)
            )

    def failed_effects(self, *, limit: int = 100) -> list[OutboxEntry]:
        import sqlalchemy as sa

        limit = check_limit(limit)
        box = self.outbox
        with self._transaction(read=True) as conn:
            rows = conn.execute(
                sa.select(box.c.id, box.c.body, box.c.attempts, box.c.error, box.c.failed_at)
                .where(box.c.failed_at.is_not(None))
                .order_by(box.c.failed_at, box.c.case_id, box.c.seq, box.c.idx)
                .limit(limit)
            ).all()
        return [
            OutboxEntry(
                row.id,
                _stored(Effect, row.body, row.id),
                row.attempts,
                row.error,
                _from_utc_text(row.failed_at),
            )
            for row in rows
        ]

    def retry_effect(self, effect_id: str, *, at: datetime) -> None:
        import sqlalchemy as sa

        if not check_outbox_call(at, effect_id):
            return
        box = self.outbox
        with self._transaction() as conn:
            conn.execute(
                sa.update(box)
                .where(box.c.id == effect_id, box.c.failed_at.is_not(None))
                .values(failed_at=None, attempts=0, due_at=utc_text(at))
            )

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _outbox_rows(case: Case, effects: Sequence[Effect]) -> list[dict[str, Any]]:
        """The outbox rows of a step's effects, due at once (from the step's time)."""
        due = utc_text(case.updated_at)
        return [
            {
                "id": effect_id,
                "case_id": case.id,
                "seq": case.version,
                "idx": index,
                "kind": effect.kind,
                "due_at": due,
                "attempts": 0,
                "error": None,
                "delivered_at": None,
                "failed_at": None,
                "body": effect.model_dump_json(),
            }
            for index, (effect_id, effect) in enumerate(check_effects(case, effects))
        ]

    @contextmanager
    def _transaction(
        self, *, read: bool = False, one_statement: bool = False
    ) -> Iterator[sa.Connection]:
        """One transaction; commits when the block ends, rolls back if it raises.

        ``read`` says the block only reads; ``one_statement`` that it runs a single
        SELECT, which SQLite answers from one snapshot without a BEGIN of its own.

        On the host's Connection: a savepoint inside the host's transaction (or a
        transaction of its own if the host has none open), which the host commits.
        """
        if self._connection is not None:
            conn = self._connection
            with self._serial:
                if conn.in_transaction():
                    with conn.begin_nested():
                        yield conn
                else:
                    with conn.begin():
                        yield conn
            return
        with self._serial, self.bind.connect() as conn:
            if read or one_statement:
                conn.execution_options(servflow_read="one" if one_statement else True)
            with conn.begin():
                yield conn

    @contextmanager
    def _run(self, *, one_statement: bool = False) -> Iterator[Runner]:
        """One transaction of a hot path, as :meth:`_transaction`, with a :class:`Runner`.

        A store that made its engine runs the statements on the driver's cursor, in the
        pooled connection's own transaction (begun with ``BEGIN IMMEDIATE`` on SQLite, as
        the engine's are; none for one SELECT); see :mod:`servflow.store.sql_run`. A
        store on the host's Engine or Connection runs them through SQLAlchemy.

        On SQLite the store keeps up to :data:`_KEPT` of those connections out of the pool
        between transactions, each with its cursor: checking one out of the pool and back
        in cost more than a step's SELECT and UPDATE together. A connection whose
        transaction failed goes back to the pool, and a forked process keeps none of its
        parent's. Not on PostgreSQL, whose pool checks a connection before handing it out
        (a server may drop one).
        """
        if not self._owned:
            with self._transaction(one_statement=one_statement) as conn:
                yield CoreRunner(conn)
            return
        with self._serial:
            if self._idle_pid != os.getpid():
                # A forked process never uses a connection its parent opened (SQLite's
                # rule, and SQLAlchemy's for its pool): the kept ones are let go here.
                self._idle, self._idle_pid = [], os.getpid()
            try:
                run = self._idle.pop()
            except IndexError:
                raw = self.bind.raw_connection()
                run = DriverRunner(raw, raw.cursor(), self.bind.dialect)
            try:
                if self.dialect == "sqlite" and not one_statement:
                    run.run_sql("BEGIN IMMEDIATE")
                yield run
                run.commit()
            except BaseException:
                run.close(rollback=True)
                raise
            if self.dialect == "sqlite" and len(self._idle) < _KEPT:
                self._idle.append(run)
            else:
                run.close()

    @staticmethod
    def _case_row(case: Case) -> dict[str, Any]:
        return {
            "procedure": case.procedure,
            "procedure_version": case.procedure_version,
            "state": case.state,
            "version": case.version,
            "next_due": utc_text(case.next_due) if case.next_due is not None else None,
            "data": case.model_dump_json(),
            "escalation_level": case.escalation_level,
            "opened_at": utc_text(case.opened_at),
            "deadline": utc_text(deadline) if (deadline := deadline_of(case)) else None,
        }

    @staticmethod
    def _event_row(event: Event) -> dict[str, Any]:
        return {
            "case_id": event.case_id,
            "seq": event.seq,
            "at": utc_text(event.at),
            "kind": event.kind,
            "body": event.model_dump_json(),
        }


_ASSIGNEES = "assignee_fields"

#: How many idle SQLite connections a store keeps out of its pool (see SqlStore._run).
_KEPT = 2


class _Statements:
    """The statements of a store's hot paths, built and compiled once, run with parameters.

    SQLAlchemy caches the SQL a statement compiles to, but building the statement and
    its cache key each time cost more than SQLite's own work for a ``fire``; a statement
    built once keeps its cache key, and its compiled SQL serves the driver's cursor
    (:mod:`servflow.store.sql_run`).
    """

    def __init__(self, store: SqlStore) -> None:
        import sqlalchemy as sa

        dialect = store.bind.dialect
        cases, assignees, box = store.cases, store.assignees, store.outbox
        case_id: sa.BindParameter[str] = sa.bindparam("case_id")
        case_columns = ["id", *_CASE_COLUMNS]

        def build(core: Any, columns: Sequence[str] | None = None) -> Statement:
            return Statement.build(core, dialect, columns)

        self.load_case = build(sa.select(cases.c.data).where(cases.c.id == case_id))
        self.case_version = build(sa.select(cases.c.version).where(cases.c.id == case_id))
        # A case's query columns and assignee rows, as a save finds them (one row per
        # assignee field, or one with NULLs).
        self.stored_case = build(
            sa.select(
                *[cases.c[name] for name in _QUERY_COLUMNS], assignees.c.field, assignees.c.value
            )
            .select_from(cases.outerjoin(assignees, assignees.c.case_id == cases.c.id))
            .where(cases.c.id == case_id)
        )
        # The columns to set are the parameters' other keys (SqlStore._case_row).
        self._update_case = sa.update(cases).where(
            cases.c.id == case_id, cases.c.version == sa.bindparam("expected")
        )
        self._updates: dict[tuple[str, ...], Statement] = {}
        self._dialect = dialect
        self.insert_case = build(sa.insert(cases), case_columns)
        self.insert_event = build(sa.insert(store.events), _EVENT_COLUMNS)
        self.insert_effect = build(sa.insert(box), _EFFECT_COLUMNS)
        self.delete_assignees = build(sa.delete(assignees).where(assignees.c.case_id == case_id))
        self.insert_assignee = build(sa.insert(assignees), ["case_id", "field", "value"])
        self.mark_delivered = build(
            sa.update(box)
            .where(
                box.c.id == sa.bindparam("effect_id"),
                box.c.delivered_at.is_(None),
                box.c.failed_at.is_(None),
            )
            .values(delivered_at=sa.bindparam("delivered"))
        )
        now: sa.BindParameter[str] = sa.bindparam("now")
        self.claim_due = build(
            sa.select(cases.c.id, cases.c.data)
            .where(
                cases.c.next_due.is_not(None),
                cases.c.next_due <= now,
                sa.or_(cases.c.claimed_until.is_(None), cases.c.claimed_until <= now),
            )
            .order_by(cases.c.next_due, cases.c.id)
            .limit(sa.bindparam("limit", type_=sa.Integer))
            # PostgreSQL: lock the rows taken, and skip rows another claimer holds
            # instead of waiting for it. SQLite renders nothing here: BEGIN IMMEDIATE
            # already made this transaction the only writer.
            .with_for_update(skip_locked=True)
        )
        self.claim_case = build(
            sa.update(cases)
            .where(cases.c.id == case_id)
            .values(claimed_until=sa.bindparam("until"))
        )
        self.release_case = build(
            sa.update(cases).where(cases.c.id == case_id).values(claimed_until=sa.null())
        )

    def update_case(self, columns: tuple[str, ...]) -> Statement:
        """The compare-and-set UPDATE that sets ``columns``, compiled once per set."""
        statement = self._updates.get(columns)
        if statement is None:
            statement = Statement.build(self._update_case, self._dialect, columns)
            self._updates[columns] = statement
        return statement


# The columns of the rows SqlStore._case_row, _event_row and _outbox_rows build.
_CASE_COLUMNS = (
    "procedure",
    "procedure_version",
    "state",
    "version",
    "next_due",
    "data",
    "escalation_level",
    "opened_at",
    "deadline",
)
# The columns a save compares before it writes (all but the case's JSON).
_QUERY_COLUMNS = tuple(name for name in _CASE_COLUMNS if name != "data")
_EVENT_COLUMNS = ("case_id", "seq", "at", "kind", "body")
_EFFECT_COLUMNS = (
    "id",
    "case_id",
    "seq",
    "idx",
    "kind",
    "due_at",
    "attempts",
    "error",
    "delivered_at",
    "failed_at",
    "body",
)


_M = TypeVar("_M", Case, Event, Effect)


def _from_utc_text(text: str) -> datetime:
    """A time read back from a column :func:`utc_text` wrote."""
    return datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=UTC)


class SchemaOutOfDate(ServflowError):
    """The database's tables are of another revision than this release reads and writes.

    Raised by ``SqlStore(url, create=False)``; ``servflow db upgrade URL`` (or a store made
    with ``create=True``) upgrades them.
    """

    def __init__(self, url: str, prefix: str, found: str | None) -> None:
        self.url, self.prefix, self.found = url, prefix, found
        from servflow.store.migrate import HEAD

        what = "no servflow tables" if found is None else f"schema revision {found}"
        super().__init__(
            f"{url} holds {what} for prefix {prefix!r}, not revision {HEAD}: "
            f"run `servflow db upgrade {url}`"
            + (f" --prefix {prefix}" if prefix != "servflow_" else "")
        )


def _stored(cls: type[_M], text: str, case_id: str) -> _M:
    """A case or event read back from its JSON column; IntegrityError if it was altered.

    Only JSON this store wrote can be read, so a row that does not validate was changed
    behind the store's back: say which key is wrong (never its value).
    """
    from pydantic import ValidationError

    try:
        return cls.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "the row"
        raise IntegrityError(
            f"the stored {cls.__name__.lower()} does not validate: {where}: {first['msg']}",
            case_id=case_id,
        ) from None


def sqlite_engine(
    url: str | sa.URL, *, synchronous: Synchronous = "full", **options: Any
) -> sa.Engine:
    """A SQLAlchemy Engine for a SQLite database with transactions that do what they say.

    Python's sqlite3 module opens a transaction lazily, at the first write, so the reads
    before it run outside it, and a SAVEPOINT taken before any write commits on release.
    This engine's transactions begin when SQLAlchemy begins them (``BEGIN IMMEDIATE`` for
    writes, which takes SQLite's one write lock up front; ``BEGIN`` for reads), file
    databases run in WAL mode, and foreign keys are enforced. ``SqlStore(url)`` makes its
    SQLite engines with it; a host that wants its own rows and servflow's in one SQLite
    transaction makes its engine with it too and passes it (or a connection) to
    ``SqlStore``. ``options`` go to ``sqlalchemy.create_engine``.

    ``synchronous`` sets SQLite's ``PRAGMA synchronous`` on a file database (WAL mode):

    * ``"full"`` (the default): each commit waits until the write-ahead log is on the disk,
      so a committed step survives a crash of the process, of the system or a power loss;
    * ``"normal"``: a commit does not wait for the disk (the log is synced at each
      checkpoint instead). A committed step survives a crash of the process; a crash of
      the system or a power loss may undo the steps committed since the last checkpoint,
      each one whole (a step is never half there: the database stays consistent). It
      saves a disk flush per commit (docs/performance.md gives the figures).
    """
    import sqlalchemy as sa
    from sqlalchemy.pool import StaticPool

    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise ValueError(f"sqlite_engine is for SQLite URLs, not {parsed.get_backend_name()}")
    settings: dict[str, Any] = {"hide_parameters": True}
    memory = _in_memory(parsed)
    if memory:
        # One connection, shared by every thread (a second one would open a second,
        # empty database); SqlStore takes turns on it with a lock.
        settings["poolclass"] = StaticPool
        settings["connect_args"] = {"check_same_thread": False}
    else:
        settings["connect_args"] = {"timeout": _WAL_PATIENCE}
    if synchronous not in _SYNCHRONOUS:
        raise ValueError(f"synchronous is 'full' or 'normal', not {synchronous!r}")
    settings.update(options)
    bind = sa.create_engine(parsed, **settings)
    _sqlite_transactions(bind, wal=not memory, synchronous=synchronous)
    return bind


def _in_memory(parsed: sa.URL) -> bool:
    return parsed.database in (None, "", ":memory:") or "mode=memory" in str(parsed)


def _check_sqlite_savepoints(bind: sa.Engine | sa.Connection) -> None:
    """Refuse a host's SQLite engine whose driver opens transactions lazily.

    On such an engine a savepoint taken before the first write of a transaction commits
    when it is released, so the host's rollback would not take servflow's rows with it.
    """
    import sqlalchemy as sa

    if isinstance(bind, sa.Connection):
        level = getattr(bind.connection.dbapi_connection, "isolation_level", None)
    else:
        with bind.connect() as conn:
            level = getattr(conn.connection.dbapi_connection, "isolation_level", None)
    if level is not None:
        raise ValueError(
            "this SQLite engine lets Python's sqlite3 module begin transactions lazily, so a "
            "rollback of the host's transaction could leave servflow's rows committed: make "
            "the engine with servflow.store.sql.sqlite_engine(url), or pass the URL itself"
        )


_WAL_PATIENCE = 30.0
"""Seconds a new connection waits for the file to be its own to switch to WAL: the
connections' busy timeout."""


def _enter_wal(cursor: Any, *, patience: float) -> None:
    """Put the database file in WAL mode (a property of the file: done once, it stays).

    The switch needs the file to itself. While another connection is switching it too,
    SQLite may answer "database is locked" at once rather than wait out the busy timeout
    (waiting there could deadlock): processes that open a new database (or one an older
    release left in rollback mode) together could then fail to start, all but one. So a
    connection that is refused waits a little and looks again: by then the first has
    switched the file, and the others find it in WAL already.
    """
    import sqlite3
    import time

    deadline = time.monotonic() + patience
    pause = 0.002
    while True:
        try:
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _sqlite_transactions(bind: sa.Engine, *, wal: bool, synchronous: Synchronous) -> None:
    """Make SQLite transactions explicit: ``BEGIN IMMEDIATE`` for writes, ``BEGIN`` for reads.

    Python's sqlite3 module would otherwise open a transaction lazily, at the first write,
    after the reads of the same transaction ran outside it.
    """
    import sqlalchemy as sa

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver leaves BEGIN to us
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        if wal:
            _enter_wal(cursor, patience=_WAL_PATIENCE)
            cursor.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[synchronous]}")
        cursor.close()

    def on_begin(conn: sa.Connection) -> None:
        read = conn.get_execution_options().get("servflow_read", False)
        if read == "one":
            return  # a lone SELECT is a transaction of its own in SQLite
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    sa.event.listen(bind, "connect", on_connect)
    sa.event.listen(bind, "begin", on_begin)
