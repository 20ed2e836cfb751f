"""Concurrent creation: every request succeeds and every key is its own."""

from __future__ import annotations

import asyncio

import httpx

from tests.api_keys.helpers import keys_url, listing, verify
from tests.factories import Tenant, bearer

CONCURRENT = 32


async def test_concurrent_creates_all_succeed(client: httpx.AsyncClient, acme: Tenant) -> None:
    responses = await asyncio.gather(
        *(
            client.post(keys_url(acme), json={"name": f"parallel-{n}"}, headers=bearer(acme.key))
            for n in range(CONCURRENT)
        )
    )

    assert [response.status_code for response in responses] == [201] * CONCURRENT, [
        response.text for response in responses if response.status_code != 201
    ]
    bodies = [response.json() for response in responses]
    assert len({body["id"] for body in bodies}) == CONCURRENT
    assert len({body["key"] for body in bodies}) == CONCURRENT
    assert sorted(body["name"] for body in bodies) == sorted(f"parallel-{n}" for n in range(CONCURRENT))
    page = await listing(client, acme, limit=100)
    assert page["total"] == CONCURRENT + 1
    assert {item["id"] for item in page["data"]} >= {body["id"] for body in bodies}
    for body in (bodies[0], bodies[-1]):
        assert (await verify(client, acme, {"key": body["key"]}))["keyId"] == body["id"]
