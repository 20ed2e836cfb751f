from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.kit import clock
from keyplane.kit.ids import uuid7
from keyplane.models.base import Base, UTCDateTime


class ConsoleSession(Base):
    """A user signed in to the console (``keyplane.console``): the browser holds the secret in
    a cookie, the row only its keyed hash. Signing out deletes the row; so does deleting the
    user. ``password_stamp`` is a keyed hash of the user's password hash at sign-in: once the
    password changes it no longer matches, and the session is over."""

    __tablename__ = "console_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    password_stamp: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
