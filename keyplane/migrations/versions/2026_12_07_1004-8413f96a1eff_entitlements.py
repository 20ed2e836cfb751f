"""entitlements, attached to policies and licenses (issue 22)

An entitlement's ``code`` is unique per account whatever its case: ``code_key`` holds it in
lower case under the unique constraint. Deleting an entitlement, a policy or a license
deletes its attachments (the foreign keys cascade).

Revision ID: 8413f96a1eff
Revises: a634d5650a4c
Create Date: 2026-12-07 10:02:44.346992
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.models.base

revision: str = "8413f96a1eff"
down_revision: str | None = "a634d5650a4c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "entitlements",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("code_key", sa.String(length=1024), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_entitlements_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlements")),
        sa.UniqueConstraint("account_id", "code_key", name=op.f("uq_entitlements_account_id_code_key")),
    )
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.create_index("ix_entitlements_account_id_id", ["account_id", "id"], unique=False)

    op.create_table(
        "policy_entitlements",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("entitlement_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_policy_entitlements_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["entitlements.id"],
            name=op.f("fk_policy_entitlements_entitlement_id_entitlements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["policies.id"],
            name=op.f("fk_policy_entitlements_policy_id_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_entitlements")),
        sa.UniqueConstraint(
            "policy_id", "entitlement_id", name=op.f("uq_policy_entitlements_policy_id_entitlement_id")
        ),
    )
    with op.batch_alter_table("policy_entitlements", schema=None) as batch_op:
        batch_op.create_index("ix_policy_entitlements_entitlement_id", ["entitlement_id"], unique=False)

    op.create_table(
        "license_entitlements",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("license_id", sa.Uuid(), nullable=False),
        sa.Column("entitlement_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_license_entitlements_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["entitlements.id"],
            name=op.f("fk_license_entitlements_entitlement_id_entitlements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_license_entitlements_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_entitlements")),
        sa.UniqueConstraint(
            "license_id", "entitlement_id", name=op.f("uq_license_entitlements_license_id_entitlement_id")
        ),
    )
    with op.batch_alter_table("license_entitlements", schema=None) as batch_op:
        batch_op.create_index("ix_license_entitlements_entitlement_id", ["entitlement_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("license_entitlements", schema=None) as batch_op:
        batch_op.drop_index("ix_license_entitlements_entitlement_id")

    op.drop_table("license_entitlements")
    with op.batch_alter_table("policy_entitlements", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_entitlements_entitlement_id")

    op.drop_table("policy_entitlements")
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.drop_index("ix_entitlements_account_id_id")

    op.drop_table("entitlements")
