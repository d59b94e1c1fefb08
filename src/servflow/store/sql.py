"""A SQL :class:`~servflow.store.CaseStore` on SQLAlchemy Core: SQLite embedded, PostgreSQL.

Three tables (names take a ``prefix``, ``servflow_`` by default), all defined in
:meth:`SqlStore.__init__`::

    servflow_cases   id PK, procedure, procedure_version, state, version,
                     next_due (indexed), claimed_until, data (the case's JSON)
    servflow_events  case_id, seq, PK (case_id, seq), at, kind, body (the event's JSON)
    servflow_outbox  id PK (case_id:seq:index), case_id, seq, idx, kind, due_at (indexed),
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
  inserted in the same transaction.
* The effects of a step go into the outbox in the transaction that saves the step.
  ``claim_effects`` works as ``claim_due`` does, on ``due_at`` (which a claim moves to
  the end of its lease, and a failed delivery to the time of the next try).
* ``claim_due`` selects due, unclaimed (or expired) rows and stamps ``claimed_until`` in one
  transaction. On PostgreSQL the select is ``FOR UPDATE SKIP LOCKED``: concurrent
  claimers skip each other's rows instead of waiting for them. On SQLite every writing
  transaction starts with ``BEGIN IMMEDIATE``, which takes the database's one write lock
  up front, so claims are serialised (and a ``save`` cannot deadlock upgrading a read
  lock); file databases use WAL mode, so readers do not wait for the writer.

sqlalchemy is imported inside the methods, not at the top: ``import servflow`` (and so
``import servflow.engine``) must not load a database library. After the first call the
import is a dictionary look-up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from servflow.bounds import ID_LENGTH
from servflow.engine import Case, Effect, Event
from servflow.errors import IntegrityError
from servflow.store.base import (
    ERROR_LENGTH,
    AlreadyDelivered,
    CaseExists,
    CaseNotFound,
    Conflict,
    NewCase,
    OutboxEntry,
    check_claim,
    check_effects,
    check_events,
    check_limit,
    check_outbox_call,
    check_save,
    error_text,
    storable_id,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["ID_LENGTH", "SqlStore", "utc_text"]

_TIME_WIDTH = len("2026-11-23T01:00:00.000000Z")
# An effect's id is its case's id, ":", the step's seq and ":", its index (two ints).
_EFFECT_ID_LENGTH = ID_LENGTH + 24


def utc_text(moment: datetime) -> str:
    """``moment`` as fixed-width ISO 8601 UTC text: text order is time order."""
    if moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: pass a timezone-aware datetime")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class SqlStore:
    """Cases, audit logs and the outbox in SQL tables. Implements :class:`~servflow.store.OutboxStore`.

    ``url`` is a SQLAlchemy URL: ``sqlite:///servflow.db`` (the default, a file beside the
    process), ``sqlite://`` (in memory, one per store), or
    ``postgresql+psycopg://user@host/db`` (install ``servflow[postgres]``). ``create``
    makes the tables if they are missing. ``prefix`` names the tables
    (``<prefix>cases``, ``<prefix>events``, ``<prefix>outbox``). Call :meth:`close` (or use ``with``) when done.
    """

    def __init__(
        self,
        url: str = "sqlite:///servflow.db",
        *,
        create: bool = True,
        prefix: str = "servflow_",
    ) -> None:
        import sqlalchemy as sa
        from sqlalchemy.pool import StaticPool

        parsed = sa.make_url(url)
        self.dialect: str = parsed.get_backend_name()
        options: dict[str, Any] = {"hide_parameters": True}
        memory = False
        if self.dialect == "sqlite":
            memory = parsed.database in (None, "", ":memory:") or "mode=memory" in str(parsed)
            if memory:
                # One connection, shared by every thread (a second one would open a second,
                # empty database); the lock below takes turns on it.
                options["poolclass"] = StaticPool
                options["connect_args"] = {"check_same_thread": False}
            else:
                options["connect_args"] = {"timeout": 30}
        else:
            options["pool_pre_ping"] = True
        self.url: str = parsed.render_as_string(hide_password=True)
        self.bind: sa.Engine = sa.create_engine(parsed, **options)
        self._serial: AbstractContextManager[Any] = threading.Lock() if memory else nullcontext()
        if self.dialect == "sqlite":
            _sqlite_transactions(self.bind, wal=not memory)

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
            sa.Index(f"ix_{prefix}cases_next_due", "next_due"),
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
        if create:
            with self._serial:
                self.metadata.create_all(self.bind)

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection."""
        self.bind.dispose()

    # -- the contract ----------------------------------------------------------------------

    def create(self, case: Case, events: Sequence[Event], effects: Sequence[Effect] = ()) -> None:
        import sqlalchemy as sa

        check_events(case, events, 1)
        rows = self._outbox_rows(case, effects)
        with self._transaction() as conn:
            try:
                conn.execute(sa.insert(self.cases).values(id=case.id, **self._case_row(case)))
            except sa.exc.IntegrityError:
                raise CaseExists(case.id) from None
            conn.execute(sa.insert(self.events), [self._event_row(e) for e in events])
            if rows:
                conn.execute(sa.insert(self.outbox), rows)

    def load(self, case_id: str) -> Case:
        import sqlalchemy as sa

        if not storable_id(case_id):
            raise CaseNotFound(case_id)
        with self._transaction(read=True) as conn:
            data = conn.execute(
                sa.select(self.cases.c.data).where(self.cases.c.id == case_id)
            ).scalar_one_or_none()
        if data is None:
            raise CaseNotFound(case_id)
        return _stored(Case, data, case_id)

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
        import sqlalchemy as sa

        check_save(case, events, expected_version)
        rows = self._outbox_rows(case, effects)
        children = []
        for child, child_events, child_effects in opened:
            check_events(child, child_events, 1)
            children.append((child, child_events, self._outbox_rows(child, child_effects)))
        cases = self.cases
        with self._transaction() as conn:
            changed = conn.execute(
                sa.update(cases)
                .where(cases.c.id == case.id, cases.c.version == expected_version)
                .values(**self._case_row(case))
            ).rowcount
            if changed != 1:
                actual = conn.execute(
                    sa.select(cases.c.version).where(cases.c.id == case.id)
                ).scalar_one_or_none()
                if actual is None:
                    raise CaseNotFound(case.id)
                raise Conflict(case.id, expected_version, actual)
            conn.execute(sa.insert(self.events), [self._event_row(e) for e in events])
            if rows:
                conn.execute(sa.insert(self.outbox), rows)
            for child, child_events, child_rows in children:
                try:  # the whole transaction rolls back when this raises
                    conn.execute(sa.insert(self.cases).values(id=child.id, **self._case_row(child)))
                except sa.exc.IntegrityError:
                    raise CaseExists(child.id) from None
                conn.execute(sa.insert(self.events), [self._event_row(e) for e in child_events])
                if child_rows:
                    conn.execute(sa.insert(self.outbox), child_rows)
            if delivers is not None:
                box = self.outbox
                marked = conn.execute(
                    sa.update(box)
                    .where(
                        box.c.id == delivers,
                        box.c.delivered_at.is_(None),
                        box.c.failed_at.is_(None),
                    )
                    .values(delivered_at=utc_text(case.updated_at))
                ).rowcount
                if marked != 1:
                    raise AlreadyDelivered(delivers)

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
        import sqlalchemy as sa

        at, lease_end, limit = check_claim(at, limit, lease)
        now, until = utc_text(at), utc_text(lease_end)
        if limit <= 0:
            return []
        cases = self.cases
        query = (
            sa.select(cases.c.id, cases.c.data)
            .where(
                cases.c.next_due.is_not(None),
                cases.c.next_due <= now,
                sa.or_(cases.c.claimed_until.is_(None), cases.c.claimed_until <= now),
            )
            .order_by(cases.c.next_due, cases.c.id)
            .limit(limit)
            # PostgreSQL: lock the rows taken, and skip rows another claimer holds
            # instead of waiting for it. SQLite renders nothing here: BEGIN IMMEDIATE
            # already made this transaction the only writer.
            .with_for_update(skip_locked=True)
        )
        with self._transaction() as conn:
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    sa.update(cases)
                    .where(cases.c.id.in_([row.id for row in rows]))
                    .values(claimed_until=until)
                )
        return [_stored(Case, row.data, row.id) for row in rows]

    def release(self, case_id: str) -> None:
        import sqlalchemy as sa

        if not storable_id(case_id):
            return
        with self._transaction() as conn:
            conn.execute(
                sa.update(self.cases).where(self.cases.c.id == case_id).values(claimed_until=None)
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
    def _transaction(self, *, read: bool = False) -> Iterator[sa.Connection]:
        """One transaction; commits when the block ends, rolls back if it raises."""
        with self._serial, self.bind.connect() as conn:
            if read:
                conn.execution_options(servflow_read=True)
            with conn.begin():
                yield conn

    @staticmethod
    def _case_row(case: Case) -> dict[str, Any]:
        return {
            "procedure": case.procedure,
            "procedure_version": case.procedure_version,
            "state": case.state,
            "version": case.version,
            "next_due": utc_text(case.next_due) if case.next_due is not None else None,
            "data": case.model_dump_json(),
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


_M = TypeVar("_M", Case, Event, Effect)


def _from_utc_text(text: str) -> datetime:
    """A time read back from a column :func:`utc_text` wrote."""
    return datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=UTC)


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


def _sqlite_transactions(bind: sa.Engine, *, wal: bool) -> None:
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
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    def on_begin(conn: sa.Connection) -> None:
        read = conn.get_execution_options().get("servflow_read", False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    sa.event.listen(bind, "connect", on_connect)
    sa.event.listen(bind, "begin", on_begin)
