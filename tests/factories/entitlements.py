"""Entitlements, and attaching them to policies and licenses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from tests.factories.accounts import Tenant, bearer
from tests.factories.jsonapi import create


async def entitlement(
    client: httpx.AsyncClient,
    account: Tenant,
    code: str | None = None,
    *,
    credential: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """An entitlement with ``code`` (a new unique one when None), named after it unless told;
    its ``data``."""
    code = code or f"FEATURE_{uuid.uuid4().hex[:8].upper()}"
    attributes = {"name": code.replace("_", " ").title(), "code": code, **attributes}
    return await create(client, account, "entitlements", attributes, credential=credential)


def identifiers(ids: Sequence[str]) -> dict[str, Any]:
    """The body of an attach or detach request: ``{"data": [{"type", "id"}, ...]}``."""
    return {"data": [{"type": "entitlements", "id": id_} for id_ in ids]}


async def attach(
    client: httpx.AsyncClient,
    account: Tenant,
    owner: str,
    ids: Sequence[str],
    *,
    credential: str | None = None,
) -> httpx.Response:
    """``POST /{owner}/entitlements`` (``owner``: ``policies/<id>`` or ``licenses/<id>``); the
    response, whatever it is."""
    return await client.post(
        f"{account.base}/{owner}/entitlements",
        json=identifiers(ids),
        headers=bearer(credential or account.key),
    )


async def detach(
    client: httpx.AsyncClient,
    account: Tenant,
    owner: str,
    ids: Sequence[str],
    *,
    credential: str | None = None,
) -> httpx.Response:
    """``DELETE /{owner}/entitlements`` with the identifiers in the body; the response."""
    return await client.request(
        "DELETE",
        f"{account.base}/{owner}/entitlements",
        json=identifiers(ids),
        headers=bearer(credential or account.key),
    )
