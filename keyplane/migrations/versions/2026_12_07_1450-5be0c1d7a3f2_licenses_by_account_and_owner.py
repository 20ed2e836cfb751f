"""licenses_by_account_and_owner: an index for finding a customer's licenses

Searching the licenses of one owner (``owner=`` on the list, the console's search by email)
reads ``account_id = ? AND owner_id = ?`` in id order; with only ``(owner_id, id)`` and the
account's indexes, SQLite's planner (which has no statistics unless told to gather them)
walks every license of the account to count them or to fill a page.

Revision ID: 5be0c1d7a3f2
Revises: 5b2e9c41d7a3
Create Date: 2026-12-07 14:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "5be0c1d7a3f2"
down_revision: str | None = "5b2e9c41d7a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_licenses_account_id_owner_id_id", ["account_id", "owner_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index("ix_licenses_account_id_owner_id_id")
