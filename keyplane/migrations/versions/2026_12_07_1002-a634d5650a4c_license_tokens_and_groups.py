"""license tokens and groups

License tokens (Keygen's activation tokens) are credentials whose bearer is a license, with
their activation and deactivation counts; groups gather licenses, machines and users.

Revision ID: a634d5650a4c
Revises: cc7abcf65fcf
Create Date: 2026-12-07 10:02:06.306707
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.models.base

revision: str = "a634d5650a4c"
down_revision: str | None = "cc7abcf65fcf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_BEARER = (
    "(CASE WHEN user_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN product_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN license_id IS NULL THEN 0 ELSE 1 END) = 1"
)


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("max_licenses", sa.Integer(), nullable=True),
        sa.Column("max_machines", sa.Integer(), nullable=True),
        sa.Column("max_users", sa.Integer(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_groups_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index("ix_groups_account_id_id", ["account_id", "id"], unique=False)

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("license_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("max_activations", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("activations", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("max_deactivations", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("deactivations", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index("ix_credentials_license_id", ["license_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_credentials_license_id_licenses"),
            "licenses",
            ["license_id"],
            ["id"],
            ondelete="CASCADE",
        )
        # A credential acts for exactly one bearer: now a user, a product or a license.
        batch_op.drop_constraint("one_bearer", type_="check")
        batch_op.create_check_constraint("one_bearer", ONE_BEARER)

    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_licenses_group_id"), ["group_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_licenses_group_id_groups"), "groups", ["group_id"], ["id"], ondelete="SET NULL"
        )

    with op.batch_alter_table("machines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_machines_group_id"), ["group_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_machines_group_id_groups"), "groups", ["group_id"], ["id"], ondelete="SET NULL"
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_group_id"), ["group_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_users_group_id_groups"), "groups", ["group_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_users_group_id_groups"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_users_group_id"))
        batch_op.drop_column("group_id")

    with op.batch_alter_table("machines", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_machines_group_id_groups"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_machines_group_id"))
        batch_op.drop_column("group_id")

    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_licenses_group_id_groups"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_licenses_group_id"))
        batch_op.drop_column("group_id")

    op.execute("DELETE FROM credentials WHERE license_id IS NOT NULL")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_constraint("one_bearer", type_="check")
        batch_op.create_check_constraint("one_bearer", "(user_id IS NULL) <> (product_id IS NULL)")
        batch_op.drop_constraint(batch_op.f("fk_credentials_license_id_licenses"), type_="foreignkey")
        batch_op.drop_index("ix_credentials_license_id")
        batch_op.drop_column("deactivations")
        batch_op.drop_column("max_deactivations")
        batch_op.drop_column("activations")
        batch_op.drop_column("max_activations")
        batch_op.drop_column("license_id")

    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index("ix_groups_account_id_id")

    op.drop_table("groups")
