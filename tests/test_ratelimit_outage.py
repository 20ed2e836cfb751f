"""Per-key rate limits while their Redis is killed or hung: requests are let through
(``rate_limit_fail=open``, logged once per outage and counted) or refused with a 503 and
``Retry-After`` in the route's envelope (``closed``); never a 500, never a hang. Limits hold
again once Redis is back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from keyplane.ratelimit import RedisLimiter
from keyplane.services import services_of
from tests import factories
from tests.auth.support import jsonapi_error, plain_error
from tests.factories import Tenant, bearer
from tests.faults import RedisServer, redis_server
from tests.ratelimits import window_start

HOUR = 3600
BOUND = 2.0
"""Seconds a request may take while Redis is down: one try, bounded by the limiter's 0.5 s
socket timeout, then none for a second."""
RETRY = 1.1
"""Seconds after a failure before the limiter tries Redis again."""
Answer = tuple[str, httpx.Response]
"""The dialect a request's route answers in, and its response."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as made:
        yield made


def _install(app: FastAPI, limiter: RedisLimiter) -> None:
    services_of(app).limiter = limiter


def _break(server: RedisServer, fault: str) -> None:
    if fault == "killed":
        server.kill()
    else:
        server.pause()


def _mend(server: RedisServer, fault: str) -> None:
    if fault == "killed":
        server.start()
    else:
        server.resume()


async def _requests(
    client: httpx.AsyncClient, acme: Tenant, limited: str
) -> list[tuple[str, httpx.Response]]:
    """One request of each kind the limited key is charged for, each within ``BOUND``:
    (dialect, response)."""
    answered: list[Answer] = []
    for dialect, method, path, key, body in (
        ("plain", "GET", "/api-keys", limited, None),
        ("plain", "POST", "/api-keys/verify", limited, {"key": acme.key}),  # the caller's limit
        ("plain", "POST", "/api-keys/verify", acme.key, {"key": limited}),  # the verified key's
        ("jsonapi", "GET", "/licenses", limited, None),
    ):
        started = time.monotonic()
        response = await client.request(method, acme.base + path, json=body, headers=bearer(key))
        assert time.monotonic() - started < BOUND
        answered.append((dialect, response))
    return answered


async def _limited_key(client: httpx.AsyncClient, acme: Tenant) -> str:
    made = await factories.api_key(client, acme, name="limited", rateLimit={"limit": 1, "duration": HOUR})
    return str(made["key"])


@pytest.mark.parametrize("fault", ["killed", "frozen"])
async def test_open_lets_requests_through_and_warns_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    acme: Tenant,
    server: RedisServer,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    limiter = RedisLimiter(server.url, "keyplane-test-outage:", fail="open")
    _install(app, limiter)
    try:
        window_start(HOUR)
        limited = await _limited_key(client, acme)
        assert (await client.get(f"{acme.base}/api-keys", headers=bearer(limited))).status_code == 200
        plain_error(await client.get(f"{acme.base}/api-keys", headers=bearer(limited)), 429, "RATE_LIMITED")

        _break(server, fault)
        with caplog.at_level(logging.WARNING, logger="keyplane"):
            answered = await _requests(client, acme, limited) + await _requests(client, acme, limited)

        for _, response in answered:
            assert response.status_code == 200, response.text
        warnings = [r for r in caplog.records if r.getMessage() == "ratelimit.redis.unavailable"]
        assert len(warnings) == 1
        assert limiter.unchecked >= len(answered)
        assert limiter.down

        _mend(server, fault)
        await asyncio.sleep(RETRY)
        statuses = [
            (await client.get(f"{acme.base}/api-keys", headers=bearer(limited))).status_code for _ in range(2)
        ]
        assert statuses[-1] == 429  # counted in Redis again (a killed one starts from nothing)
        assert not limiter.down
    finally:
        await limiter.close()


@pytest.mark.parametrize("fault", ["killed", "frozen"])
async def test_closed_refuses_with_503_in_the_routes_envelope(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, server: RedisServer, fault: str
) -> None:
    limiter = RedisLimiter(server.url, "keyplane-test-outage:", fail="closed")
    _install(app, limiter)
    try:
        window_start(HOUR)
        limited = await _limited_key(client, acme)
        assert (await client.get(f"{acme.base}/api-keys", headers=bearer(limited))).status_code == 200

        _break(server, fault)
        for dialect, response in await _requests(client, acme, limited):
            if dialect == "plain":
                plain_error(response, 503, "SERVICE_UNAVAILABLE")
            else:
                jsonapi_error(response, 503, "SERVICE_UNAVAILABLE")
            assert response.headers["retry-after"] == "1"
        # A credential without a limit never asks Redis: it is served as usual.
        assert (await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))).status_code == 200

        _mend(server, fault)
        await asyncio.sleep(RETRY)
        response = await client.get(f"{acme.base}/licenses", headers=bearer(limited))
        assert response.status_code in (200, 429), response.text
    finally:
        await limiter.close()
