"""Policies."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories.accounts import Tenant
from tests.factories.jsonapi import create
from tests.factories.products import product


async def policy(
    client: httpx.AsyncClient,
    account: Tenant,
    product_id: str | None = None,
    *,
    credential: str | None = None,
    **attributes: Any,
) -> str:
    """A policy named "Policy" unless told, of ``product_id`` (of a new product of the admin's
    when None); its id. ``usePool=True`` makes a pooled one (see ``pool_keys``)."""
    if product_id is None:
        product_id = await product(client, account)
    attributes = {"name": "Policy", **attributes}
    data = await create(
        client, account, "policies", attributes, {"product": product_id}, credential=credential
    )
    return str(data["id"])
