from __future__ import annotations

import httpx

from tests.factories import Tenant, bearer


async def test_ping_needs_no_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/ping")
    assert response.status_code == 200


async def test_admin_key_lists_itself(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 1
    assert body["data"][0]["userId"] == str(acme.admin_id)
