"""Upgrade a SQL store's schema to the one this release uses (Alembic revisions).

:func:`upgrade` is what ``servflow db upgrade URL`` and ``SqlStore(url, create=True)``
run. It takes the database's one write lock (SQLite's ``BEGIN IMMEDIATE``; a PostgreSQL
advisory lock keyed on the prefix), so that processes starting together upgrade once:
the others wait, then find nothing left to do. A database made by servflow 0.1, which has
the tables but no revision table, is recognised and upgraded from revision ``0001``.
Everything runs in one transaction: a failed upgrade leaves the database as it was.

Alembic and SQLAlchemy are imported inside the functions: ``import servflow`` loads no
database library.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.config import Config

__all__ = ["HEAD", "current", "upgrade"]

HEAD = "0004"
"""The revision this release's :class:`~servflow.store.SqlStore` reads and writes."""

_SCRIPTS = Path(__file__).resolve().parent / "migrations"


def _config(conn: sa.Connection, prefix: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = conn
    config.attributes["prefix"] = prefix
    return config


def current(conn: sa.Connection, prefix: str) -> str | None:
    """The database's revision: ``None`` if it has no servflow tables, ``"0001"`` for 0.1."""
    import sqlalchemy as sa

    names = set(sa.inspect(conn).get_table_names())
    if f"{prefix}alembic_version" in names:
        versions = sa.table(f"{prefix}alembic_version", sa.column("version_num", sa.String))
        row = conn.execute(sa.select(versions.c.version_num)).first()
        if row is not None:
            return str(row[0])
    return "0001" if f"{prefix}cases" in names else None


def upgrade(bind: sa.Engine | sa.Connection, prefix: str) -> tuple[str | None, str]:
    """Bring the tables of ``prefix`` to :data:`HEAD`; returns (revision before, after).

    Given a Connection, the upgrade runs in the caller's transaction (a savepoint of it,
    if one is open) and the caller commits.
    """
    import sqlalchemy as sa

    if isinstance(bind, sa.Connection):
        if bind.in_transaction():
            with bind.begin_nested():
                return _upgrade(bind, prefix)
        with bind.begin():
            return _upgrade(bind, prefix)
    with bind.connect() as conn, conn.begin():
        return _upgrade(conn, prefix)


def _upgrade(conn: sa.Connection, prefix: str) -> tuple[str | None, str]:
    import sqlalchemy as sa
    from alembic import command

    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"servflow-schema:{prefix}".encode()) - 2**31
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    before = current(conn, prefix)
    if before != HEAD:
        config = _config(conn, prefix)
        if before == "0001" and f"{prefix}alembic_version" not in set(
            sa.inspect(conn).get_table_names()
        ):
            command.stamp(config, "0001")
        command.upgrade(config, "head")
    return before, HEAD
