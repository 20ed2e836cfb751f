from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.kit import clock
from keyplane.models.base import Base, UTCDateTime


class Invalidation(Base):
    """What a committed transaction changed, written in that same transaction: the log every
    process reads to forget what it cached (``keyplane.bus``). A row is kept a short while
    (it only has to outlive every process's next read), then pruned."""

    __tablename__ = "invalidations"

    # BIGINT on PostgreSQL; INTEGER PRIMARY KEY (the rowid, growing) on SQLite.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    origin: Mapped[str] = mapped_column(String(32))
    """The process that committed it (it has already forgotten these itself)."""
    tags: Mapped[str] = mapped_column(Text)
    """The changed records' cache tags, a JSON list."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)
