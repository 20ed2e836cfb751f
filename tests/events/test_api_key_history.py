"""An API key's history: every change to it is in the event log, with who made it and from
which request; ``GET /api-keys/{id}/events`` shows it to whoever may see the key."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import CLIENT_ADDRESS
from tests.factories import Tenant, api_key, bearer


async def _history(client: httpx.AsyncClient, acme: Tenant, key_id: object, key: str) -> list[Any]:
    response = await client.get(f"{acme.base}/api-keys/{key_id}/events", headers=bearer(key))
    assert response.status_code == 200, response.text
    data: list[Any] = response.json()["data"]
    return data


async def test_a_keys_life_is_its_history_newest_first(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await api_key(client, acme, name="ci")
    key_id = created["id"]
    listed = await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))
    admin_key_id = listed.json()["data"][-1]["id"]
    url = f"{acme.base}/api-keys/{key_id}"
    headers = {**bearer(acme.key), "X-Request-Id": "rename-1", "User-Agent": "ops-script/2"}
    assert (await client.patch(url, json={"name": "deploys"}, headers=headers)).status_code == 200
    assert (await client.patch(url, json={"status": "inactive"}, headers=bearer(acme.key))).status_code == 200
    assert (await client.patch(url, json={"status": "active"}, headers=bearer(acme.key))).status_code == 200
    assert (await client.delete(url, headers=bearer(acme.key))).status_code == 204

    history = await _history(client, acme, key_id, acme.key)

    assert [entry["event"] for entry in history] == [
        "api-key.deleted",
        "api-key.reactivated",
        "api-key.deactivated",
        "api-key.updated",
        "api-key.created",
    ]
    renamed = history[3]
    assert renamed["metadata"] == {"diff": {"name": ["ci", "deploys"]}}
    assert renamed["requestId"] == "rename-1"
    assert renamed["userAgent"] == "ops-script/2"
    assert renamed["ip"] == CLIENT_ADDRESS
    assert renamed["createdAt"].endswith("Z")
    assert len(renamed["createdAt"]) == len("2026-12-07T08:54:03.246Z")  # milliseconds, as every createdAt
    assert renamed["actor"] == {"type": "api-key", "id": admin_key_id}
    admin = str(acme.admin_id)
    deactivated = {"status": ["active", "inactive"], "deactivatedBy": [None, admin]}
    assert history[2]["metadata"] == {"diff": deactivated}
    assert history[1]["metadata"] == {
        "diff": {"status": ["inactive", "active"], "deactivatedBy": [admin, None]}
    }


async def test_the_history_never_shows_a_secret(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await api_key(client, acme, name="secretive")
    history = await _history(client, acme, created["id"], acme.key)
    text = str(history)
    assert str(created["key"]) not in text
    assert acme.key not in text
