"""Licenses."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.factories.accounts import Tenant
from tests.factories.jsonapi import create
from tests.factories.policies import policy as make_policy


async def license(
    client: httpx.AsyncClient,
    account: Tenant,
    policy_id: str | None = None,
    *,
    policy: dict[str, Any] | None = None,
    owner: str | uuid.UUID | None = None,
    credential: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """A license of ``policy_id``, or (when None) of a new policy with the attributes
    ``policy``, of a new product (both the admin's); its ``data``. ``key`` among
    ``attributes`` is the license's key (given, it bypasses a pooled policy's pool)."""
    if policy_id is None:
        policy_id = await make_policy(client, account, **(policy or {}))
    else:
        assert policy is None, "policy attributes are for a new policy; policy_id names one"
    return await create(
        client, account, "licenses", attributes, {"policy": policy_id, "owner": owner}, credential=credential
    )
