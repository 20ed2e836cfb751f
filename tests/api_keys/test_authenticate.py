"""A created key is a working credential, and its secret is never shown again."""

from __future__ import annotations

import httpx
import pytest

from tests import factories
from tests.api_keys.helpers import KEY_FIELDS, assert_error, key_url, keys_url, unknown_key, update
from tests.factories import Tenant, bearer


@pytest.mark.parametrize(
    ("header", "prefix"),
    [("Authorization", "Bearer "), ("Authorization", "Token "), ("X-API-Key", "")],
    ids=["bearer", "token", "x-api-key"],
)
async def test_created_key_authenticates(
    client: httpx.AsyncClient, acme: Tenant, header: str, prefix: str
) -> None:
    created = await factories.api_key(client, acme, name="mine")

    response = await client.get(key_url(acme, created["id"]), headers={header: prefix + created["key"]})

    assert response.status_code == 200, response.text
    assert response.json()["id"] == created["id"]
    assert response.json()["name"] == "mine"


async def test_no_credential_is_401(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.get(keys_url(acme))

    assert_error(response, 401, "TOKEN_MISSING")


async def test_wrong_authorization_scheme_is_401(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.get(keys_url(acme), headers={"Authorization": f"Basic {acme.key}"})

    assert_error(response, 401, "TOKEN_MISSING", "Authorization")


async def test_tampered_key_is_401(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)
    last = created["key"][-1]
    tampered = created["key"][:-1] + ("A" if last != "A" else "B")

    response = await client.get(keys_url(acme), headers=bearer(tampered))

    assert_error(response, 401, "TOKEN_FORMAT_INVALID")


async def test_unknown_key_is_401(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.get(keys_url(acme), headers=bearer(unknown_key()))

    assert_error(response, 401, "TOKEN_INVALID")


async def test_listing_and_reading_never_show_a_secret(client: httpx.AsyncClient, acme: Tenant) -> None:
    active = await factories.api_key(client, acme, name="active")
    inactive = await factories.api_key(client, acme, name="inactive")
    await update(client, acme, inactive["id"], status="inactive")
    secrets = [acme.key, active["key"], inactive["key"]]

    responses = [
        await client.get(keys_url(acme), headers=bearer(acme.key)),
        await client.get(keys_url(acme), params={"status": "inactive"}, headers=bearer(acme.key)),
        await client.get(key_url(acme, active["id"]), headers=bearer(acme.key)),
        await client.get(key_url(acme, inactive["id"]), headers=bearer(active["key"])),
    ]

    for response in responses:
        assert response.status_code == 200, response.text
        body = response.json()
        items = body.get("data", [body])
        assert items
        for item in items:
            assert set(item) == KEY_FIELDS
        for secret in secrets:
            # Neither the key nor its secret part (after the public start) appears.
            assert secret not in response.text
            assert secret[9:] not in response.text
    listed = {item["id"] for item in responses[0].json()["data"] + responses[1].json()["data"]}
    assert {active["id"], inactive["id"]} <= listed


async def test_update_response_never_shows_the_secret(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)

    response = await client.patch(
        key_url(acme, created["id"]), json={"name": "renamed"}, headers=bearer(acme.key)
    )

    assert response.status_code == 200, response.text
    assert set(response.json()) == KEY_FIELDS
    assert created["key"] not in response.text
