"""notices and pool low threshold: notifications sent once each (issue 21)

``notices`` holds one row per notification sent (event, subject, occasion), so that no sweep,
process or restart sends one twice; ``policies.pool_low_threshold`` is when a pool is low.

Revision ID: 59e2876b74ac
Revises: 6de5aabfd3bf
Create Date: 2026-12-07 07:24:30.332241
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.models.base

revision: str = "59e2876b74ac"
down_revision: str | None = "6de5aabfd3bf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_notices_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("event", "subject_id", "at", name=op.f("uq_notices_event_subject_id_at")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notices_account_id"), ["account_id"], unique=False)

    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pool_low_threshold", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_column("pool_low_threshold")

    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_account_id"))

    op.drop_table("notices")
