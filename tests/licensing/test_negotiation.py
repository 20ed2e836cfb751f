"""Keygen's content negotiation on the JSON:API surface."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer

PRODUCT = json.dumps({"data": {"type": "products", "attributes": {"name": "App"}}})


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/vnd.api+json"]
)
async def test_a_write_without_a_json_content_type_is_read_as_json(
    client: httpx.AsyncClient, acme: Tenant, content_type: str | None
) -> None:
    headers = bearer(acme.key)
    if content_type is not None:
        headers["Content-Type"] = content_type
    created = await client.post(f"{acme.base}/products", content=PRODUCT, headers=headers)
    assert created.status_code == 201, created.text
    listed = await client.get(f"{acme.base}/products", headers=bearer(acme.key))
    assert [p["attributes"]["name"] for p in listed.json()["data"]] == ["App"]


@pytest.mark.parametrize(
    ("accept", "answered"),
    [
        ("application/vnd.api+json", "application/vnd.api+json"),
        ("application/vnd.keygen+json", "application/vnd.api+json"),
        ("application/json", "application/json"),
        ("*/*", "application/vnd.api+json"),
        ("text/html, application/json;q=0.9", "application/json"),
    ],
)
async def test_accepted_media_types(
    client: httpx.AsyncClient, acme: Tenant, accept: str, answered: str
) -> None:
    response = await client.get(f"{acme.base}/products", headers={**bearer(acme.key), "Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(answered)


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/png, text/plain"])
async def test_an_unacceptable_accept_header_is_400_and_changes_nothing(
    client: httpx.AsyncClient, acme: Tenant, accept: str
) -> None:
    refused = await client.post(
        f"{acme.base}/products", content=PRODUCT, headers={**bearer(acme.key), "Accept": accept}
    )
    body = jsonapi_error(refused, 400, "MIME_TYPE_INVALID")
    assert body["errors"][0]["source"] == {"header": "Accept"}
    listed = await client.get(f"{acme.base}/products", headers=bearer(acme.key))
    assert listed.json()["data"] == []


async def test_the_api_key_surface_and_ping_keep_their_own_rules(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    assert (await client.get("/v1/ping", headers={"Accept": "text/plain"})).status_code == 200
    listed = await client.get(f"{acme.base}/api-keys", headers={**bearer(acme.key), "Accept": "text/html"})
    assert listed.status_code == 200
