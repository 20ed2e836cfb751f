from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record


class Group(Record):
    """A set of licenses, machines and users (Keygen's groups), each count optionally capped.

    A member names its group (``group_id`` on licenses, machines and users); deleting the
    group leaves its members without one.
    """

    __tablename__ = "groups"
    __table_args__ = (Index("ix_groups_account_id_id", "account_id", "id"),)

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    max_licenses: Mapped[int | None] = mapped_column(Integer)
    max_machines: Mapped[int | None] = mapped_column(Integer)
    max_users: Mapped[int | None] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
