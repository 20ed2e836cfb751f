from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.kit.ids import uuid7
from keyplane.models.base import Record, UTCDateTime

if TYPE_CHECKING:
    from keyplane.models.webhook_endpoint import WebhookEndpoint


class DeliveryStatus(StrEnum):
    DELIVERING = "DELIVERING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class WebhookEvent(Record):
    """The outbox: one delivery of one event to one endpoint, written in the transaction of
    the change whose event it carries, then claimed and sent (and retried) by the delivery
    worker of any process. Its payload is rendered once, at the first claim, so every
    attempt sends the same bytes."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_account_id_id", "account_id", "id"),
        # The worker's look for due rows: still delivering, next attempt passed.
        Index("ix_webhook_events_due", "status", "next_attempt_at"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="SET NULL"), index=True
    )
    endpoint: Mapped[str] = mapped_column(String(4096))
    """The endpoint's URL when the event happened (Keygen's ``endpoint`` attribute)."""
    event_id: Mapped[uuid.UUID]
    """The event log's entry (not a foreign key: the log is pruned); the idempotency token a
    receiver drops duplicates by."""
    event: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[uuid.UUID]
    api_version: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str | None] = mapped_column(Text)
    """The resource's JSON:API document as a JSON string (as Keygen sends it); None until
    the first claim renders it."""
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.DELIVERING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """The lease of the worker sending it; past it (a process killed mid-send) the row is
    due again."""
    last_response_code: Mapped[int | None]
    last_response_body: Mapped[str | None] = mapped_column(Text)

    @classmethod
    def due_now(
        cls,
        endpoint: WebhookEndpoint,
        event_id: uuid.UUID,
        event: str,
        resource_type: str,
        resource_id: uuid.UUID,
        api_version: str,
        now: datetime,
        payload: str | None = None,
    ) -> WebhookEvent:
        """A new delivery of an event to ``endpoint`` (its URL as it is now), due at once: an
        event's first (``keyplane.events.fanout``), or a retry's, which carries the payload
        already sent."""
        return cls(
            **cls.due_now_values(
                endpoint, event_id, event, resource_type, resource_id, api_version, now, payload
            )
        )

    @staticmethod
    def due_now_values(
        endpoint: WebhookEndpoint,
        event_id: uuid.UUID,
        event: str,
        resource_type: str,
        resource_id: uuid.UUID,
        api_version: str,
        now: datetime,
        payload: str | None = None,
    ) -> dict[str, Any]:
        """``due_now``'s row as the values of a bulk insert (the event batch's flush)."""
        return {
            "id": uuid7(),
            "account_id": endpoint.account_id,
            "endpoint_id": endpoint.id,
            "endpoint": endpoint.url,
            "event_id": event_id,
            "event": event,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "api_version": api_version,
            "payload": payload,
            "status": DeliveryStatus.DELIVERING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "claimed_until": None,
            "last_response_code": None,
            "last_response_body": None,
            "created_at": now,
            "updated_at": now,
        }
