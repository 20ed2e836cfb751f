from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record


def code_key(code: str) -> str:
    """What makes two codes the same: Keygen's codes are unique per account whatever their case."""
    return code.lower()


class Entitlement(Record):
    """A named feature (``code``) that policies and licenses grant; a license has its own and
    its policy's. Deleting it detaches it from every policy and license."""

    __tablename__ = "entitlements"
    __table_args__ = (
        # Unique per account ignoring case (Keygen's ``case_sensitive: false``), in the
        # database so that two concurrent creations cannot both take a code.
        UniqueConstraint("account_id", "code_key"),
        Index("ix_entitlements_account_id_id", "account_id", "id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(255))
    code_key: Mapped[str] = mapped_column(String(1024))
    """``code_key(code)`` (lower case can be longer than the code it comes from)."""
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
