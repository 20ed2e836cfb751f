"""A sick database is a 503 with ``Retry-After`` within seconds, never a hang or a 500, and
Keyplane recovers by itself when the database returns.

On PostgreSQL the application reaches the shared server through a ``Proxy`` that freezes
(a network partition: nothing moves, nothing is reset) or cuts (every connection reset) what
it carries. Every kind of request that needs the database then answers 503 in its API's
envelope within ``BOUND`` seconds of arriving, the lean handlers included; after a restore
the same requests succeed without a restart. On SQLite, another connection holds the write
lock past the timeout.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url

from keyplane.app import Keyplane
from keyplane.config import Settings
from keyplane.kit import clock
from keyplane.services import services_of
from keyplane.usage import UsageRecorder
from tests import factories, live
from tests.factories import Tenant, bearer
from tests.faults import Proxy, proxy

BOUND = 5.0
"""Seconds within which a request the database cannot serve is answered (the promise)."""
HANG = 30.0
"""Seconds after which a request is reported as hung rather than waited for."""
JSONAPI = "application/vnd.api+json"
POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def database_proxy(database_url: str) -> Iterator[Proxy]:
    """A proxy in front of the test's PostgreSQL server."""
    url = make_url(database_url)
    assert url.host is not None
    assert url.port is not None
    with proxy(url.host, url.port) as made:
        yield made


def _through(database_url: str, database_proxy: Proxy) -> str:
    """The URL of the test's PostgreSQL database through the proxy."""
    url = make_url(database_url).set(host="127.0.0.1", port=database_proxy.port)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    """The application's settings (the default timeouts); on PostgreSQL, through the proxy,
    with a Redis bus, so that the proxy's faults reach the database alone."""
    url = database_url
    extra: dict[str, Any] = {}
    if database_url.startswith("postgresql"):
        url = _through(database_url, request.getfixturevalue("database_proxy"))
        extra = {"redis_url": request.getfixturevalue("redis_url")}
        extra["redis_prefix"] = request.getfixturevalue("redis_prefix")
    return Settings(
        database_url=url,
        secret_key="test-server-secret-" + "x" * 32,
        data_dir=tmp_path,
        usage_flush_seconds=3600,  # flushed by the tests
        **extra,
    )


@dataclass
class World:
    """What the requests of a test are about, made before the fault."""

    acme: Tenant
    key: dict[str, Any]
    """An API key nobody has used or read since it was made (so nothing caches it)."""
    license_key: str
    """A license's key nobody has validated (so nothing caches it)."""


async def _world(client: httpx.AsyncClient, acme: Tenant) -> World:
    policy = await factories.policy(client, acme)
    made = await factories.license(client, acme, policy)
    key = await factories.api_key(client, acme, name="customer")
    # The admin's key, the account and its signing key are in memory, as on a server in use.
    listed = await client.get(f"{acme.base}/licenses", headers=bearer(acme.key))
    assert listed.status_code == 200, listed.text
    return World(acme, key, str(made["attributes"]["key"]))


def _requests(client: httpx.AsyncClient, world: World) -> dict[str, Awaitable[httpx.Response]]:
    """One request of each kind, by the envelope its answer is in and the path it takes."""
    base, admin = world.acme.base, bearer(world.acme.key)
    validate = {"meta": {"key": world.license_key}}
    oauth = {
        "grant_type": "client_credentials",
        "client_id": world.key["id"],
        "client_secret": world.key["key"],
    }
    return {
        "plain": client.get(f"{base}/api-keys", headers=admin),
        "jsonapi": client.get(f"{base}/licenses", headers=admin),
        "oauth": client.post(f"{base}/oauth/token", data=oauth),
        "lean verify": client.post(f"{base}/api-keys/verify", json={"key": world.key["key"]}, headers=admin),
        "lean validate-key": client.post(f"{base}/licenses/actions/validate-key", json=validate),
        "lean get": client.get(f"{base}/api-keys/{world.key['id']}", headers=admin),
        "ping": client.get("/v1/ping"),
    }


async def _timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = await asyncio.wait_for(request, HANG)
    return response, time.monotonic() - start


