"""Concurrency: every request succeeds, every key is its own, and no request can starve
the connection pool."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from keyplane.cache import Caches
from keyplane.credentials.engine import CredentialEngine, Outcome
from keyplane.db import Database, holds_connection
from keyplane.services import services_of
from tests import factories
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


async def test_verifications_beyond_the_pool_size_all_answer(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Each request holds at most one pooled connection: 3x the pool's capacity of
    verifications in flight at once all answer (a request that needed a second connection
    would deadlock the pool and fail them all with 503 after the pool timeout)."""
    pool: Any = services_of(app).db.engine.pool  # a QueuePool (or SQLite's), untyped as Pool
    in_flight = 3 * (pool.size() + pool._max_overflow)
    made = await factories.api_key(client, acme, name="verified")
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


async def test_a_request_holding_a_connection_does_not_wait_for_a_load_that_needs_one(
    app: FastAPI, acme: Tenant, database_url: str
) -> None:
    """The pool deadlock seen under a cold start: every pooled connection held by requests
    that wait for another request's read of the same credential, which waits for a
    connection. Here the pool has one connection: the holder must read for itself."""
    database = Database(database_url, pool_size=1, max_overflow=0, pool_timeout=10)
    engine = CredentialEngine(services_of(app).credentials.hasher, Caches(), size=100)
    holder, other = database.reader(), database.reader()
    try:
        await holder.execute(text("SELECT 1"))  # the only connection is now the holder's
        assert holds_connection(holder)
        leader = asyncio.create_task(engine.resolve(other, acme.key))
        await asyncio.sleep(0.2)  # the leader is reading: it waits for the holder's connection
        assert not leader.done()

        outcome, state = await asyncio.wait_for(engine.resolve(holder, acme.key), timeout=5)

        assert outcome is Outcome.VALID
        assert state is not None
        assert state.account_id == acme.id
    finally:
        await holder.close()
    try:
        outcome, _ = await asyncio.wait_for(leader, timeout=5)  # its connection is free now
        assert outcome is Outcome.VALID
    finally:
        await other.close()
        await database.dispose()
