"""Concurrency: every request succeeds, every key is its own, and no request can starve
the connection pool."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from tests.api_keys.helpers import create, keys_url, listing, verify
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


async def test_verifications_beyond_the_pool_size_all_answer(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Each request holds at most one pooled connection: 3x the pool's capacity of
    verifications in flight at once all answer (a request that needed a second connection
    would deadlock the pool and fail them all with 503 after the pool timeout)."""
    pool = app.state.db.engine.pool
    in_flight = 3 * (pool.size() + pool._max_overflow)
    made = await create(client, acme, name="verified")
    responses = await asyncio.wait_for(
        asyncio.gather(
            *(
                client.post(keys_url(acme, "/verify"), json={"key": made["key"]}, headers=bearer(acme.key))
                for _ in range(in_flight)
            )
        ),
        timeout=20,  # well under the pool timeout (30 s) that a deadlock would end in
    )
    assert [r.status_code for r in responses] == [200] * in_flight
    assert {r.json()["code"] for r in responses} == {"VALID"}
