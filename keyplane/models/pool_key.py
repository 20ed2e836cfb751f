from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record


class PoolKey(Record):
    """An unused key in a pooled policy's pool (the licensing API's ``keys`` resource).

    Popping the pool deletes the row; its value lives on as a license key.
    """

    __tablename__ = "keys"
    __table_args__ = (
        # Key strings can be long; a fixed-size digest keeps the unique index small and
        # within PostgreSQL's index-row limit whatever a client sends.
        UniqueConstraint("account_id", "key_digest"),
        Index("ix_keys_account_id_id", "account_id", "id"),
        Index("ix_keys_policy_id_id", "policy_id", "id"),
        Index("ix_keys_product_id_id", "product_id", "id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(Text)
    key_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    """SHA-256 of ``key``: what uniqueness and lookups use."""
