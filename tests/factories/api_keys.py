"""API keys: the admin's, and those of users with a role."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from tests.factories.accounts import Tenant, bearer, user

ROLE_SCOPES = {
    "admin": ["READ", "CREATE", "UPDATE", "DELETE", "MANAGE"],
    "developer": ["READ", "CREATE", "UPDATE", "DELETE"],
    "sales-agent": ["READ", "CREATE", "UPDATE", "DELETE"],
    "support-agent": ["READ", "UPDATE"],
    "read-only": ["READ"],
    "user": ["READ", "CREATE", "UPDATE", "DELETE"],
}
"""Every scope an API key of a user with each role may have."""


async def api_key(
    client: httpx.AsyncClient, account: Tenant, *, credential: str | None = None, **body: Any
) -> dict[str, Any]:
    """An API key made through the API (with the admin's key unless told); the 201 body, with
    the full ``key``."""
    response = await client.post(
        f"{account.base}/api-keys", json=body, headers=bearer(credential or account.key)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def owned_key(
    app: FastAPI, client: httpx.AsyncClient, account: Tenant, role: str, **body: Any
) -> tuple[uuid.UUID, dict[str, Any]]:
    """A new user with ``role`` and an API key the admin makes for them: (user id, 201 body)."""
    user_id = await user(app, account, role)
    return user_id, await api_key(client, account, userId=str(user_id), **body)


async def role_key(app: FastAPI, client: httpx.AsyncClient, account: Tenant, role: str) -> tuple[str, str]:
    """A new user with ``role`` and an API key of theirs with every scope the role allows:
    (user id, key)."""
    scopes = ROLE_SCOPES[role]
    user_id, created = await owned_key(app, client, account, role, name=f"{role} key", scopes=scopes)
    return str(user_id), str(created["key"])
