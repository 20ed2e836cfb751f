"""API versions: the list, pinning a key, the 72-hour downgrade window, ``Keyplane-Version``."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from keyplane.kit import clock
from tests import factories
from tests.api_keys.helpers import (
    CURRENT,
    PREVIOUS,
    assert_error,
    fetch,
    key_url,
    keys_url,
    parse_time,
    update,
)
from tests.factories import Tenant, bearer

HEADER = "Keyplane-Version"


async def test_versions_are_listed_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/api-versions")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["current"] == CURRENT
    assert [entry["version"] for entry in body["data"]] == [PREVIOUS, CURRENT]
    assert all(isinstance(entry["summary"], str) and entry["summary"] for entry in body["data"])


async def test_new_keys_default_to_the_current_version(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)

    assert created["apiVersion"] == CURRENT
    assert (await fetch(client, acme, created["id"]))["apiVersion"] == CURRENT


async def test_a_key_can_be_pinned_to_an_older_version(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, apiVersion=PREVIOUS)

    stored = await fetch(client, acme, created["id"])
    assert stored["apiVersion"] == PREVIOUS
    assert stored["apiVersionUpdatedAt"] is None
    assert stored["apiVersionDowngradeNotAllowedAfter"] is None


async def test_upgrade_opens_a_72_hour_downgrade_window(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, apiVersion=PREVIOUS)
    before = clock.now() - timedelta(seconds=1)

    upgraded = await update(client, acme, created["id"], apiVersion=CURRENT)

    assert upgraded["apiVersion"] == CURRENT
    updated_at = parse_time(upgraded["apiVersionUpdatedAt"])
    assert before <= updated_at <= clock.now()
    window = parse_time(upgraded["apiVersionDowngradeNotAllowedAfter"])
    assert window - updated_at == timedelta(hours=72)
    assert await fetch(client, acme, created["id"]) == upgraded


async def test_downgrade_within_the_window_is_allowed(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, apiVersion=PREVIOUS)
    await update(client, acme, created["id"], apiVersion=CURRENT)
    clock.advance(timedelta(hours=71))

    downgraded = await update(client, acme, created["id"], apiVersion=PREVIOUS)

    assert downgraded["apiVersion"] == PREVIOUS
    assert (await fetch(client, acme, created["id"]))["apiVersion"] == PREVIOUS
    response = await client.get(keys_url(acme), headers=bearer(created["key"]))
    assert response.headers[HEADER] == PREVIOUS


async def test_downgrade_after_the_window_is_422(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, apiVersion=PREVIOUS)
    upgraded = await update(client, acme, created["id"], apiVersion=CURRENT)
    clock.advance(timedelta(hours=73))

    response = await client.patch(
        key_url(acme, created["id"]), json={"apiVersion": PREVIOUS}, headers=bearer(acme.key)
    )

    assert_error(response, 422, "API_VERSION_DOWNGRADE_NOT_ALLOWED", "apiVersion")
    assert await fetch(client, acme, created["id"]) == upgraded


async def test_a_downgrade_closes_the_window(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, apiVersion=PREVIOUS)
    await update(client, acme, created["id"], apiVersion=CURRENT)
    await update(client, acme, created["id"], apiVersion=PREVIOUS)
    again = await update(client, acme, created["id"], apiVersion=CURRENT)
    clock.advance(timedelta(hours=71))

    downgraded = await update(client, acme, created["id"], apiVersion=PREVIOUS)

    # The second upgrade opened a window of its own.
    assert parse_time(again["apiVersionDowngradeNotAllowedAfter"]) > clock.now()
    assert downgraded["apiVersion"] == PREVIOUS


async def test_a_key_never_upgraded_cannot_downgrade(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)

    response = await client.put(
        key_url(acme, created["id"]), json={"apiVersion": PREVIOUS}, headers=bearer(acme.key)
    )

    assert_error(response, 422, "API_VERSION_DOWNGRADE_NOT_ALLOWED", "apiVersion")
    assert (await fetch(client, acme, created["id"]))["apiVersion"] == CURRENT


async def test_setting_the_same_version_changes_nothing(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)

    same = await update(client, acme, created["id"], apiVersion=CURRENT)

    assert same["apiVersion"] == CURRENT
    assert same["apiVersionUpdatedAt"] is None
    assert same["apiVersionDowngradeNotAllowedAfter"] is None


@pytest.mark.parametrize("pinned", [PREVIOUS, CURRENT])
async def test_without_header_the_keys_pinned_version_is_echoed(
    client: httpx.AsyncClient, acme: Tenant, pinned: str
) -> None:
    created = await factories.api_key(client, acme, apiVersion=pinned)

    response = await client.get(key_url(acme, created["id"]), headers=bearer(created["key"]))

    assert response.status_code == 200, response.text
    assert response.headers[HEADER] == pinned
    assert response.json()["apiVersion"] == pinned


async def test_header_overrides_the_pinned_version(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, apiVersion=PREVIOUS)

    response = await client.get(keys_url(acme), headers={**bearer(created["key"]), HEADER: CURRENT})

    assert response.status_code == 200, response.text
    assert response.headers[HEADER] == CURRENT
    # The request's version does not re-pin the key.
    assert (await fetch(client, acme, created["id"]))["apiVersion"] == PREVIOUS


async def test_every_operation_echoes_the_version(client: httpx.AsyncClient, acme: Tenant) -> None:
    headers = {**bearer(acme.key), HEADER: PREVIOUS}

    created = await client.post(keys_url(acme), json={}, headers=headers)
    key_id = created.json()["id"]
    responses = [
        created,
        await client.get(keys_url(acme), headers=headers),
        await client.get(key_url(acme, key_id), headers=headers),
        await client.patch(key_url(acme, key_id), json={"name": "v"}, headers=headers),
        await client.put(key_url(acme, key_id), json={"name": "w"}, headers=headers),
        await client.post(keys_url(acme, "/verify"), json={"key": acme.key}, headers=headers),
        await client.delete(key_url(acme, key_id), headers=headers),
    ]

    assert [response.status_code for response in responses] == [201, 200, 200, 200, 200, 200, 204]
    assert [response.headers.get(HEADER) for response in responses] == [PREVIOUS] * len(responses)


@pytest.mark.parametrize("asked", ["2023-01-01", "latest", ""])
async def test_unknown_header_version_is_400(client: httpx.AsyncClient, acme: Tenant, asked: str) -> None:
    before = (await client.get(keys_url(acme), headers=bearer(acme.key))).json()["total"]

    response = await client.post(keys_url(acme), json={}, headers={**bearer(acme.key), HEADER: asked})

    assert_error(response, 400, "API_VERSION_INVALID", HEADER)
    assert (await client.get(keys_url(acme), headers=bearer(acme.key))).json()["total"] == before


async def test_versions_under_an_unknown_account_are_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    known = await client.get(f"{acme.base}/api-versions")
    assert known.status_code == 200
    response = await client.get("/v1/accounts/no-such-account/api-versions")
    assert_error(response, 404, "NOT_FOUND", "account")
