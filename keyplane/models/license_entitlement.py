from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record


class LicenseEntitlement(Record):
    """An entitlement attached to a license itself (besides those of its policy)."""

    __tablename__ = "license_entitlements"
    __table_args__ = (
        UniqueConstraint("license_id", "entitlement_id"),
        Index("ix_license_entitlements_entitlement_id", "entitlement_id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"))
    entitlement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entitlements.id", ondelete="CASCADE"))
