"""Failed sign-ins on ``POST /tokens`` are limited per email and client address, and per
address across emails; past a limit, 429 before the password is checked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from keyplane.config import Settings
from keyplane.kit import clock
from keyplane.ratelimit import RateLimiter, RedisLimiter
from keyplane.services import services_of
from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer
from tests.faults import redis_server
from tests.ratelimits import KINDS, installed, window_start

WINDOW = 60


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"login_attempts": 3, "login_address_attempts": 5, "login_window_seconds": WINDOW}
    )


@pytest.fixture(params=KINDS)
async def limiter(request: pytest.FixtureRequest, app: FastAPI) -> AsyncIterator[RateLimiter]:
    """The app's limiter, in memory and (a second run) on Redis."""
    async with installed(request, app, request.param) as made:
        yield made


@pytest.fixture
async def elsewhere(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client at another address than ``client``'s."""
    transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _fail(client: httpx.AsyncClient, tenant: Tenant, email: str, times: int) -> None:
    for _ in range(times):
        response = await factories.login(client, tenant, email, "wrong-password")
        # Keygen's codes: a wrong password, or an email no user of the account has.
        assert response.status_code == 401, response.text
        assert response.json()["errors"][0]["code"] in ("PASSWORD_INVALID", "EMAIL_INVALID")


async def _token_count(client: httpx.AsyncClient, tenant: Tenant) -> int:
    response = await client.get(f"{tenant.base}/tokens", headers=bearer(tenant.key))
    assert response.status_code == 200, response.text
    return len(response.json()["data"])


@pytest.mark.usefixtures("limiter")
async def test_past_the_limit_even_the_right_password_is_refused_until_the_window_ends(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    start = window_start(WINDOW)
    await _fail(client, acme, acme.admin_email, 3)

    refused = await factories.login(client, acme, acme.admin_email)
    body = jsonapi_error(refused, 429, "RATE_LIMITED")
    assert "this email" in body["errors"][0]["detail"]
    assert factories.PASSWORD not in refused.text
    assert WINDOW - 5 <= int(refused.headers["retry-after"]) <= WINDOW  # the window's rest
    assert refused.headers["x-ratelimit-limit"] == "3"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-ratelimit-reset"] == str(start + WINDOW)
    # A wrong password past the limit reads the same: a refused guess learns nothing.
    jsonapi_error(await factories.login(client, acme, acme.admin_email, "wrong-again"), 429, "RATE_LIMITED")
    assert await _token_count(client, acme) == 0

    clock.advance(timedelta(seconds=WINDOW))
    assert (await factories.login(client, acme, acme.admin_email)).status_code == 201
    assert await _token_count(client, acme) == 1


@pytest.mark.usefixtures("limiter")
async def test_the_email_is_counted_however_it_is_written(client: httpx.AsyncClient, acme: Tenant) -> None:
    window_start(WINDOW)
    await _fail(client, acme, acme.admin_email.upper(), 2)
    await _fail(client, acme, f"  {acme.admin_email} ", 1)
    jsonapi_error(await factories.login(client, acme, acme.admin_email), 429, "RATE_LIMITED")


@pytest.mark.usefixtures("limiter")
async def test_successful_sign_ins_are_not_counted(client: httpx.AsyncClient, acme: Tenant) -> None:
    window_start(WINDOW)
    for _ in range(8):
        assert (await factories.login(client, acme, acme.admin_email)).status_code == 201
    await _fail(client, acme, acme.admin_email, 2)
    assert (await factories.login(client, acme, acme.admin_email)).status_code == 201


@pytest.mark.usefixtures("limiter")
async def test_another_address_and_another_email_are_not_locked_out(
    app: FastAPI, client: httpx.AsyncClient, elsewhere: httpx.AsyncClient, acme: Tenant
) -> None:
    window_start(WINDOW)
    other = await factories.user(app, acme, email="other@acme.test")
    assert other
    await _fail(client, acme, acme.admin_email, 3)
    jsonapi_error(await factories.login(client, acme, acme.admin_email), 429, "RATE_LIMITED")

    # The user, from their own address, still signs in; so does another user from the first.
    assert (await factories.login(elsewhere, acme, acme.admin_email)).status_code == 201
    assert (await factories.login(client, acme, "other@acme.test")).status_code == 201


@pytest.mark.usefixtures("limiter")
async def test_one_address_sweeping_many_emails_is_stopped(
    app: FastAPI, client: httpx.AsyncClient, elsewhere: httpx.AsyncClient, acme: Tenant
) -> None:
    window_start(WINDOW)
    for n in range(5):
        await _fail(client, acme, f"guess-{n}@acme.test", 1)

    refused = await factories.login(client, acme, acme.admin_email)
    body = jsonapi_error(refused, 429, "RATE_LIMITED")
    assert "any email" in body["errors"][0]["detail"]
    assert refused.headers["x-ratelimit-limit"] == "5"
    assert (await factories.login(elsewhere, acme, acme.admin_email)).status_code == 201


@pytest.mark.usefixtures("limiter")
async def test_limits_are_per_account(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    window_start(WINDOW)
    globex = await factories.tenant(app, "globex")
    await _fail(client, acme, globex.admin_email, 3)
    assert (await factories.login(client, globex, globex.admin_email)).status_code == 201


@pytest.mark.usefixtures("limiter")
async def test_ipv6_clients_are_counted_by_their_slash_64(app: FastAPI, acme: Tenant) -> None:
    window_start(WINDOW)

    def at(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async with at("2001:db8:1:2::a") as first, at("2001:db8:1:2::b") as same, at("2001:db8:1:3::a") as other:
        await _fail(first, acme, acme.admin_email, 3)
        jsonapi_error(await factories.login(same, acme, acme.admin_email), 429, "RATE_LIMITED")
        assert (await factories.login(other, acme, acme.admin_email)).status_code == 201


@pytest.mark.usefixtures("limiter")
async def test_malformed_credentials_are_not_counted(client: httpx.AsyncClient, acme: Tenant) -> None:
    window_start(WINDOW)
    for _ in range(5):
        missing = await client.post(f"{acme.base}/tokens", headers={"Authorization": "Basic !!!"})
        jsonapi_error(missing, 401, "CREDENTIALS_INVALID")
    assert (await factories.login(client, acme, acme.admin_email)).status_code == 201


async def test_the_limits_can_be_turned_off(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    off = {"login_attempts": 0, "login_address_attempts": 0}
    services_of(app).settings = services_of(app).settings.model_copy(update=off)
    window_start(WINDOW)
    await _fail(client, acme, acme.admin_email, 8)
    assert (await factories.login(client, acme, acme.admin_email)).status_code == 201


@pytest.mark.parametrize("fault", ["killed", "frozen"])
async def test_sign_in_limits_hold_while_redis_is_down(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, tmp_path: Path, fault: str
) -> None:
    """With its Redis gone (killed) or hung (SIGSTOP), each process counts failed sign-ins
    alone: the limit still stops the fourth guess, and the right password after it."""
    with redis_server(tmp_path) as server:
        limiter = RedisLimiter(server.url, "keyplane-test-throttle:")
        services_of(app).limiter = limiter
        try:
            window_start(WINDOW)
            if fault == "killed":
                server.kill()
            else:
                server.pause()
            await _fail(client, acme, acme.admin_email, 3)
            refused = await factories.login(client, acme, acme.admin_email)
            body = jsonapi_error(refused, 429, "RATE_LIMITED")
            assert "this email" in body["errors"][0]["detail"]
            assert refused.headers["x-ratelimit-remaining"] == "0"
            assert await _token_count(client, acme) == 0
        finally:
            await limiter.close()
