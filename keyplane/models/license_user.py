from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record


class LicenseUser(Record):
    """A user attached to a license as one of its licensees (Keygen 1.8's ``license-users``),
    besides its owner."""

    __tablename__ = "license_users"
    __table_args__ = (
        UniqueConstraint("license_id", "user_id"),
        Index("ix_license_users_account_id_id", "account_id", "id"),
        Index("ix_license_users_user_id_license_id", "user_id", "license_id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    def invalidates(self) -> tuple[uuid.UUID, ...]:
        """A license's users are part of what its answers show."""
        return (self.license_id,)
