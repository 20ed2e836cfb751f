"""Accounts never see each other: another account's key and ids are unknown here."""

from __future__ import annotations

import httpx

from tests import factories
from tests.api_keys.helpers import assert_error, fetch, ids, key_url, keys_url, verify
from tests.factories import Tenant, bearer


async def test_another_accounts_key_is_invalid_here(
    client: httpx.AsyncClient, acme: Tenant, beta: Tenant
) -> None:
    responses = [
        await client.get(keys_url(acme), headers=bearer(beta.key)),
        await client.post(keys_url(acme), json={}, headers=bearer(beta.key)),
        await client.post(keys_url(acme, "/verify"), json={"key": beta.key}, headers=bearer(beta.key)),
    ]

    for response in responses:
        assert_error(response, 401, "TOKEN_INVALID")
    assert len(await ids(client, acme)) == 1


async def test_another_accounts_key_ids_are_not_found(
    client: httpx.AsyncClient, acme: Tenant, beta: Tenant
) -> None:
    theirs = await factories.api_key(client, acme, name="acme's")

    responses = [
        await client.get(key_url(beta, theirs["id"]), headers=bearer(beta.key)),
        await client.patch(key_url(beta, theirs["id"]), json={"name": "beta's"}, headers=bearer(beta.key)),
        await client.put(key_url(beta, theirs["id"]), json={"status": "inactive"}, headers=bearer(beta.key)),
        await client.delete(key_url(beta, theirs["id"]), headers=bearer(beta.key)),
    ]

    for response in responses:
        assert_error(response, 404, "NOT_FOUND")
    stored = await fetch(client, acme, theirs["id"])
    assert (stored["name"], stored["status"], stored["deletedAt"]) == ("acme's", "active", None)


async def test_listings_hold_only_the_accounts_own_keys(
    client: httpx.AsyncClient, acme: Tenant, beta: Tenant
) -> None:
    ours = await factories.api_key(client, acme)
    theirs = await factories.api_key(client, beta)

    acme_ids = await ids(client, acme)
    beta_ids = await ids(client, beta)

    assert ours["id"] in acme_ids
    assert theirs["id"] in beta_ids
    assert not set(acme_ids) & set(beta_ids)
    assert (len(acme_ids), len(beta_ids)) == (2, 2)


async def test_another_accounts_key_id_is_no_cursor(
    client: httpx.AsyncClient, acme: Tenant, beta: Tenant
) -> None:
    theirs = await factories.api_key(client, acme)

    response = await client.get(
        keys_url(beta), params={"startingAfter": theirs["id"]}, headers=bearer(beta.key)
    )

    assert_error(response, 400, "STARTING_AFTER_INVALID", "startingAfter")


async def test_verifying_another_accounts_key_is_not_found(
    client: httpx.AsyncClient, acme: Tenant, beta: Tenant
) -> None:
    theirs = await factories.api_key(client, acme)

    result = await verify(client, beta, {"key": theirs["key"]})

    assert (result["valid"], result["code"]) == (False, "NOT_FOUND")
    assert (result["keyId"], result["userId"], result["organizationId"]) == (None, None, None)
    assert result["scopes"] == []


async def test_unknown_account_is_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.get("/v1/accounts/nobody/api-keys", headers=bearer(acme.key))

    assert_error(response, 404, "NOT_FOUND", "account")


async def test_account_by_id_is_the_same_account(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)

    response = await client.get(f"/v1/accounts/{acme.id}/api-keys/{created['id']}", headers=bearer(acme.key))

    assert response.status_code == 200, response.text
    assert response.json()["organizationId"] == str(acme.id)
