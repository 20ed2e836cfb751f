"""machines.last_check_out: when the machine was last checked out (a machine file, issue 22)

Revision ID: cc7abcf65fcf
Revises: 5a823e1c3404
Create Date: 2026-12-07 10:03:45.355536
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.models.base

revision: str = "cc7abcf65fcf"
down_revision: str | None = "5a823e1c3404"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("machines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_check_out", keyplane.models.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("machines", schema=None) as batch_op:
        batch_op.drop_column("last_check_out")
