from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.kit import clock
from keyplane.kit.ids import uuid7
from keyplane.models.base import Base, UTCDateTime


class Event(Base):
    """One entry of an account's event log: what happened to which resource, who did it,
    through which request. Written in the transaction of the change it records, never
    changed afterwards; pruned after the retention period."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_account_id_id", "account_id", "id"),
        Index("ix_events_account_id_resource", "account_id", "resource_type", "resource_id", "id"),
        Index("ix_events_account_id_whodunnit", "account_id", "whodunnit_type", "whodunnit_id", "id"),
        Index("ix_events_account_id_event", "account_id", "event", "id"),
        Index("ix_events_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[uuid.UUID]
    product_id: Mapped[uuid.UUID | None]
    """The product the resource belongs to (what a product's webhook endpoints receive); not a
    foreign key: the log outlives what it describes."""
    whodunnit_type: Mapped[str] = mapped_column(String(16))
    whodunnit_id: Mapped[uuid.UUID | None]
    request_id: Mapped[str | None] = mapped_column(String(128))
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
