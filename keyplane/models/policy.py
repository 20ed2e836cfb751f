from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record


class Policy(Record):
    """The rules for a product's licenses. ``use_pool`` and ``scheme`` never change."""

    __tablename__ = "policies"
    __table_args__ = (
        Index("ix_policies_account_id_id", "account_id", "id"),
        Index("ix_policies_product_id_id", "product_id", "id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    duration: Mapped[int | None] = mapped_column(Integer)
    strict: Mapped[bool] = mapped_column(Boolean, default=False)
    floating: Mapped[bool] = mapped_column(Boolean, default=False)
    use_pool: Mapped[bool] = mapped_column(Boolean, default=False)
    scheme: Mapped[str | None] = mapped_column(String(32))
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    max_machines: Mapped[int | None] = mapped_column(Integer)
    max_processes: Mapped[int | None] = mapped_column(Integer)
    max_users: Mapped[int | None] = mapped_column(Integer)
    max_cores: Mapped[int | None] = mapped_column(Integer)
    max_memory: Mapped[int | None] = mapped_column(Integer)
    max_disk: Mapped[int | None] = mapped_column(Integer)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    pool_low_threshold: Mapped[int | None] = mapped_column(Integer)
    machine_uniqueness_strategy: Mapped[str] = mapped_column(String(32), default="UNIQUE_PER_LICENSE")
    machine_matching_strategy: Mapped[str] = mapped_column(String(32), default="MATCH_ANY")
    expiration_strategy: Mapped[str] = mapped_column(String(32), default="RESTRICT_ACCESS")
    expiration_basis: Mapped[str] = mapped_column(String(32), default="FROM_CREATION")
    renewal_basis: Mapped[str] = mapped_column(String(32), default="FROM_EXPIRY")
    transfer_strategy: Mapped[str] = mapped_column(String(32), default="KEEP_EXPIRY")
    authentication_strategy: Mapped[str] = mapped_column(String(32), default="TOKEN")
    machine_leasing_strategy: Mapped[str] = mapped_column(String(32), default="PER_LICENSE")
    process_leasing_strategy: Mapped[str] = mapped_column(String(32), default="PER_MACHINE")
    overage_strategy: Mapped[str] = mapped_column(String(32), default="NO_OVERAGE")
    require_product_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_policy_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_machine_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_fingerprint_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_user_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_checksum_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_version_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_check_in: Mapped[bool] = mapped_column(Boolean, default=False)
    check_in_interval: Mapped[str | None] = mapped_column(String(8))
    check_in_interval_count: Mapped[int | None] = mapped_column(Integer)
    require_heartbeat: Mapped[bool] = mapped_column(Boolean, default=False)
    heartbeat_duration: Mapped[int | None] = mapped_column(Integer)
    heartbeat_cull_strategy: Mapped[str] = mapped_column(String(32), default="DEACTIVATE_DEAD")
    heartbeat_resurrection_strategy: Mapped[str] = mapped_column(String(32), default="NO_REVIVE")
    heartbeat_basis: Mapped[str] = mapped_column(String(32), default="FROM_FIRST_PING")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
