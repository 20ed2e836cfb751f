"""Webhook endpoints."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories.accounts import Tenant
from tests.factories.jsonapi import create


async def webhook_endpoint(
    client: httpx.AsyncClient,
    account: Tenant,
    url: str,
    *,
    subscriptions: list[str] | None = None,
    product: str | None = None,
    credential: str | None = None,
) -> dict[str, Any]:
    """An endpoint posting to ``url`` (every event unless ``subscriptions``; of ``product``
    only when given); its ``data``."""
    attributes: dict[str, Any] = {"url": url}
    if subscriptions is not None:
        attributes["subscriptions"] = subscriptions
    return await create(
        client, account, "webhook-endpoints", attributes, {"product": product}, credential=credential
    )
