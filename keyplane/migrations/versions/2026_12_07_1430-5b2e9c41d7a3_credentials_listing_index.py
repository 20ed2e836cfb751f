"""credentials_listing_index: an account's keys by kind and status, in id order

A page of an account's API keys (newest first) reads no more of this index than the page
shows, and the list's exact ``total`` counts the index alone, without the table's rows.

Revision ID: 5b2e9c41d7a3
Revises: 298512300c46
Create Date: 2026-12-07 14:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "5b2e9c41d7a3"
down_revision: str | None = "298512300c46"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_credentials_account_id_kind_status_deleted_at_id",
        "credentials",
        ["account_id", "kind", "status", "deleted_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_credentials_account_id_kind_status_deleted_at_id", table_name="credentials")
