"""check-in intervals in Keygen's words: ``day``, ``week``, ``month``, ``year`` (issue 22)

Keyplane stored the upper-case spelling; the model reads either, and this makes what is
stored what the API shows.

Revision ID: c4e1b7d2a9f0
Revises: 8d3ffd57d66a
Create Date: 2026-12-07 10:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "c4e1b7d2a9f0"
down_revision: str | None = "8d3ffd57d66a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE policies SET check_in_interval = lower(check_in_interval) WHERE check_in_interval IS NOT NULL"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE policies SET check_in_interval = upper(check_in_interval) WHERE check_in_interval IS NOT NULL"
    )
