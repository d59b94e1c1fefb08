"""``servflow db upgrade URL``: bring a SQL store's tables to this release's schema.

``SqlStore(url)`` does the same when it is made (``create=True``, the default); hosts
that make their stores with ``create=False`` (schema changes only at deploy time) run
this command once per release, before starting the new version.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "db",
        help="upgrade a SQL store's schema (Alembic revisions)",
        description="Manage the tables of a SQL store (SQLite or PostgreSQL).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("upgrade", "upgrade the tables to this release's schema (creates them if missing)"),
        ("current", "print the schema revision the database is at"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("url", metavar="URL", help="a SQLAlchemy URL, e.g. sqlite:///desk.db")
        action.add_argument(
            "--prefix", default="servflow_", help="the tables' prefix (default: servflow_)"
        )


def run(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from servflow.store.migrate import HEAD, current, upgrade

    try:
        url = sa.make_url(args.url)
    except sa.exc.ArgumentError as exc:
        print(f"servflow db: {exc}", file=sys.stderr)
        return 2
    shown = url.render_as_string(hide_password=True)
    bind = sa.create_engine(url, hide_parameters=True)
    try:
        if args.action == "current":
            with bind.connect() as conn:
                found = current(conn, args.prefix)
            state = "no servflow tables" if found is None else f"revision {found}"
            print(f"{shown}: {state} (this release: {HEAD})")
            return 0
        before, after = upgrade(bind, args.prefix)
    except sa.exc.SQLAlchemyError as exc:
        print(
            f"servflow db: {shown}: {type(exc).__name__}: {exc.__class__.__doc__ or ''}".strip(),
            file=sys.stderr,
        )
        return 1
    finally:
        bind.dispose()
    if before == after:
        print(f"{shown}: already at revision {after}")
    else:
        print(f"{shown}: upgraded from {before or 'nothing'} to revision {after}")
    return 0
