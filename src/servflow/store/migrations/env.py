"""Alembic's environment for the store: the connection and prefix come from the caller.

Alembic executes this file when it runs revisions (see :func:`servflow.store.migrate.upgrade`);
imported on its own (by documentation tools, say) it does nothing.
"""

from __future__ import annotations

from alembic import context


def run() -> None:
    """Run the revisions on the caller's connection, in its transaction."""
    config = context.config
    prefix: str = config.attributes["prefix"]
    context.configure(
        connection=config.attributes["connection"],
        version_table=f"{prefix}alembic_version",
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations(prefix=prefix)


if getattr(context, "config", None) is not None:
    run()
