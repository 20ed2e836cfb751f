"""Every database test runs twice: on SQLite and on PostgreSQL (a fresh database per run, and
per pytest-xdist worker).

PostgreSQL (and Redis) tests skip with a reason when no server answers, except under
``CI=true``, where a missing server fails the run. Tables are emptied after each test, and
Redis keys are written under a prefix of the test's own and deleted after it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import httpx
import pytest
import redis
from argon2 import PasswordHasher
from fastapi import FastAPI

from keyplane import migrate
from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.kit import clock, passwords
from keyplane.observe import logs
from keyplane.services import services_of
from tests import factories
from tests.rows import delete_every_row

PG_HOST = os.environ.get("KEYPLANE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("KEYPLANE_TEST_PG_PORT", "5432"))
PG_USERS = ("postgres", "root")
REDIS_URL = os.environ.get("KEYPLANE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLIENT_ADDRESS = "203.0.113.7"
"""The address test requests come from (TEST-NET-3)."""


def unavailable(service: str, where: str, detail: str = "") -> NoReturn:
    """Skip a test whose server does not answer; under ``CI=true``, fail it instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{service} is required under CI=true but does not answer at {where}")
    pytest.skip(f"{service} does not answer at {where}{detail}")


async def _pg_admin() -> tuple[str, Any] | None:
    for user in PG_USERS:
        for database in ("postgres", "test"):
            try:
                connection = await asyncpg.connect(
                    host=PG_HOST, port=PG_PORT, user=user, database=database, timeout=3
                )
            except (OSError, asyncpg.PostgresError, TimeoutError):
                continue
            return user, connection
    return None


async def _create_pg_database(name: str) -> str | None:
    found = await _pg_admin()
    if found is None:
        return None
    user, connection = found
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{name}"


async def _drop_pg_database(name: str) -> None:
    found = await _pg_admin()
    if found is not None:
        _, connection = found
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'keyplane.db'}"
        migrate.upgrade(url)
        yield url
        return
    name = f"keyplane_test_{os.getpid()}_{secrets.token_hex(4)}"
    created = asyncio.run(_create_pg_database(name))
    if created is None:
        unavailable("PostgreSQL", f"{PG_HOST}:{PG_PORT}", f" (users {', '.join(PG_USERS)})")
    try:
        migrate.upgrade(created)
        yield created
    finally:
        asyncio.run(_drop_pg_database(name))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis (``KEYPLANE_TEST_REDIS_URL``), checked to answer."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except (redis.RedisError, OSError):
        unavailable("Redis", REDIS_URL)
    finally:
        client.close()
    return REDIS_URL


@contextmanager
def redis_keys(redis_url: str) -> Iterator[str]:
    """A key prefix of the block's own; every key under it is deleted when the block ends."""
    prefix = f"keyplane-test-{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    with redis_keys(redis_url) as prefix:
        yield prefix


@pytest.fixture(scope="session")
def settings_dir(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The settings' data directory, one per database: with the secret given, nothing is
    written there, and equal settings let tests share an application (``shared_app``)."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def settings(database_url: str, settings_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-server-secret-" + "x" * 32,
        data_dir=settings_dir,
        usage_flush_seconds=3600,  # tests flush explicitly
    )


_applications: dict[str, FastAPI] = {}


def shared_app(settings: Settings) -> FastAPI:
    """The application made with ``settings``, made once per process for equal settings.

    FastAPI builds each route's dependencies and models the first time a request reaches
    its router, once per application: about a second of work for the routes a typical test
    reaches, paid again by every test that made its own. Each test still runs its own
    lifespan (its own services, caches, connections and lean-path memory); what the
    application keeps between runs is derived from its settings and routes alone. The log
    handler is installed again: the last application made in the process chose it.
    """
    key = settings.model_dump_json()
    found = _applications.get(key)
    if found is None:
        found = _applications[key] = create_app(settings)
    else:
        logs.install(settings)
    return found


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = shared_app(settings)
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await empty_tables(application)


async def empty_tables(application: FastAPI) -> None:
    """Delete every row a test's application wrote, the secret's verifier included: the
    next test on the session's database may start with a secret of its own."""
    await delete_every_row(services_of(application).db)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(CLIENT_ADDRESS, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def acme(app: FastAPI) -> factories.Tenant:
    """An account ``acme`` with an admin user and a full-power admin API key."""
    return await factories.tenant(app, "acme")


@pytest.fixture(autouse=True, scope="session")
def _cheap_argon2() -> Iterator[None]:
    """Real Argon2id, at the lowest cost: production parameters spend a tenth of a second
    per hash, which every test that creates an account would pay."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    saved = passwords._hasher
    passwords._hasher = cheap
    yield
    passwords._hasher = saved


@pytest.fixture(autouse=True)
def _real_time() -> Iterator[None]:
    yield
    clock.reset()
