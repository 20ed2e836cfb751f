"""machines and account signing keys

Revision ID: 4f4bb1a298dc
Revises: 676df82b42e8
Create Date: 2026-11-22 19:17:09.931787
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.models.base

revision: str = "4f4bb1a298dc"
down_revision: str | None = "676df82b42e8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "machines",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("license_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("uniqueness_scope", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("platform", sa.String(length=255), nullable=True),
        sa.Column("hostname", sa.String(length=255), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("cores", sa.Integer(), nullable=True),
        sa.Column("memory", sa.BigInteger(), nullable=True),
        sa.Column("disk", sa.BigInteger(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("last_heartbeat", keyplane.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_machines_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_machines_license_id_licenses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_machines_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_machines_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machines")),
        sa.UniqueConstraint(
            "uniqueness_scope", "fingerprint", name=op.f("uq_machines_uniqueness_scope_fingerprint")
        ),
    )
    with op.batch_alter_table("machines", schema=None) as batch_op:
        batch_op.create_index("ix_machines_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index("ix_machines_license_id_id", ["license_id", "id"], unique=False)
        batch_op.create_index("ix_machines_product_id_id", ["product_id", "id"], unique=False)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ed25519_public", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ed25519_private", sa.LargeBinary(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("ed25519_private")
        batch_op.drop_column("ed25519_public")

    with op.batch_alter_table("machines", schema=None) as batch_op:
        batch_op.drop_index("ix_machines_product_id_id")
        batch_op.drop_index("ix_machines_license_id_id")
        batch_op.drop_index("ix_machines_account_id_id")

    op.drop_table("machines")
