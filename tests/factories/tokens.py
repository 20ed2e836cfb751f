"""Tokens: a person's (email and password), a product's, and OAuth2 access tokens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from tests.auth.support import basic
from tests.factories.accounts import PASSWORD, Tenant, bearer


async def login(
    client: httpx.AsyncClient, account: Tenant, email: str, password: str = PASSWORD, **request: Any
) -> httpx.Response:
    """``POST /tokens`` with HTTP Basic; the response, whatever it is."""
    return await client.post(f"{account.base}/tokens", headers=basic(email, password), **request)


async def token(
    client: httpx.AsyncClient, account: Tenant, email: str, password: str = PASSWORD
) -> dict[str, Any]:
    """A token of the person with ``email``; must be 201. Its ``data`` (``token`` inside)."""
    response = await login(client, account, email, password)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def product_token(client: httpx.AsyncClient, account: Tenant, product_id: str) -> str:
    """A new token of the product; its secret."""
    response = await client.post(f"{account.base}/products/{product_id}/tokens", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["attributes"]["token"])


async def access_token(
    client: httpx.AsyncClient, account: Tenant, key: Mapping[str, object], **form: str
) -> str:
    """An OAuth2 access token for the API key ``key`` (its ``id`` and ``key``) by client
    credentials; ``form`` adds fields (``scope``, ...)."""
    body = {
        "grant_type": "client_credentials",
        "client_id": str(key["id"]),
        "client_secret": str(key["key"]),
        **form,
    }
    response = await client.post(f"{account.base}/oauth/token", data=body)
    assert response.status_code == 200, response.text
    issued: str = response.json()["access_token"]
    return issued


async def license_token(
    client: httpx.AsyncClient, account: Tenant, license_id: str, **attributes: Any
) -> dict[str, Any]:
    """A new activation token of the license (``attributes``: ``maxActivations``, ...);
    must be 200. Its ``data`` (``token`` inside)."""
    body = {"data": {"type": "tokens", "attributes": attributes}}
    response = await client.post(
        f"{account.base}/licenses/{license_id}/tokens", json=body, headers=bearer(account.key)
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
