"""What the event log tests share: reading the log, and JSON:API bodies."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from keyplane.services import services_of
from tests.factories import Tenant, bearer


async def logged(app: FastAPI, client: httpx.AsyncClient, acme: Tenant, *events: str) -> list[dict[str, Any]]:
    """The account's events named ``events``, newest first, once the batched ones are written."""
    await services_of(app).events.flush()
    response = await client.get(
        f"{acme.base}/event-logs", params={"events[]": list(events), "limit": "100"}, headers=bearer(acme.key)
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data
