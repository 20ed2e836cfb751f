"""credentials budget_id: a key made by a rate-limited key spends its maker's budget too

Revision ID: e80ee82c3645
Revises: ff665080f487
Create Date: 2026-12-03 00:01:34.832036
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e80ee82c3645"
down_revision: str | None = "ff665080f487"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing keys keep a budget of their own (NULL): only keys made from now on share one.
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("budget_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("budget_id")
