"""Queries (``store.find``): indexed copies of a case's escalation level, opening time and
earliest running deadline, the assignee table, and the store's settings.

The new columns of cases already stored are filled from each case's JSON, in batches.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None

ID_LENGTH = 255
TIME = sa.String(27).with_variant(sa.String(27, collation="C"), "postgresql")
BATCH = 1_000


def _utc(text: str) -> str:
    moment = datetime.fromisoformat(text)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _copies(data: str) -> dict[str, Any]:
    case = json.loads(data)
    due = [
        _utc(timer["due_at"])
        for timer in (case.get("timers") or {}).values()
        if timer.get("status", "running") == "running" and timer.get("due_at")
    ]
    return {
        "escalation_level": int(case.get("escalation_level") or 0),
        "opened_at": _utc(case["opened_at"]),
        "deadline": min(due) if due else None,
    }


def upgrade(prefix: str) -> None:
    cases = f"{prefix}cases"
    with op.batch_alter_table(cases) as batch:
        batch.add_column(
            sa.Column("escalation_level", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("opened_at", TIME, nullable=True))
        batch.add_column(sa.Column("deadline", TIME, nullable=True))
    table = sa.table(
        cases,
        sa.column("id", sa.String),
        sa.column("data", sa.Text),
        sa.column("escalation_level", sa.Integer),
        sa.column("opened_at", sa.String),
        sa.column("deadline", sa.String),
    )
    bind = op.get_bind()
    last = ""
    while True:
        rows = bind.execute(
            sa.select(table.c.id, table.c.data)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            bind.execute(sa.update(table).where(table.c.id == row.id).values(**_copies(row.data)))
        last = rows[-1].id
    op.create_index(f"ix_{prefix}cases_state", cases, ["procedure", "state", "opened_at", "id"])
    op.create_index(f"ix_{prefix}cases_opened", cases, ["opened_at", "id"])
    op.create_index(f"ix_{prefix}cases_deadline", cases, ["deadline", "id"])
    op.create_index(f"ix_{prefix}cases_escalation", cases, ["escalation_level"])
    op.create_table(
        f"{prefix}assignees",
        sa.Column("case_id", sa.String(ID_LENGTH), sa.ForeignKey(f"{cases}.id"), primary_key=True),
        sa.Column("field", sa.String(200), primary_key=True),
        sa.Column("value", sa.String(ID_LENGTH), nullable=False),
    )
    op.create_index(
        f"ix_{prefix}assignees_value", f"{prefix}assignees", ["field", "value", "case_id"]
    )
    op.create_table(
        f"{prefix}settings",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade(prefix: str) -> None:
    op.drop_table(f"{prefix}settings")
    op.drop_table(f"{prefix}assignees")
    for name in ("escalation", "deadline", "opened", "state"):
        op.drop_index(f"ix_{prefix}cases_{name}", f"{prefix}cases")
    with op.batch_alter_table(f"{prefix}cases") as batch:
        batch.drop_column("deadline")
        batch.drop_column("opened_at")
        batch.drop_column("escalation_level")
