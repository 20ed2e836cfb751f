from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.kit import clock
from keyplane.kit.ids import uuid7
from keyplane.models.base import Base, UTCDateTime


class Notice(Base):
    """A notification that has been sent: one row per (event, subject, occasion), so that each
    is sent once whichever process, sweep or restart comes to it. ``at`` names the occasion:
    the expiry an ``expiring-soon`` warned of, the last use an ``unused`` saw (``EVER`` for
    a state that is announced once until it ends, like an empty pool)."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("event", "subject_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[uuid.UUID]
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
