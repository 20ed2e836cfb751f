"""Machines: activating one (``machine``), or trying to (``activate``)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.factories.accounts import Tenant
from tests.factories.jsonapi import post


async def activate(
    client: httpx.AsyncClient,
    account: Tenant,
    license_id: str,
    fingerprint: str | None = None,
    *,
    owner: str | uuid.UUID | None = None,
    credential: str | None = None,
    headers: dict[str, str] | None = None,
    **attributes: Any,
) -> httpx.Response:
    """``POST /machines`` for ``license_id`` (with a fingerprint of its own unless told), as
    ``headers`` when given, else as ``credential`` or the admin; the response, whatever it is."""
    attributes = {"fingerprint": fingerprint or f"fp-{uuid.uuid4().hex[:12]}", **attributes}
    return await post(
        client,
        account,
        "machines",
        attributes,
        {"license": license_id, "owner": owner},
        credential=credential,
        headers=headers,
    )


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
    """A machine activated on ``license_id``; must be 201. Its ``data``."""
    response = await activate(
        client, account, license_id, fingerprint, owner=owner, credential=credential, **attributes
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
