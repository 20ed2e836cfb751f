"""products policies keys licenses

Revision ID: 676df82b42e8
Revises: 3fccc1e9f283
Create Date: 2026-11-22 18:42:01.260611
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.models.base

revision: str = "676df82b42e8"
down_revision: str | None = "3fccc1e9f283"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=True),
        sa.Column("distribution_strategy", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("platforms", sa.JSON(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_products_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("account_id", "code", name=op.f("uq_products_account_id_code")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index("ix_products_account_id_id", ["account_id", "id"], unique=False)

    op.create_table(
        "policies",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("strict", sa.Boolean(), nullable=False),
        sa.Column("floating", sa.Boolean(), nullable=False),
        sa.Column("use_pool", sa.Boolean(), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=True),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("max_machines", sa.Integer(), nullable=True),
        sa.Column("max_processes", sa.Integer(), nullable=True),
        sa.Column("max_users", sa.Integer(), nullable=True),
        sa.Column("max_cores", sa.Integer(), nullable=True),
        sa.Column("max_memory", sa.Integer(), nullable=True),
        sa.Column("max_disk", sa.Integer(), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("machine_uniqueness_strategy", sa.String(length=32), nullable=False),
        sa.Column("machine_matching_strategy", sa.String(length=32), nullable=False),
        sa.Column("expiration_strategy", sa.String(length=32), nullable=False),
        sa.Column("expiration_basis", sa.String(length=32), nullable=False),
        sa.Column("renewal_basis", sa.String(length=32), nullable=False),
        sa.Column("transfer_strategy", sa.String(length=32), nullable=False),
        sa.Column("authentication_strategy", sa.String(length=32), nullable=False),
        sa.Column("machine_leasing_strategy", sa.String(length=32), nullable=False),
        sa.Column("process_leasing_strategy", sa.String(length=32), nullable=False),
        sa.Column("overage_strategy", sa.String(length=32), nullable=False),
        sa.Column("require_product_scope", sa.Boolean(), nullable=False),
        sa.Column("require_policy_scope", sa.Boolean(), nullable=False),
        sa.Column("require_machine_scope", sa.Boolean(), nullable=False),
        sa.Column("require_fingerprint_scope", sa.Boolean(), nullable=False),
        sa.Column("require_user_scope", sa.Boolean(), nullable=False),
        sa.Column("require_checksum_scope", sa.Boolean(), nullable=False),
        sa.Column("require_version_scope", sa.Boolean(), nullable=False),
        sa.Column("require_check_in", sa.Boolean(), nullable=False),
        sa.Column("check_in_interval", sa.String(length=8), nullable=True),
        sa.Column("check_in_interval_count", sa.Integer(), nullable=True),
        sa.Column("require_heartbeat", sa.Boolean(), nullable=False),
        sa.Column("heartbeat_duration", sa.Integer(), nullable=True),
        sa.Column("heartbeat_cull_strategy", sa.String(length=32), nullable=False),
        sa.Column("heartbeat_resurrection_strategy", sa.String(length=32), nullable=False),
        sa.Column("heartbeat_basis", sa.String(length=32), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_policies_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_policies_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
    )
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.create_index("ix_policies_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index("ix_policies_product_id_id", ["product_id", "id"], unique=False)

    op.create_table(
        "keys",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("key_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_keys_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_keys_policy_id_policies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_keys_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_keys")),
        sa.UniqueConstraint("account_id", "key_digest", name=op.f("uq_keys_account_id_key_digest")),
    )
    with op.batch_alter_table("keys", schema=None) as batch_op:
        batch_op.create_index("ix_keys_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index("ix_keys_policy_id_id", ["policy_id", "id"], unique=False)
        batch_op.create_index("ix_keys_product_id_id", ["product_id", "id"], unique=False)

    op.create_table(
        "licenses",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("key_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expiry", keyplane.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=True),
        sa.Column("max_machines", sa.Integer(), nullable=True),
        sa.Column("max_processes", sa.Integer(), nullable=True),
        sa.Column("max_users", sa.Integer(), nullable=True),
        sa.Column("max_cores", sa.Integer(), nullable=True),
        sa.Column("max_memory", sa.Integer(), nullable=True),
        sa.Column("max_disk", sa.Integer(), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("last_validated", keyplane.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_check_in", keyplane.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_check_out", keyplane.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_licenses_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_licenses_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_licenses_policy_id_policies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_licenses_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licenses")),
        sa.UniqueConstraint("account_id", "key_digest", name=op.f("uq_licenses_account_id_key_digest")),
    )
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.create_index("ix_licenses_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index("ix_licenses_owner_id_id", ["owner_id", "id"], unique=False)
        batch_op.create_index("ix_licenses_policy_id_id", ["policy_id", "id"], unique=False)
        batch_op.create_index("ix_licenses_product_id_id", ["product_id", "id"], unique=False)

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product_id", sa.Uuid(), nullable=True))
        batch_op.alter_column("user_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_index("ix_credentials_product_id", ["product_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_credentials_product_id_products"),
            "products",
            ["product_id"],
            ["id"],
            ondelete="CASCADE",
        )
        # A credential acts for a user or (a product token) for a product, never both.
        batch_op.create_check_constraint("one_bearer", "(user_id IS NULL) <> (product_id IS NULL)")


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM credentials WHERE product_id IS NOT NULL"))
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_constraint("one_bearer", type_="check")
        batch_op.drop_constraint(batch_op.f("fk_credentials_product_id_products"), type_="foreignkey")
        batch_op.drop_index("ix_credentials_product_id")
        batch_op.alter_column("user_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("product_id")

    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index("ix_licenses_product_id_id")
        batch_op.drop_index("ix_licenses_policy_id_id")
        batch_op.drop_index("ix_licenses_owner_id_id")
        batch_op.drop_index("ix_licenses_account_id_id")

    op.drop_table("licenses")
    with op.batch_alter_table("keys", schema=None) as batch_op:
        batch_op.drop_index("ix_keys_product_id_id")
        batch_op.drop_index("ix_keys_policy_id_id")
        batch_op.drop_index("ix_keys_account_id_id")

    op.drop_table("keys")
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_index("ix_policies_product_id_id")
        batch_op.drop_index("ix_policies_account_id_id")

    op.drop_table("policies")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_account_id_id")

    op.drop_table("products")
