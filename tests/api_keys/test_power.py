"""A key can do what its scopes and its owner's role allow, from where it may be used, and
can never hand out more power (scopes, addresses, lifetime) than it has."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from keyplane.kit import clock
from tests import factories
from tests.api_keys.helpers import all_ids, assert_error, fetch, key_url, keys_url, parse_time
from tests.factories import Tenant, bearer


async def test_read_only_key_cannot_write(client: httpx.AsyncClient, acme: Tenant) -> None:
    reader = await factories.api_key(client, acme, scopes=["READ"])
    target = await factories.api_key(client, acme, name="target")
    before = await all_ids(client, acme)

    responses = [
        await client.post(keys_url(acme), json={}, headers=bearer(reader["key"])),
        await client.patch(key_url(acme, target["id"]), json={"name": "x"}, headers=bearer(reader["key"])),
        await client.put(key_url(acme, target["id"]), json={"name": "x"}, headers=bearer(reader["key"])),
        await client.delete(key_url(acme, target["id"]), headers=bearer(reader["key"])),
    ]

    for response in responses:
        assert_error(response, 403, "INSUFFICIENT_SCOPE")
    assert await all_ids(client, acme) == before
    stored = await fetch(client, acme, target["id"])
    assert (stored["name"], stored["deletedAt"]) == ("target", None)
    assert (await client.get(keys_url(acme), headers=bearer(reader["key"]))).status_code == 200


async def test_read_only_role_lists_but_cannot_create(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    reader, key = await factories.owned_key(app, client, acme, "read-only", scopes=["READ"])
    before = await all_ids(client, acme)

    listed = await client.get(keys_url(acme), headers=bearer(key["key"]))
    created = await client.post(keys_url(acme), json={}, headers=bearer(key["key"]))

    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["data"]] == [key["id"]]
    assert listed.json()["data"][0]["userId"] == str(reader)
    assert_error(created, 403, "INSUFFICIENT_SCOPE")
    assert await all_ids(client, acme) == before


async def test_role_caps_a_keys_stored_scopes(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    # A support agent's key may hold READ and UPDATE only; it cannot create even its own keys.
    _, key = await factories.owned_key(app, client, acme, "support-agent")

    response = await client.post(keys_url(acme), json={}, headers=bearer(key["key"]))

    assert key["scopes"] == ["READ", "UPDATE"]
    assert_error(response, 403, "INSUFFICIENT_SCOPE")


async def test_key_works_from_inside_its_whitelist(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, whitelistedIPs=["203.0.113.0/24"])

    response = await client.get(key_url(acme, created["id"]), headers=bearer(created["key"]))

    assert response.status_code == 200, response.text
    assert response.json()["whitelistedIPs"] == ["203.0.113.0/24"]


async def test_key_is_refused_outside_its_whitelist(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, whitelistedIPs=["10.0.0.0/8"])

    response = await client.get(key_url(acme, created["id"]), headers=bearer(created["key"]))

    assert_error(response, 403, "IP_NOT_ALLOWED")


async def test_restricted_caller_passes_its_restriction_on(client: httpx.AsyncClient, acme: Tenant) -> None:
    restricted = await factories.api_key(client, acme, whitelistedIPs=["203.0.113.0/24"])

    created = await factories.api_key(client, acme, credential=restricted["key"])

    assert created["whitelistedIPs"] == ["203.0.113.0/24"]
    assert (await fetch(client, acme, created["id"]))["whitelistedIPs"] == ["203.0.113.0/24"]


async def test_restricted_caller_may_narrow_its_range(client: httpx.AsyncClient, acme: Tenant) -> None:
    restricted = await factories.api_key(client, acme, whitelistedIPs=["203.0.113.0/24"])

    created = await factories.api_key(
        client, acme, credential=restricted["key"], whitelistedIPs=["203.0.113.128/25"]
    )

    assert created["whitelistedIPs"] == ["203.0.113.128/25"]


async def test_restricted_caller_cannot_widen_its_range(client: httpx.AsyncClient, acme: Tenant) -> None:
    restricted = await factories.api_key(client, acme, whitelistedIPs=["203.0.113.0/24"])
    before = await all_ids(client, acme)

    for wider in (["203.0.0.0/16"], ["203.0.113.0/24", "10.0.0.0/8"], ["2001:db8::/32"]):
        response = await client.post(
            keys_url(acme), json={"whitelistedIPs": wider}, headers=bearer(restricted["key"])
        )
        assert_error(response, 403, "WHITELISTED_IPS_NOT_GRANTABLE", "whitelistedIPs")
    assert await all_ids(client, acme) == before


async def test_restricted_caller_cannot_create_an_unrestricted_key(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    restricted = await factories.api_key(client, acme, whitelistedIPs=["203.0.113.0/24"])
    before = await all_ids(client, acme)

    response = await client.post(
        keys_url(acme), json={"whitelistedIPs": []}, headers=bearer(restricted["key"])
    )

    assert_error(response, 403, "WHITELISTED_IPS_REQUIRED", "whitelistedIPs")
    assert await all_ids(client, acme) == before


async def test_restricted_caller_cannot_lift_a_keys_restriction(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    restricted = await factories.api_key(client, acme, whitelistedIPs=["203.0.113.0/24"])
    target = await factories.api_key(client, acme, whitelistedIPs=["203.0.113.0/24"])

    for lifted in (None, [], ["0.0.0.0/0"]):
        response = await client.patch(
            key_url(acme, target["id"]), json={"whitelistedIPs": lifted}, headers=bearer(restricted["key"])
        )
        code = "WHITELISTED_IPS_NOT_GRANTABLE" if lifted else "WHITELISTED_IPS_REQUIRED"
        assert_error(response, 403, code, "whitelistedIPs")
    assert (await fetch(client, acme, target["id"]))["whitelistedIPs"] == ["203.0.113.0/24"]


async def test_key_made_by_an_expiring_key_expires_no_later(client: httpx.AsyncClient, acme: Tenant) -> None:
    expiring = await factories.api_key(client, acme, expiresAt=(clock.now() + timedelta(days=1)).isoformat())
    limit = parse_time(expiring["expiresAt"])

    unasked = await factories.api_key(client, acme, credential=expiring["key"])
    later = await factories.api_key(
        client, acme, credential=expiring["key"], expiresAt=(clock.now() + timedelta(days=30)).isoformat()
    )
    sooner = await factories.api_key(
        client, acme, credential=expiring["key"], expiresAt=(clock.now() + timedelta(hours=1)).isoformat()
    )

    assert parse_time(unasked["expiresAt"]) == limit
    assert parse_time(later["expiresAt"]) == limit
    assert parse_time(sooner["expiresAt"]) < limit
    assert parse_time((await fetch(client, acme, later["id"]))["expiresAt"]) == limit


async def test_expired_key_is_refused(client: httpx.AsyncClient, acme: Tenant) -> None:
    expiring = await factories.api_key(
        client, acme, expiresAt=(clock.now() + timedelta(minutes=5)).isoformat()
    )
    clock.advance(timedelta(minutes=6))

    response = await client.get(keys_url(acme), headers=bearer(expiring["key"]))

    assert_error(response, 401, "TOKEN_EXPIRED")


async def test_narrow_caller_cannot_widen_a_keys_scopes(client: httpx.AsyncClient, acme: Tenant) -> None:
    narrow = await factories.api_key(client, acme, scopes=["READ", "UPDATE"])
    target = await factories.api_key(client, acme, scopes=["READ"])

    response = await client.patch(
        key_url(acme, target["id"]), json={"scopes": ["READ", "DELETE"]}, headers=bearer(narrow["key"])
    )

    assert_error(response, 403, "SCOPE_NOT_GRANTABLE", "scopes")
    assert (await fetch(client, acme, target["id"]))["scopes"] == ["READ"]


async def test_restricted_caller_cannot_change_a_broader_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    restricted = await factories.api_key(client, acme, whitelistedIPs=["203.0.113.0/24"])
    broad = await factories.api_key(client, acme, name="broad")
    narrow = await factories.api_key(client, acme, name="narrow", whitelistedIPs=["203.0.113.8/29"])

    refused = await client.patch(
        key_url(acme, broad["id"]), json={"name": "renamed"}, headers=bearer(restricted["key"])
    )
    assert_error(refused, 403, "WHITELISTED_IPS_REQUIRED", "whitelistedIPs")
    assert (await fetch(client, acme, broad["id"]))["name"] == "broad"

    allowed = await client.patch(
        key_url(acme, narrow["id"]), json={"name": "renamed"}, headers=bearer(restricted["key"])
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["name"] == "renamed"
