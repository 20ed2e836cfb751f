"""accounts users credentials

Revision ID: 0059f99b6e8c
Revises:
Create Date: 2026-11-22 16:44:54.672500
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.models.base

revision: str = "0059f99b6e8c"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("slug", name=op.f("uq_accounts_slug")),
    )
    op.create_table(
        "users",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_users_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("account_id", "email", name=op.f("uq_users_account_id_email")),
    )
    op.create_table(
        "credentials",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lookup", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("start", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("whitelisted_ips", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("api_version", sa.String(length=10), nullable=True),
        sa.Column("api_version_previous", sa.String(length=10), nullable=True),
        sa.Column("api_version_updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "api_version_downgrade_not_allowed_after",
            keyplane.models.base.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("expires_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_credentials_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["credentials.id"],
            name=op.f("fk_credentials_parent_id_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_credentials_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
        sa.UniqueConstraint("lookup", name=op.f("uq_credentials_lookup")),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credentials_account_id_user_id_id", ["account_id", "user_id", "id"], unique=False
        )
        batch_op.create_index("ix_credentials_parent_id", ["parent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_credentials_parent_id")
        batch_op.drop_index("ix_credentials_account_id_user_id_id")

    op.drop_table("credentials")
    op.drop_table("users")
    op.drop_table("accounts")
