"""Keys waiting in a pooled policy's pool (the ``keys`` resource)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.factories.accounts import Tenant
from tests.factories.jsonapi import create


async def pool_key(
    client: httpx.AsyncClient,
    account: Tenant,
    policy_id: str,
    value: str | None = None,
    *,
    credential: str | None = None,
) -> dict[str, Any]:
    """A key in the pool of ``policy_id`` (a pooled policy), with a value of its own unless
    told; its ``data``."""
    value = value or f"POOL-KEY-{uuid.uuid4().hex[:16].upper()}"
    return await create(client, account, "keys", {"key": value}, {"policy": policy_id}, credential=credential)


async def pool_keys(
    client: httpx.AsyncClient, account: Tenant, policy_id: str, count: int, prefix: str | None = None
) -> list[dict[str, Any]]:
    """``count`` keys in the pool, oldest first, valued ``<prefix>-0000``, ``<prefix>-0001``, ...
    (the prefix names the policy unless told, so two pools never share a value); their ``data``."""
    prefix = prefix or f"POOL-KEY-{policy_id[-6:]}"
    return [await pool_key(client, account, policy_id, f"{prefix}-{n:04d}") for n in range(count)]
