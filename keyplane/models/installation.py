from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.kit import clock
from keyplane.models.base import Base, UTCDateTime


class Installation(Base):
    """Facts about this Keyplane installation as a whole: a single row (``id`` 1)."""

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    secret_verifier: Mapped[str] = mapped_column(String(64))
    """A keyed hash of a fixed text under the server secret (hex), never the secret: a
    process started with another secret finds it does not match and refuses to start."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now)
