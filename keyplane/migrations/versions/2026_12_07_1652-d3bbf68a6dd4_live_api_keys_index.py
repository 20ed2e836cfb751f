"""live_api_keys_index: an account's live API keys, in id order

A page of an account's live API keys (newest first) reads no more of this index than the page
shows, and the list's exact ``total`` counts this index alone. The wider index on (account,
kind, status, deleted, id) was meant to serve that count too, but with every key of an account
matching it, PostgreSQL's planner found reading the table cheaper than reading that index.

Revision ID: d3bbf68a6dd4
Revises: 5be0c1d7a3f2
Create Date: 2026-12-07 16:52:46.779195
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d3bbf68a6dd4"
down_revision: str | None = "5be0c1d7a3f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "kind = 'api_key' AND status = 'active' AND deleted_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_credentials_live_api_keys",
        "credentials",
        ["account_id", "id"],
        unique=False,
        postgresql_where=sa.text(LIVE),
        sqlite_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("ix_credentials_live_api_keys", table_name="credentials")
