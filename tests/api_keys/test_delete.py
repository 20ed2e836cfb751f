"""DELETE /api-keys/{id}: the key stops at once, the record stays as an inactive key."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from keyplane.kit import clock
from tests import factories
from tests.api_keys.helpers import assert_error, fetch, ids, key_url, keys_url, parse_time
from tests.factories import Tenant, bearer


async def test_deleted_key_is_refused_on_the_next_request(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)
    assert (await client.get(keys_url(acme), headers=bearer(created["key"]))).status_code == 200

    response = await client.delete(key_url(acme, created["id"]), headers=bearer(acme.key))

    assert response.status_code == 204
    assert response.content == b""
    refused = await client.get(keys_url(acme), headers=bearer(created["key"]))
    assert_error(refused, 401, "TOKEN_REVOKED")
    refused = await client.get(keys_url(acme), headers={"X-API-Key": created["key"]})
    assert_error(refused, 401, "TOKEN_REVOKED")


async def test_deleted_key_stays_visible_as_inactive(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, name="retired")
    before = clock.now()

    response = await client.delete(key_url(acme, created["id"]), headers=bearer(acme.key))

    assert response.status_code == 204
    assert created["id"] not in await ids(client, acme, "active")
    assert created["id"] in await ids(client, acme, "inactive")
    stored = await fetch(client, acme, created["id"])
    assert stored["status"] == "inactive"
    assert stored["name"] == "retired"
    assert stored["deletedAt"] is not None
    deleted_at = parse_time(stored["deletedAt"])
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= deleted_at <= clock.now()
    assert stored["updatedAt"] == stored["deletedAt"]


async def test_deleting_twice_is_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)
    assert (await client.delete(key_url(acme, created["id"]), headers=bearer(acme.key))).status_code == 204
    first = await fetch(client, acme, created["id"])

    response = await client.delete(key_url(acme, created["id"]), headers=bearer(acme.key))

    assert_error(response, 404, "NOT_FOUND")
    assert await fetch(client, acme, created["id"]) == first


async def test_deleting_a_deactivated_key_marks_it_deleted(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)
    response = await client.patch(
        key_url(acme, created["id"]), json={"status": "inactive"}, headers=bearer(acme.key)
    )
    assert response.status_code == 200

    response = await client.delete(key_url(acme, created["id"]), headers=bearer(acme.key))

    assert response.status_code == 204
    assert (await fetch(client, acme, created["id"]))["deletedAt"] is not None
    assert_error(await client.get(keys_url(acme), headers=bearer(created["key"])), 401, "TOKEN_REVOKED")


async def test_a_key_can_delete_itself(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)

    response = await client.delete(key_url(acme, created["id"]), headers=bearer(created["key"]))

    assert response.status_code == 204
    assert_error(await client.get(keys_url(acme), headers=bearer(created["key"])), 401, "TOKEN_REVOKED")


async def test_unknown_id_is_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    before = await ids(client, acme)

    response = await client.delete(key_url(acme, uuid.uuid4()), headers=bearer(acme.key))

    assert_error(response, 404, "NOT_FOUND")
    assert await ids(client, acme) == before


async def test_non_uuid_id_is_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.delete(key_url(acme, "latest"), headers=bearer(acme.key))

    assert_error(response, 400, "KEY_ID_INVALID", "keyId")


async def test_another_users_key_is_404_without_manage(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, developer_key = await factories.owned_key(app, client, acme, "developer")
    _, other_key = await factories.owned_key(app, client, acme, "developer")

    response = await client.delete(key_url(acme, other_key["id"]), headers=bearer(developer_key["key"]))

    assert_error(response, 404, "NOT_FOUND")
    assert (await fetch(client, acme, other_key["id"]))["deletedAt"] is None
    assert (await client.get(keys_url(acme), headers=bearer(other_key["key"]))).status_code == 200


async def test_manage_deletes_another_users_key(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, developer_key = await factories.owned_key(app, client, acme, "developer")

    response = await client.delete(key_url(acme, developer_key["id"]), headers=bearer(acme.key))

    assert response.status_code == 204
    assert_error(await client.get(keys_url(acme), headers=bearer(developer_key["key"])), 401, "TOKEN_REVOKED")
