from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record


class MachineComponent(Record):
    """A hardware component of a machine (Keygen's ``components``), known by its fingerprint."""

    __tablename__ = "machine_components"
    __table_args__ = (
        # The policy's component uniqueness strategy decides what the fingerprint is unique in
        # (the machine, license, policy, product or account): ``uniqueness_scope`` holds that
        # record's id, so one unique index enforces it under concurrency (as for machines).
        # Keygen allows 4 KB fingerprints, so the index holds their SHA-256.
        UniqueConstraint("uniqueness_scope", "fingerprint_digest"),
        Index("ix_machine_components_account_id_id", "account_id", "id"),
        Index("ix_machine_components_machine_id_id", "machine_id", "id"),
        Index("ix_machine_components_license_id_id", "license_id", "id"),
        Index("ix_machine_components_product_id_id", "product_id", "id"),
        Index("ix_machine_components_account_id_fingerprint_digest", "account_id", "fingerprint_digest"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"))
    machine_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"))
    uniqueness_scope: Mapped[uuid.UUID] = mapped_column()
    fingerprint: Mapped[str] = mapped_column(Text)
    fingerprint_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    name: Mapped[str] = mapped_column(String(255))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)

    def invalidates(self) -> tuple[uuid.UUID, ...]:
        """Components are part of their license's validation (the ``components`` scope)."""
        return (self.license_id,)
