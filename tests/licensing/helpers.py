"""Making licensing records through the API, for the licensing tests."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests import factories
from tests.factories import Tenant, bearer


def ref(type_: str, id_: str) -> dict[str, Any]:
    return {"data": {"type": type_, "id": id_}}


async def product(
    client: httpx.AsyncClient, account: Tenant, key: str | None = None, **attributes: Any
) -> str:
    body = {"data": {"type": "products", "attributes": {"name": "Product", **attributes}}}
    response = await client.post(f"{account.base}/products", json=body, headers=bearer(key or account.key))
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def policy(
    client: httpx.AsyncClient, account: Tenant, product_id: str, key: str | None = None, **attributes: Any
) -> str:
    body = {
        "data": {
            "type": "policies",
            "attributes": {"name": "Policy", **attributes},
            "relationships": {"product": ref("products", product_id)},
        }
    }
    response = await client.post(f"{account.base}/policies", json=body, headers=bearer(key or account.key))
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def pool_key(
    client: httpx.AsyncClient, account: Tenant, policy_id: str, value: str, key: str | None = None
) -> dict[str, Any]:
    body = {
        "data": {
            "type": "keys",
            "attributes": {"key": value},
            "relationships": {"policy": ref("policies", policy_id)},
        }
    }
    response = await client.post(f"{account.base}/keys", json=body, headers=bearer(key or account.key))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def license(
    client: httpx.AsyncClient,
    account: Tenant,
    policy_id: str,
    key: str | None = None,
    owner: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    relationships: dict[str, Any] = {"policy": ref("policies", policy_id)}
    if owner is not None:
        relationships["owner"] = ref("users", owner)
    body = {"data": {"type": "licenses", "attributes": attributes, "relationships": relationships}}
    response = await client.post(f"{account.base}/licenses", json=body, headers=bearer(key or account.key))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def product_token(client: httpx.AsyncClient, account: Tenant, product_id: str) -> str:
    response = await client.post(f"{account.base}/products/{product_id}/tokens", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["attributes"]["token"])


async def role_key(app: FastAPI, client: httpx.AsyncClient, account: Tenant, role: str) -> tuple[str, str]:
    """A user with ``role`` and an API key of theirs with every scope the role allows:
    (user id, key)."""
    user_id = await factories.user(app, account, role=role)
    scopes = {
        "admin": ["READ", "CREATE", "UPDATE", "DELETE", "MANAGE"],
        "developer": ["READ", "CREATE", "UPDATE", "DELETE"],
        "sales-agent": ["READ", "CREATE", "UPDATE", "DELETE"],
        "support-agent": ["READ", "UPDATE"],
        "read-only": ["READ"],
        "user": ["READ", "CREATE", "UPDATE", "DELETE"],
    }[role]
    created = await factories.api_key(client, account, name=f"{role} key", scopes=scopes, userId=str(user_id))
    return str(user_id), str(created["key"])
