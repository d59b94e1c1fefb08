"""The transactional outbox: each step's effects, saved with the step, until delivered.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None

ID_LENGTH = 255
EFFECT_ID_LENGTH = ID_LENGTH + 24
ERROR_LENGTH = 200
TIME = sa.String(27).with_variant(sa.String(27, collation="C"), "postgresql")


def upgrade(prefix: str) -> None:
    op.create_table(
        f"{prefix}outbox",
        sa.Column("id", sa.String(EFFECT_ID_LENGTH), primary_key=True),
        sa.Column(
            "case_id", sa.String(ID_LENGTH), sa.ForeignKey(f"{prefix}cases.id"), nullable=False
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.String(ERROR_LENGTH), nullable=True),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.Column("failed_at", TIME, nullable=True),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index(f"ix_{prefix}outbox_due_at", f"{prefix}outbox", ["due_at"])


def downgrade(prefix: str) -> None:
    op.drop_table(f"{prefix}outbox")
