"""Schedules: how far each procedure's scheduled cases were opened.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

TIME = sa.String(27).with_variant(sa.String(27, collation="C"), "postgresql")


def upgrade(prefix: str) -> None:
    op.create_table(
        f"{prefix}schedule_cursors",
        sa.Column("procedure", sa.String(200), primary_key=True),
        sa.Column("until", TIME, nullable=False),
    )


def downgrade(prefix: str) -> None:
    op.drop_table(f"{prefix}schedule_cursors")
