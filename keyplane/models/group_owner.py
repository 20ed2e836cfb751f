from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record


class GroupOwner(Record):
    """A user who owns a group (Keygen's ``group-owners``): they see the group, its owners
    and its members, without being a member themselves."""

    __tablename__ = "group_owners"
    __table_args__ = (
        UniqueConstraint("group_id", "user_id"),
        Index("ix_group_owners_account_id_id", "account_id", "id"),
        Index("ix_group_owners_user_id_group_id", "user_id", "group_id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    def invalidates(self) -> tuple[uuid.UUID, ...]:
        """A group's owners are part of what its answers show."""
        return (self.group_id,)
