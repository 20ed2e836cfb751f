"""Shared steps for the API-key tests: requests that must succeed, and error assertions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from keyplane.kit.credentials import CredentialKind, generate
from tests.factories import Tenant, bearer

Json = dict[str, Any]

CURRENT = "2026-11-01"
PREVIOUS = "2024-05-22"

KEY_FIELDS = frozenset(
    {
        "id",
        "name",
        "description",
        "scopes",
        "userId",
        "organizationId",
        "companyId",
        "start",
        "whitelistedIPs",
        "rateLimit",
        "status",
        "apiVersion",
        "apiVersionUpdatedAt",
        "apiVersionDowngradeNotAllowedAfter",
        "expiresAt",
        "lastUsedAt",
        "createdAt",
        "updatedAt",
        "deletedAt",
    }
)
"""Every field of an API key as GET and the listing show it (creation adds ``key``)."""

ALL_SCOPES = ["READ", "CREATE", "UPDATE", "DELETE", "MANAGE"]


def keys_url(tenant: Tenant, suffix: str = "") -> str:
    return f"{tenant.base}/api-keys{suffix}"


def key_url(tenant: Tenant, key_id: object) -> str:
    return f"{tenant.base}/api-keys/{key_id}"


def parse_time(value: str) -> datetime:
    """A wire timestamp (ISO-8601, UTC, milliseconds, ``Z``) as an aware datetime."""
    assert value.endswith("Z"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None
    return parsed.astimezone(UTC)


def unknown_key() -> str:
    """A well-formed API key that was never issued."""
    plaintext, _ = generate(CredentialKind.API_KEY)
    return plaintext


def relative(url: str) -> str:
    """A URL from a response, as a path the test client can follow."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def assert_error(response: httpx.Response, status: int, code: str, field: str | None = None) -> Json:
    """The plain-JSON error envelope, with exactly this status, code and field."""
    assert response.status_code == status, response.text
    body: Json = response.json()
    assert set(body) == {"status", "error", "requestId"}, body
    assert body["status"] == status
    assert body["error"]["code"] == code, body
    assert body["error"]["field"] == field, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    uuid.UUID(body["requestId"])
    return body


async def fetch(client: httpx.AsyncClient, tenant: Tenant, key_id: object, key: str | None = None) -> Json:
    """GET one API key (with the admin key unless told); must be 200."""
    response = await client.get(key_url(tenant, key_id), headers=bearer(key or tenant.key))
    assert response.status_code == 200, response.text
    found: Json = response.json()
    return found


async def update(
    client: httpx.AsyncClient, tenant: Tenant, key_id: object, key: str | None = None, **body: object
) -> Json:
    """PATCH an API key (with the admin key unless told); must be 200."""
    response = await client.patch(key_url(tenant, key_id), json=body, headers=bearer(key or tenant.key))
    assert response.status_code == 200, response.text
    updated: Json = response.json()
    return updated


async def listing(
    client: httpx.AsyncClient, tenant: Tenant, key: str | None = None, **params: str | int
) -> Json:
    """GET the list (with the admin key unless told); must be 200."""
    response = await client.get(keys_url(tenant), params=params, headers=bearer(key or tenant.key))
    assert response.status_code == 200, response.text
    page: Json = response.json()
    return page


async def ids(client: httpx.AsyncClient, tenant: Tenant, status: str = "active") -> list[str]:
    """Every id in the admin's listing with this status, in listing order."""
    page = await listing(client, tenant, status=status, limit=100)
    assert page["total"] == page["count"], "more than 100 keys: page instead"
    return [item["id"] for item in page["data"]]


async def all_ids(client: httpx.AsyncClient, tenant: Tenant) -> set[str]:
    """Every API key the account has, active or not."""
    return set(await ids(client, tenant, "active")) | set(await ids(client, tenant, "inactive"))


async def verify(
    client: httpx.AsyncClient,
    tenant: Tenant,
    body: Json,
    key: str | None = None,
    version: str | None = None,
) -> Json:
    """POST /api-keys/verify; must be 200 (the answer is in ``code``)."""
    headers = bearer(key or tenant.key)
    if version is not None:
        headers["Keyplane-Version"] = version
    response = await client.post(keys_url(tenant, "/verify"), json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result
