"""servflow 0.1: the cases and their audit logs.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

ID_LENGTH = 255
TIME = sa.String(27).with_variant(sa.String(27, collation="C"), "postgresql")


def upgrade(prefix: str) -> None:
    op.create_table(
        f"{prefix}cases",
        sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
        sa.Column("procedure", sa.String(200), nullable=False),
        sa.Column("procedure_version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("next_due", TIME, nullable=True),
        sa.Column("claimed_until", TIME, nullable=True),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index(f"ix_{prefix}cases_next_due", f"{prefix}cases", ["next_due"])
    op.create_table(
        f"{prefix}events",
        sa.Column(
            "case_id",
            sa.String(ID_LENGTH),
            sa.ForeignKey(f"{prefix}cases.id"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )


def downgrade(prefix: str) -> None:
    op.drop_table(f"{prefix}events")
    op.drop_table(f"{prefix}cases")
