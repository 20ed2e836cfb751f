from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record


class PolicyEntitlement(Record):
    """An entitlement attached to a policy: every license of the policy has it."""

    __tablename__ = "policy_entitlements"
    __table_args__ = (
        UniqueConstraint("policy_id", "entitlement_id"),
        Index("ix_policy_entitlements_entitlement_id", "entitlement_id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    entitlement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entitlements.id", ondelete="CASCADE"))
