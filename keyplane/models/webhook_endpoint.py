from __future__ import annotations

import uuid

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record


class WebhookEndpoint(Record):
    """Where an account's events are sent: a URL, the event names it wants (``*`` for all)
    and, optionally, the one product whose events it wants."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_account_id_id", "account_id", "id"),)

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(4096))
    subscriptions: Mapped[list[str]] = mapped_column(JSON)
    signature_algorithm: Mapped[str] = mapped_column(String(16), default="ed25519")
    api_version: Mapped[str] = mapped_column(String(16))

    def subscribed(self, event: str) -> bool:
        return "*" in self.subscriptions or event in self.subscriptions
