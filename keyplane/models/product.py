from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record, Vocabulary


class DistributionStrategy(StrEnum):
    LICENSED = "LICENSED"
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class Product(Record):
    """A thing the vendor sells; its policies, keys and licenses go when it goes."""

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("account_id", "code"),
        Index("ix_products_account_id_id", "account_id", "id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    code: Mapped[str | None] = mapped_column(String(255))
    distribution_strategy: Mapped[DistributionStrategy] = mapped_column(
        Vocabulary(DistributionStrategy, 16), default=DistributionStrategy.LICENSED
    )
    url: Mapped[str | None] = mapped_column(String(2048))
    platforms: Mapped[list[str] | None] = mapped_column(JSON)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