async def _all_at_once(
    requests: dict[str, Awaitable[httpx.Response]],
) -> dict[str, tuple[httpx.Response, float]]:
    answers = await asyncio.gather(*(_timed(request) for request in requests.values()))
    return dict(zip(requests, answers, strict=True))


def _assert_unavailable(kind: str, response: httpx.Response) -> None:
    """A 503 with Retry-After, in the envelope of the API the request called."""
    assert response.status_code == 503, (kind, response.text)
    assert response.headers["retry-after"] == "1", kind
    body = response.json()
    if kind in ("plain", "lean verify", "lean get"):
        assert body["status"] == 503, kind
        assert body["error"]["code"] == "SERVICE_UNAVAILABLE", kind
    elif kind == "oauth":
        assert body["error"] == "temporarily_unavailable", kind
        assert response.headers["cache-control"] == "no-store"
    else:
        assert response.headers["content-type"].startswith(JSONAPI), kind
        assert body["errors"][0]["code"] == "SERVICE_UNAVAILABLE", kind


def _assert_served(kind: str, response: httpx.Response) -> None:
    assert response.status_code == 200, (kind, response.text)
    if kind == "lean verify":
        assert response.json()["valid"] is True
    elif kind == "lean validate-key":
        assert response.json()["meta"]["code"] == "VALID"


@POSTGRESQL
async def test_a_frozen_database_is_a_503_on_every_path_and_recovery_needs_no_restart(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, database_proxy: Proxy
) -> None:
    """PostgreSQL stops answering (no reset, as in a partition): every kind of request that
    needs it answers 503 with Retry-After within the bound, the lean ones from the lean
    handler itself (the full application would wait out the timeout a second time). Once
    the network carries bytes again, the same requests succeed."""
    assert isinstance(app, Keyplane)
    assert app.hot is not None
    world = await _world(client, acme)
    lean_before = app.hot.answered
    database_proxy.freeze()
    try:
        answers = await _all_at_once(_requests(client, world))
    finally:
        database_proxy.restore()
    for kind, (response, elapsed) in answers.items():
        _assert_unavailable(kind, response)
        assert elapsed < BOUND, f"{kind} answered after {elapsed:.1f}s"
    assert app.hot.answered - lean_before == 3  # verify, validate-key, get: each its own 503
    for kind in ("jsonapi", "lean validate-key"):  # signed like any licensing answer
        assert "keygen-signature" in answers[kind][0].headers, kind

    for kind, request in _requests(client, world).items():
        _assert_served(kind, await asyncio.wait_for(request, HANG))


@POSTGRESQL
async def test_a_database_that_resets_connections_is_a_503_at_once_and_recovery_needs_no_restart(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, database_proxy: Proxy
) -> None:
    """The server goes away (every connection reset, new ones refused): the requests answer
    503 without waiting out any timeout; when it is back, they succeed."""
    world = await _world(client, acme)
    database_proxy.cut()
    try:
        answers = await _all_at_once(_requests(client, world))
    finally:
        database_proxy.restore()
    for kind, (response, elapsed) in answers.items():
        _assert_unavailable(kind, response)
        assert elapsed < services_of(app).settings.database_connect_timeout, (
            f"{kind} answered after {elapsed:.1f}s"
        )

    for kind, request in _requests(client, world).items():
        _assert_served(kind, await asyncio.wait_for(request, HANG))


@POSTGRESQL
async def test_connections_reset_while_idle_are_replaced_unseen(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, database_proxy: Proxy
) -> None:
    """The server restarts while no request is running: every pooled connection is dead. The
    next requests are served on new connections, none of them answers 503."""
    world = await _world(client, acme)
    database_proxy.cut()
    database_proxy.restore()
    for kind, request in _requests(client, world).items():
        _assert_served(kind, await asyncio.wait_for(request, HANG))


