"""list filter indexes: licenses by expiry, machines by fingerprint and by owner

The list filters of issue 20 run in SQL: ``expires[...]``, ``expired``, ``expiring`` and
``status`` compare a license's expiry within its account; ``fingerprint`` looks a machine up
across the account (the unique index is per uniqueness scope); ``owner``/``user`` pick a
user's machines.

Revision ID: 7c1e5a9b3d20
Revises: 1d3832f7b279
Create Date: 2026-12-07 04:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "7c1e5a9b3d20"
down_revision: str | None = "1d3832f7b279"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_licenses_account_id_expiry", "licenses", ["account_id", "expiry"], unique=False)
    op.create_index(
        "ix_machines_account_id_fingerprint", "machines", ["account_id", "fingerprint"], unique=False
    )
    op.create_index("ix_machines_owner_id_id", "machines", ["owner_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_machines_owner_id_id", table_name="machines")
    op.drop_index("ix_machines_account_id_fingerprint", table_name="machines")
    op.drop_index("ix_licenses_account_id_expiry", table_name="licenses")
