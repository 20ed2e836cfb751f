"""credentials deactivated_by

Revision ID: 3fccc1e9f283
Revises: 0059f99b6e8c
Create Date: 2026-11-22 18:06:42.909608
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3fccc1e9f283"
down_revision: str | None = "0059f99b6e8c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deactivated_by", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("deactivated_by")
