"""Processes: spawning one (``process``), or trying to (``spawn``)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.factories.accounts import Tenant, bearer


async def spawn(
    client: httpx.AsyncClient,
    account: Tenant,
    machine_id: str,
    pid: str | None = None,
    *,
    credential: str | None = None,
    headers: dict[str, str] | None = None,
    **attributes: Any,
) -> httpx.Response:
    """``POST /processes`` on ``machine_id`` (with a pid of its own unless told), as ``headers``
    when given, else as ``credential`` or the admin; the response, whatever it is."""
    body = {
        "data": {
            "type": "processes",
            "attributes": {"pid": pid or f"pid-{uuid.uuid4().hex[:8]}", **attributes},
            "relationships": {"machine": {"data": {"type": "machines", "id": machine_id}}},
        }
    }
    sent = bearer(credential or account.key) if headers is None else headers
    return await client.post(f"{account.base}/processes", json=body, headers=sent)


async def process(
    client: httpx.AsyncClient,
    account: Tenant,
    machine_id: str,
    pid: str | None = None,
    *,
    credential: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """A process spawned on ``machine_id``; must be 201. Its ``data``."""
    response = await spawn(client, account, machine_id, pid, credential=credential, **attributes)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
