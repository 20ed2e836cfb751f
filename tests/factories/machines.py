"""Machines."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.factories.accounts import Tenant
from tests.factories.jsonapi import create


async def machine(
    client: httpx.AsyncClient,
    account: Tenant,
    license_id: str,
    fingerprint: str | None = None,
    *,
    owner: str | uuid.UUID | None = None,
    credential: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """A machine activated on ``license_id`` (with a fingerprint of its own unless told); its
    ``data``."""
    attributes = {"fingerprint": fingerprint or f"fp-{uuid.uuid4().hex[:12]}", **attributes}
    return await create(client, account, "machines", attributes, credential, license=license_id, owner=owner)
