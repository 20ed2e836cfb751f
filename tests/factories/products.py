"""Products."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories.accounts import Tenant
from tests.factories.jsonapi import create


async def product(
    client: httpx.AsyncClient, account: Tenant, *, credential: str | None = None, **attributes: Any
) -> str:
    """A product named "Product" unless told; its id."""
    data = await create(client, account, "products", {"name": "Product", **attributes}, credential=credential)
    return str(data["id"])
