"""GET /api-keys/{id}: found, not found, not a key id, and other users' keys."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from tests import factories
from tests.api_keys.helpers import KEY_FIELDS, assert_error, fetch, key_url
from tests.factories import Tenant, bearer


async def test_get_returns_the_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, name="one", scopes=["READ"])

    found = await fetch(client, acme, created["id"])

    assert set(found) == KEY_FIELDS
    assert (found["id"], found["name"], found["scopes"]) == (created["id"], "one", ["READ"])


async def test_unknown_id_is_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    missing = uuid.uuid4()

    response = await client.get(key_url(acme, missing), headers=bearer(acme.key))

    body = assert_error(response, 404, "NOT_FOUND")
    assert body["error"]["message"] == "The requested API key was not found"  # not the id asked for


async def test_non_uuid_id_is_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.get(key_url(acme, "not-a-uuid"), headers=bearer(acme.key))

    assert_error(response, 400, "KEY_ID_INVALID", "keyId")


async def test_another_users_key_is_404_without_manage(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, developer_key = await factories.owned_key(app, client, acme, "developer")
    _, other_key = await factories.owned_key(app, client, acme, "developer")

    response = await client.get(key_url(acme, other_key["id"]), headers=bearer(developer_key["key"]))

    assert_error(response, 404, "NOT_FOUND")
    own = await fetch(client, acme, developer_key["id"], key=developer_key["key"])
    assert own["id"] == developer_key["id"]


async def test_manage_reads_another_users_key(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    developer, developer_key = await factories.owned_key(app, client, acme, "developer")

    found = await fetch(client, acme, developer_key["id"])

    assert found["userId"] == str(developer)