@POSTGRESQL
async def test_the_usage_flush_keeps_its_batch_while_the_database_is_frozen(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, database_proxy: Proxy
) -> None:
    """A flush during the fault gives up within the bound and keeps what it was writing; the
    next flush after the database is back writes it."""
    world = await _world(client, acme)
    async with services_of(app).db.reader() as session:
        _, state = await services_of(app).credentials.resolve(session, str(world.key["key"]))
    assert state is not None
    recorder = UsageRecorder(services_of(app).db, interval=3600)
    used_at = (clock.now() + timedelta(days=1)).replace(microsecond=0)
    recorder.record(state, used_at)
    database_proxy.freeze()
    try:
        start = time.monotonic()
        await asyncio.wait_for(recorder.flush(), HANG)
        elapsed = time.monotonic() - start
    finally:
        database_proxy.restore()
    assert elapsed < BOUND, f"the flush gave up after {elapsed:.1f}s"

    await recorder.flush()
    shown = await client.get(f"{acme.base}/api-keys/{world.key['id']}", headers=bearer(acme.key))
    assert shown.status_code == 200, shown.text
    assert shown.json()["lastUsedAt"] is not None
    assert shown.json()["lastUsedAt"].startswith(used_at.strftime("%Y-%m-%dT%H:%M:%S"))


@POSTGRESQL
def test_a_live_server_answers_503_from_its_lean_handler_and_recovers_by_itself(
    database_url: str, database_proxy: Proxy, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """The issue as measured from outside, on a real ``keyplane serve``: with PostgreSQL
    frozen, verifying a key the process has not seen is a JSON 503 with Retry-After within
    the bound (it was a text/plain 500, or a wait as long as the fault); once PostgreSQL is
    back, the same process verifies it."""
    secret = "database-faults-secret-" + "f" * 32
    env = live.environment(
        _through(database_url, database_proxy),
        secret,
        tmp_path,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
    )
    made = live.init(env, "faults", "admin@faults.test", "a long enough password")
    try:
        with live.serve(env, tmp_path / "serve.log") as base:
            keys, admin = f"{base}/v1/accounts/faults/api-keys", bearer(made["apiKey"])
            created = httpx.post(keys, json={"name": "customer"}, headers=admin, timeout=HANG)
            assert created.status_code == 201, created.text
            assert httpx.get(keys, headers=admin, timeout=HANG).status_code == 200  # the caller is cached
            key = created.json()["key"]

            def verify() -> httpx.Response:
                return httpx.post(f"{keys}/verify", json={"key": key}, headers=admin, timeout=HANG)

            database_proxy.freeze()
            try:
                start = time.monotonic()
                refused = verify()
                elapsed = time.monotonic() - start
            finally:
                database_proxy.restore()
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"] == "application/json"
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
            assert elapsed < BOUND, f"answered after {elapsed:.1f}s"

            verified = verify()
            assert verified.status_code == 200, verified.text
            assert verified.json()["valid"] is True
    finally:
        asyncio.run(live.empty(database_url))


@pytest.fixture
def write_lock(database_url: str) -> Iterator[sqlite3.Connection]:
    """Another connection to the SQLite file (another process, as far as SQLite can tell)."""
    path = make_url(database_url).database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


@SQLITE
async def test_a_write_lock_held_elsewhere_is_a_503_within_the_bound(
    client: httpx.AsyncClient, acme: Tenant, write_lock: sqlite3.Connection
) -> None:
    """Another process holds SQLite's write lock past the timeout: writes answer 503 within
    the bound, those queued behind this process's own writer as well; reads are served all
    along, and the writes succeed once the lock is released."""
    world = await _world(client, acme)
    base, admin = acme.base, bearer(acme.key)

    def writes() -> dict[str, Awaitable[httpx.Response]]:
        return {
            "plain": client.post(f"{base}/api-keys", json={"name": "made"}, headers=admin),
            "jsonapi": client.post(
                f"{base}/products",
                json={"data": {"type": "products", "attributes": {"name": "Made"}}},
                headers=admin,
            ),
            "oauth": client.post(
                f"{base}/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": world.key["id"],
                    "client_secret": world.key["key"],
                },
            ),
        }

    write_lock.execute("BEGIN IMMEDIATE")
    try:
        answers = await _all_at_once(writes())
        read = await asyncio.wait_for(client.get(f"{base}/api-keys", headers=admin), HANG)
    finally:
        write_lock.execute("ROLLBACK")
    for kind, (response, elapsed) in answers.items():
        _assert_unavailable(kind, response)
        assert elapsed < BOUND, f"{kind} answered after {elapsed:.1f}s"
    assert read.status_code == 200, read.text

    after = await _all_at_once(writes())
    assert [response.status_code for response, _ in after.values()] == [201, 201, 200]
