"""invalidations and installation: a durable change log for caches, and the secret's verifier

``invalidations``: every committed change names the records it changed here, in its own
transaction, so every process learns of it by reading the database, whatever happens to
Redis or to a notification connection (``keyplane.bus``). ``installation``: one row with
a keyed hash of a fixed text under the server secret, so a process started with another
secret refuses to start instead of failing every credential.

Revision ID: 1d3832f7b279
Revises: 5b2d6c1f0a93
Create Date: 2026-12-07 00:38:46.198302
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.models.base

revision: str = "1d3832f7b279"
down_revision: str | None = "5b2d6c1f0a93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("secret_verifier", sa.String(length=64), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )
    op.create_table(
        "invalidations",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("created_at", keyplane.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_invalidations")),
    )
    with op.batch_alter_table("invalidations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invalidations_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invalidations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invalidations_created_at"))

    op.drop_table("invalidations")
    op.drop_table("installation")
