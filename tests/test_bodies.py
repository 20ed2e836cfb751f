"""Request bodies are capped (``KEYPLANE_MAX_BODY_BYTES``): past the cap, a 413
``BODY_TOO_LARGE`` in the route's own envelope, whether the length is declared or the body
comes in chunks, and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from keyplane.config import Settings
from keyplane.hot import LEAN_BODY_BYTES
from keyplane.models import Credential
from keyplane.services import services_of
from tests import factories
from tests.api_keys.helpers import assert_error
from tests.auth.support import jsonapi_error, oauth_error
from tests.factories import Tenant, bearer

LIMIT = 200_000
"""Above what a lean handler reads itself (``LEAN_BODY_BYTES``)."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_body_bytes": LIMIT})


def _padded(document: dict[str, Any], size: int) -> bytes:
    """``document`` as JSON, padded with whitespace (still valid JSON) to ``size`` bytes."""
    text = json.dumps(document).encode()
    return text + b" " * (size - len(text))


async def _chunks(body: bytes, size: int = 16_384) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def _keys(app: FastAPI) -> int:
    async with services_of(app).db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(Credential)) or 0)


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
async def test_an_api_key_body_over_the_cap_is_413_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, chunked: bool
) -> None:
    before = await _keys(app)
    body = _padded({"name": "big"}, LIMIT + 1)
    headers = {**bearer(acme.key), "Content-Type": "application/json"}
    content: bytes | AsyncIterator[bytes] = _chunks(body) if chunked else body

    response = await client.post(f"{acme.base}/api-keys", content=content, headers=headers)

    error = assert_error(response, 413, "BODY_TOO_LARGE", None)
    assert f"{LIMIT:,} bytes" in error["error"]["message"]
    assert await _keys(app) == before


async def test_a_body_at_the_cap_is_taken(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    body = _padded({"name": "just fits"}, LIMIT)
    headers = {**bearer(acme.key), "Content-Type": "application/json"}
    response = await client.post(f"{acme.base}/api-keys", content=_chunks(body), headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "just fits"


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
async def test_a_hot_route_answers_413_in_its_envelope_and_a_large_body_under_the_cap(
    client: httpx.AsyncClient, acme: Tenant, chunked: bool
) -> None:
    policy = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy)
    url = f"{acme.base}/licenses/actions/validate-key"
    document = {"meta": {"key": license["attributes"]["key"]}}
    headers = {"Content-Type": "application/vnd.api+json"}

    def content(size: int) -> bytes | AsyncIterator[bytes]:
        body = _padded(document, size)
        return _chunks(body) if chunked else body

    refused = await client.post(url, content=content(LIMIT + 1), headers=headers)
    # More than a lean handler reads itself: the application reads and answers it.
    taken = await client.post(url, content=content(LEAN_BODY_BYTES * 2), headers=headers)

    jsonapi_error(refused, 413, "BODY_TOO_LARGE")
    assert taken.status_code == 200, taken.text
    assert (taken.json()["meta"]["valid"], taken.json()["meta"]["code"]) == (True, "VALID")


async def test_oauth_answers_413_in_its_envelope(client: httpx.AsyncClient, acme: Tenant) -> None:
    form = b"grant_type=client_credentials&client_id=x&client_secret=" + b"y" * LIMIT
    response = await client.post(
        f"{acme.base}/oauth/token",
        content=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    oauth_error(response, 413, "invalid_request")
