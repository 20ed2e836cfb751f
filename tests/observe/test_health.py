"""``/healthz`` and ``/readyz``: what a load balancer asks, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.services import services_of
from tests.conftest import CLIENT_ADDRESS, empty_tables
from tests.faults import proxy, redis_server

SECRET = "test-server-secret-" + "x" * 32
"""The secret of the ``settings`` fixture: every application on the test's database uses it
(a database keeps its secret's verifier, and the others' tests share it)."""


async def test_healthz_answers_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_every_check_passes(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == "ok"
    assert body["checks"]["channel"] == "ok"  # the log is read; PostgreSQL's LISTEN is up


async def test_readyz_names_migrations_behind_the_code(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with services_of(app).db.writer() as session:
        (current,) = (await session.execute(text("SELECT version_num FROM alembic_version"))).one()
        await session.execute(text("UPDATE alembic_version SET version_num = 'aaaaaaaaaaaa'"))
        await session.commit()
    try:
        response = await client.get("/readyz")
    finally:
        async with services_of(app).db.writer() as session:
            await session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
            await session.commit()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["failing"] == ["migrations"]
    assert body["checks"]["database"] == "ok"
    assert "aaaaaaaaaaaa" in body["checks"]["migrations"]
    assert current in body["checks"]["migrations"]


@pytest.fixture
async def unreachable(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An application whose database went away after it started: PostgreSQL behind a proxy
    that now resets every connection. (A database that cannot be reached at start stops the
    start with one line: ``tests/test_startup_errors.py``.)"""
    if database_url.startswith("sqlite"):
        pytest.skip("an SQLite file is opened at start; one that cannot be is a startup error")
    url = make_url(database_url)
    with proxy(url.host or "127.0.0.1", url.port or 5432) as link:
        target = url.set(host="127.0.0.1", port=link.port).render_as_string(hide_password=False)
        async with Started(Settings(database_url=target, secret_key=SECRET, data_dir=tmp_path)) as client:
            link.cut()
            yield client
            link.restore()  # for Started to empty the tables


class Started:
    """A client of an application made from ``settings``, started and stopped around it."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)

    async def __aenter__(self) -> httpx.AsyncClient:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        # A failure is the answer under test here, not an error of the test.
        transport = httpx.ASGITransport(
            app=self.app, client=(CLIENT_ADDRESS, 40000), raise_app_exceptions=False
        )
        self._http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return self._http

    async def __aexit__(self, *_: object) -> None:
        await self._http.aclose()
        try:
            # A pooled connection that lived through a frozen or cut link may be dead: clean
            # up on fresh ones (the test's answer is already checked).
            await services_of(self.app).db.engine.dispose()
            await empty_tables(self.app)
        finally:
            await self._lifespan.__aexit__(None, None, None)


async def test_readyz_names_an_unreachable_database(unreachable: httpx.AsyncClient) -> None:
    response = await unreachable.get("/readyz")
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["status"] == "unavailable"
    assert "database" in body["failing"]
    assert body["checks"]["database"].startswith("unreachable")
    assert body["checks"]["migrations"] == "unknown"
    # Liveness does not depend on the database.
    assert (await unreachable.get("/healthz")).status_code == 200


async def test_readyz_does_not_hang_on_a_frozen_database(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a frozen network link is a PostgreSQL fault; SQLite is a local file")
    url = make_url(database_url)
    with proxy(url.host or "127.0.0.1", url.port or 5432) as link:
        target = url.set(host="127.0.0.1", port=link.port).render_as_string(hide_password=False)
        async with Started(Settings(database_url=target, secret_key=SECRET, data_dir=tmp_path)) as client:
            # Ready first: on a busy host the first read of the change log through the proxy
            # may take longer than its 1 s deadline, and the channel is not vouched for yet.
            assert (await _until_channel(client, lambda check: check == "ok"))["status"] == "ready"
            link.freeze()
            try:
                response = await client.get("/readyz")
            finally:
                link.restore()
            assert response.status_code == 503, response.text
            body = response.json()
            assert "database" in body["failing"]
            assert body["checks"]["database"] == "no answer within 1s"
            link.cut()  # let the frozen connections go, so the application stops at once
            link.restore()


async def test_a_database_error_logs_the_route_not_the_path(
    unreachable: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """However the request fails (a 503 here; the fault work makes every such failure
    one), the records it leaves name its route, not its path."""
    secret = "UNLOGGED-LICENSE-KEY-0001"
    with caplog.at_level(logging.WARNING, logger="keyplane"):
        response = await unreachable.get(f"/v1/api-keys/{secret}", headers={"X-Request-Id": "db-down-1"})
    assert response.status_code >= 500
    records = [r for r in caplog.records if r.getMessage() in ("database.unavailable", "request.crashed")]
    assert records
    for record in records:
        assert record.__dict__["route"] == "/v1/api-keys/{key_id}"
    assert all(secret not in str(r.__dict__) for r in caplog.records)


async def test_readyz_names_a_frozen_redis_channel_and_recovers(database_url: str, tmp_path: Path) -> None:
    """A Redis that stops answering (SIGSTOP) is named within its heartbeat deadline; the
    process stays correct (changes arrive by the log) and is ready again once Redis is."""
    with redis_server(tmp_path) as redis:
        settings = Settings(
            database_url=database_url,
            secret_key=SECRET,
            data_dir=tmp_path,
            redis_url=redis.url,
        )
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application, client=(CLIENT_ADDRESS, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                assert (await _until_channel(http, lambda check: check == "ok"))["status"] == "ready"
                redis.pause()
                try:
                    body = await _until_channel(http, lambda check: check != "ok")
                    assert body["failing"] == ["channel"]
                    assert body["checks"]["channel"].startswith("redis channel down")
                finally:
                    redis.resume()
                body = await _until_channel(http, lambda check: check == "ok")
                assert body["status"] == "ready"
            await empty_tables(application)


async def _until_channel(http: httpx.AsyncClient, wanted: Callable[[str], bool]) -> dict[str, Any]:
    """The readiness answer once its channel check is as ``wanted`` (within 30 s: a resumed
    Redis is reconnected to after the bus's backoff, longer on a busy host)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        body: dict[str, Any] = (await http.get("/readyz")).json()
        if wanted(body["checks"]["channel"]) or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.1)
    if wanted(body["checks"]["channel"]):
        return body
    raise AssertionError(f"the channel check stayed {body['checks']['channel']!r}")
