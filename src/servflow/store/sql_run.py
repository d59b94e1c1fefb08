"""How the SQL store runs the statements of its hot paths: through SQLAlchemy, or on the
driver's own cursor.

A ``Desk.fire`` is two short transactions: the load, then the save (the case's
compare-and-set, its event, its outbox and assignee rows). Measured on a SQLite file,
SQLAlchemy's bookkeeping around each statement (the connection's events, the execution
context, the result object) and each transaction cost more than SQLite's own work. So a
store that made its engine itself (from a URL) runs these statements on the driver's
cursor (:class:`DriverRunner`): SQLAlchemy compiles each one once, for the store's
dialect (:class:`Statement`), and the transaction is the pooled connection's own,
begun as the store's engine begins its transactions (``BEGIN IMMEDIATE`` on SQLite). The
SQL, its parameters, the transactions and what a commit promises are the same; only
the Python between them is less.

A store on the host's Engine or Connection runs the same statements through SQLAlchemy
(:class:`CoreRunner`), so that the host's savepoints, execution options and event
listeners see every one. Both runners answer the same calls, and the store's code is
written once against them (:class:`Runner`).

Errors of the driver are raised as SQLAlchemy raises them (``sqlalchemy.exc.DBAPIError``
and its subclasses, with the parameters hidden), so a caller sees one kind whichever
runner ran the statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["CoreRunner", "DriverRunner", "Runner", "Statement"]

Values = Mapping[str, Any]


@dataclass(frozen=True)
class Statement:
    """A Core statement and the SQL it compiles to for one dialect.

    ``columns`` names the columns an INSERT or UPDATE writes (the keys of its parameters
    other than the WHERE clause's), as SQLAlchemy would read them from the parameters
    of each call. ``keys`` is the order of the parameters when the driver takes them by
    position (SQLite's ``?``), ``None`` when it takes them by name; ``fixed`` holds the
    values the statement carries itself (SQLite's ``OFFSET 0`` after a ``LIMIT``).
    """

    core: sa.Executable
    sql: str
    keys: tuple[str, ...] | None
    fixed: Mapping[str, Any]

    @classmethod
    def build(
        cls, core: sa.Executable, dialect: sa.Dialect, columns: Sequence[str] | None = None
    ) -> Statement:
        from sqlalchemy.sql.compiler import SQLCompiler
        from sqlalchemy.sql.elements import ClauseElement

        assert isinstance(core, ClauseElement)
        compiled = core.compile(
            dialect=dialect, column_keys=list(columns) if columns is not None else None
        )
        assert isinstance(compiled, SQLCompiler)
        for name, param in compiled.binds.items():
            # The driver gets each value as given: no type of these tables converts one
            # on its way in (a type that did would need SQLAlchemy's execution).
            if param.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise TypeError(f"parameter {name} of {compiled.string!r} needs converting")
        keys = tuple(compiled.positiontup or ()) if compiled.positional else None
        fixed = {
            name: param.value
            for param, name in compiled.bind_names.items()
            if not param.required and param.value is not None
        }
        return cls(core, compiled.string, keys, fixed)

    def args(self, values: Values) -> Any:
        """The parameters of one execution, as the driver takes them."""
        if self.fixed:
            values = {**self.fixed, **values}
        if self.keys is None:
            return values
        return tuple(map(values.__getitem__, self.keys))


class Runner(Protocol):
    """Runs statements in one open transaction."""

    def count(self, statement: Statement, values: Values) -> int:
        """Run once; the number of rows it changed."""

    def many(self, statement: Statement, rows: Sequence[Values]) -> None:
        """Run once per row of parameters (nothing if there are none)."""

    def rows(self, statement: Statement, values: Values) -> list[Sequence[Any]]:
        """Run a query; its rows."""


class CoreRunner:
    """Statements run through SQLAlchemy on a Connection (the host's, or the store's)."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def count(self, statement: Statement, values: Values) -> int:
        return self.conn.execute(statement.core, dict(values)).rowcount

    def many(self, statement: Statement, rows: Sequence[Values]) -> None:
        if rows:
            self.conn.execute(statement.core, [dict(row) for row in rows])

    def rows(self, statement: Statement, values: Values) -> list[Sequence[Any]]:
        return list(self.conn.execute(statement.core, dict(values)).all())


class DriverRunner:
    """Statements run on the DBAPI cursor of a pooled connection, their SQL compiled
    beforehand. The store begins and ends the transaction (``commit``, ``close``)."""

    def __init__(self, connection: Any, cursor: Any, dialect: sa.Dialect) -> None:
        self.connection = connection
        self.cursor = cursor
        self.dialect = dialect
        self.error: type[Exception] = dialect.loaded_dbapi.Error

    def count(self, statement: Statement, values: Values) -> int:
        try:
            self.cursor.execute(statement.sql, statement.args(values))
        except self.error as exc:
            raise self.wrapped(statement.sql, exc) from exc
        return int(self.cursor.rowcount)

    def many(self, statement: Statement, rows: Sequence[Values]) -> None:
        if not rows:
            return
        try:
            if len(rows) == 1:  # psycopg's executemany costs more than one execute
                self.cursor.execute(statement.sql, statement.args(rows[0]))
            else:
                self.cursor.executemany(statement.sql, [statement.args(row) for row in rows])
        except self.error as exc:
            raise self.wrapped(statement.sql, exc) from exc

    def rows(self, statement: Statement, values: Values) -> list[Sequence[Any]]:
        try:
            self.cursor.execute(statement.sql, statement.args(values))
            return list(self.cursor.fetchall())
        except self.error as exc:
            raise self.wrapped(statement.sql, exc) from exc

    def commit(self) -> None:
        try:
            self.connection.commit()
        except self.error as exc:
            raise self.wrapped("COMMIT", exc) from exc

    def close(self, *, rollback: bool = False) -> None:
        """Roll back if asked, and give the connection back to the pool."""
        try:
            if rollback:
                self.connection.rollback()
        finally:
            self.cursor.close()
            self.connection.close()

    def run_sql(self, sql: str) -> None:
        """A statement without parameters (``BEGIN IMMEDIATE``)."""
        try:
            self.cursor.execute(sql)
        except self.error as exc:
            raise self.wrapped(sql, exc) from exc

    def wrapped(self, sql: str | None, exc: Exception) -> BaseException:
        """The driver's error as SQLAlchemy would raise it, without the parameters."""
        import sqlalchemy as sa

        return sa.exc.DBAPIError.instance(
            sql, None, exc, self.error, hide_parameters=True, dialect=self.dialect
        )
