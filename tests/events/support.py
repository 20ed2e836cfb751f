"""What the event log tests share: reading the log, and JSON:API bodies."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from keyplane.services import services_of
from tests.factories import Tenant, bearer


def body(type_: str, attributes: dict[str, Any], **relationships: tuple[str, str]) -> dict[str, Any]:
    """A JSON:API request body; each relationship is ``name=(type, id)``."""
    data: dict[str, Any] = {"type": type_, "attributes": attributes}
    if relationships:
        data["relationships"] = {
            name: {"data": {"type": t, "id": i}} for name, (t, i) in relationships.items()
        }
    return {"data": data}


async def logged(app: FastAPI, client: httpx.AsyncClient, acme: Tenant, *events: str) -> list[dict[str, Any]]:
    """The account's events named ``events``, newest first, once the batched ones are written."""
    await services_of(app).events.flush()
    response = await client.get(
        f"{acme.base}/event-logs", params={"events[]": list(events), "limit": "100"}, headers=bearer(acme.key)
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data
