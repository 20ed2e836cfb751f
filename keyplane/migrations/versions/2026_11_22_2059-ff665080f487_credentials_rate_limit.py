"""credentials rate limit

Revision ID: ff665080f487
Revises: 4f4bb1a298dc
Create Date: 2026-11-22 20:59:50.379265
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ff665080f487"
down_revision: str | None = "4f4bb1a298dc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_limit", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rate_limit_duration", sa.Integer(), nullable=True))
        # A limit is a count per window: half of one means nothing.
        batch_op.create_check_constraint(
            "rate_limit_pair", "(rate_limit IS NULL) = (rate_limit_duration IS NULL)"
        )


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_constraint("rate_limit_pair", type_="check")
        batch_op.drop_column("rate_limit_duration")
        batch_op.drop_column("rate_limit")
