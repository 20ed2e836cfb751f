"""event log: who changed what, written in the change's transaction (issue 21)

One row per change, newest found by its time-ordered id; indexes serve the list's filters
(by resource, by whodunnit, by event) within an account, and the retention sweep by age.

Revision ID: 6de5aabfd3bf
Revises: 7c1e5a9b3d20
Create Date: 2026-12-07 06:46:12.753989
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.models.base

revision: str = "6de5aabfd3bf"
down_revision: str | None = "7c1e5a9b3d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("whodunnit_type", sa.String(length=16), nullable=False),
        sa.Column("whodunnit_id", sa.Uuid(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_events_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_account_id_event", ["account_id", "event", "id"], unique=False)
        batch_op.create_index("ix_events_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index(
            "ix_events_account_id_resource",
            ["account_id", "resource_type", "resource_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_events_account_id_whodunnit",
            ["account_id", "whodunnit_type", "whodunnit_id", "id"],
            unique=False,
        )
        batch_op.create_index("ix_events_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_created_at")
        batch_op.drop_index("ix_events_account_id_whodunnit")
        batch_op.drop_index("ix_events_account_id_resource")
        batch_op.drop_index("ix_events_account_id_id")
        batch_op.drop_index("ix_events_account_id_event")

    op.drop_table("events")
