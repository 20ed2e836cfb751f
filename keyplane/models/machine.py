from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record, UTCDateTime


class Machine(Record):
    """A device activated on a license, known by its fingerprint."""

    __tablename__ = "machines"
    __table_args__ = (
        # The policy's uniqueness strategy decides what the fingerprint must be unique in
        # (the license, policy, product or account): ``uniqueness_scope`` holds that
        # record's id, so one unique index enforces every strategy, under concurrency too.
        UniqueConstraint("uniqueness_scope", "fingerprint"),
        Index("ix_machines_account_id_id", "account_id", "id"),
        Index("ix_machines_license_id_id", "license_id", "id"),
        Index("ix_machines_product_id_id", "product_id", "id"),
        # The list filters ``fingerprint`` (account-wide) and ``owner``/``user``.
        Index("ix_machines_account_id_fingerprint", "account_id", "fingerprint"),
        Index("ix_machines_owner_id_id", "owner_id", "id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL"), index=True
    )
    uniqueness_scope: Mapped[uuid.UUID] = mapped_column()
    fingerprint: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    platform: Mapped[str | None] = mapped_column(String(255))
    hostname: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64))
    cores: Mapped[int | None] = mapped_column(Integer)
    memory: Mapped[int | None] = mapped_column(BigInteger)
    disk: Mapped[int | None] = mapped_column(BigInteger)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    last_heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_check_out: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def invalidates(self) -> tuple[uuid.UUID, ...]:
        """A machine is part of its license's validation: changing it changes the license's."""
        return (self.license_id,)
