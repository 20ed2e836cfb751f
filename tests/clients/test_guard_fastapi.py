"""The FastAPI guard (``keyplane_client.fastapi.require_key``) protecting a ten-line app,
driven in-process (httpx's ASGITransport) while the guard asks a live ``keyplane serve``: the
answer to each verification code, revocation seen on the next request, the opt-in cache, and
Keyplane out of reach."""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations, and the
# app's ``Reader`` is local to the function that builds it.
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from keyplane_client import AsyncKeyplane, Retries, Verification
from keyplane_client import fastapi as guard_module
from keyplane_client.fastapi import require_key

from tests.clients.guarded import (
    ANSWERS,
    GUARDED_SCOPES,
    Clock,
    Expected,
    closed_port_url,
    created,
    key_for,
    readme_example,
    revoke,
)
from tests.clients.support import LiveAccount

pytestmark = pytest.mark.xdist_group("clients")
"""One worker runs these tests: the live server of ``conftest.live_account`` starts once per
module and database."""


def guarded_app(**options: Any) -> FastAPI:
    """The README's ten-line app: one route that needs a key with READ."""
    app = FastAPI()
    Reader = Annotated[Verification, Depends(require_key(scopes=["READ"], **options))]

    @app.get("/reports")
    async def reports(key: Reader) -> dict[str, Any]:
        return {"code": key.code, "keyId": key.key_id, "ownerId": key.owner_id}

    return app


@pytest.fixture
async def keyplane(live_account: LiveAccount) -> AsyncIterator[AsyncKeyplane]:
    async with AsyncKeyplane(live_account.base, live_account.api_key) as client:
        yield client


async def call(
    app: FastAPI, key: str | None, *, header: str = "Authorization", ip: str = "127.0.0.1"
) -> httpx.Response:
    headers = {} if key is None else {header: f"Bearer {key}" if header == "Authorization" else key}
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://vendor.test") as http:
        return await http.get("/reports", headers=headers)


def refused_with(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"detail": {"code": code, "message": response.json()["detail"]["message"]}}
    assert response.json()["detail"]["message"]


@pytest.mark.parametrize("expected", ANSWERS, ids=lambda expected: expected.code)
async def test_each_verification_code_gets_its_answer(
    expected: Expected, live_account: LiveAccount, database_url: str, keyplane: AsyncKeyplane
) -> None:
    key = await key_for(expected.code, live_account, database_url)

    response = await call(guarded_app(client=keyplane), key)

    if expected.status == 200:
        assert response.status_code == 200, response.text
        assert response.json()["code"] == "VALID"
        return
    refused_with(response, expected.status, expected.code)
    if expected.status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Retry-After" not in response.headers
    if key is not None:
        assert key not in response.text


async def test_the_handler_receives_the_verification_from_either_header(
    live_account: LiveAccount, keyplane: AsyncKeyplane
) -> None:
    made = created(live_account)
    app = guarded_app(client=keyplane)

    for header in ("Authorization", "X-API-Key"):
        response = await call(app, made["key"], header=header)
        assert response.status_code == 200, response.text
        assert response.json() == {"code": "VALID", "keyId": made["id"], "ownerId": made["userId"]}


async def test_the_request_address_is_the_one_verified(
    live_account: LiveAccount, keyplane: AsyncKeyplane
) -> None:
    key = created(live_account, whitelistedIPs=["10.0.0.0/8"])["key"]
    app = guarded_app(client=keyplane)

    assert (await call(app, key, ip="10.1.2.3")).status_code == 200
    refused_with(await call(app, key, ip="192.0.2.1"), 403, "IP_NOT_ALLOWED")


async def test_a_revoked_key_is_refused_on_the_next_request(
    live_account: LiveAccount, keyplane: AsyncKeyplane
) -> None:
    made = created(live_account)
    app = guarded_app(client=keyplane)
    assert (await call(app, made["key"])).status_code == 200

    revoke(live_account, made["id"])

    refused_with(await call(app, made["key"]), 401, "REVOKED")


async def test_a_rate_limited_key_gets_429_with_retry_after(
    live_account: LiveAccount, keyplane: AsyncKeyplane
) -> None:
    key = created(live_account, rateLimit={"limit": 1, "duration": 86400})["key"]
    app = guarded_app(client=keyplane)
    assert (await call(app, key)).status_code == 200

    response = await call(app, key)

    refused_with(response, 429, "RATE_LIMITED")
    assert 1 <= int(response.headers["Retry-After"]) <= 86400
    limited = await keyplane.api_keys.verify(key, ip="127.0.0.1", scopes=["READ"])
    assert limited.rate_limit is not None
    assert limited.rate_limit.limit == 1


async def test_the_opt_in_cache_lets_a_revoked_key_pass_until_its_ttl_ends(
    live_account: LiveAccount, keyplane: AsyncKeyplane
) -> None:
    made = created(live_account)
    clock = Clock()
    app = guarded_app(client=keyplane, cache_ttl=1.0, clock=clock)
    assert (await call(app, made["key"])).status_code == 200
    revoke(live_account, made["id"])

    clock.now += 0.9
    kept = await call(app, made["key"])
    clock.now += 0.1
    expired = await call(app, made["key"])

    assert kept.status_code == 200, "a valid answer is reused within the TTL"
    refused_with(expired, 401, "REVOKED")


async def test_the_cache_keeps_no_refusal_and_no_rate_limited_key(
    live_account: LiveAccount, keyplane: AsyncKeyplane
) -> None:
    limited = created(live_account, rateLimit={"limit": 1, "duration": 86400})["key"]
    inactive = created(live_account)
    app = guarded_app(client=keyplane, cache_ttl=1.0, clock=Clock())
    live_account.admin("PATCH", f"api-keys/{inactive['id']}", {"status": "inactive"})
    refused_with(await call(app, inactive["key"]), 401, "INACTIVE")
    live_account.admin("PATCH", f"api-keys/{inactive['id']}", {"status": "active"})

    assert (await call(app, inactive["key"])).status_code == 200
    assert (await call(app, limited)).status_code == 200
    refused_with(await call(app, limited), 429, "RATE_LIMITED")


@pytest.mark.parametrize("ttl", [-0.1, 1.01, 60])
def test_a_cache_ttl_beyond_one_second_is_refused(ttl: float) -> None:
    client = AsyncKeyplane("http://127.0.0.1:1", "kp_unused")
    with pytest.raises(ValueError, match="cache_ttl"):
        require_key(GUARDED_SCOPES, client=client, cache_ttl=ttl)


async def test_keyplane_out_of_reach_is_503_or_passes_when_failing_open() -> None:
    async with AsyncKeyplane(closed_port_url(), "kp_unused", retries=Retries(attempts=0)) as unreachable:
        closed = await call(guarded_app(client=unreachable), "kp_any")
        opened = await call(guarded_app(client=unreachable, fail_open=True), "kp_any")
        missing = await call(guarded_app(client=unreachable, fail_open=True), None)

    refused_with(closed, 503, "KEYPLANE_UNAVAILABLE")
    assert closed.headers["Retry-After"] == "1"
    assert opened.status_code == 200, opened.text
    assert opened.json() == {"code": "UNVERIFIED", "keyId": None, "ownerId": None}
    refused_with(missing, 401, "KEY_MISSING")


async def test_keyplane_refusing_the_guards_own_key_is_503_even_failing_open(
    live_account: LiveAccount,
) -> None:
    guard_key = created(live_account)
    revoke(live_account, guard_key["id"])
    customer = created(live_account)["key"]

    async with AsyncKeyplane(live_account.base, guard_key["key"]) as refused:
        response = await call(guarded_app(client=refused, fail_open=True), customer)

    refused_with(response, 503, "KEYPLANE_REFUSED")
    assert customer not in response.text


async def test_an_overlong_key_is_malformed(keyplane: AsyncKeyplane) -> None:
    refused_with(await call(guarded_app(client=keyplane), "kp_" + "x" * 600), 401, "MALFORMED")


async def test_the_readmes_app_guards_its_route_with_the_keyplane_of_the_environment(
    live_account: LiveAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    guard_module.default_client.cache_clear()
    monkeypatch.delenv("KEYPLANE_URL", raising=False)
    monkeypatch.setenv("KEYPLANE_API_KEY", live_account.api_key)
    with pytest.raises(ValueError, match="KEYPLANE_URL"):
        readme_example("A FastAPI app whose route needs a key")

    monkeypatch.setenv("KEYPLANE_URL", live_account.base)
    made = created(live_account)
    try:
        app = readme_example("A FastAPI app whose route needs a key")["app"]
        passed = await call(app, made["key"])
        revoke(live_account, made["id"])
        refused = await call(app, made["key"])
    finally:
        if guard_module.default_client.cache_info().currsize:
            await guard_module.default_client().aclose()
        guard_module.default_client.cache_clear()

    assert passed.status_code == 200, passed.text
    assert passed.json() == {"owner": made["userId"]}
    refused_with(refused, 401, "REVOKED")


async def test_the_guard_shows_in_the_apps_openapi(keyplane: AsyncKeyplane) -> None:
    schemes = guarded_app(client=keyplane).openapi()["components"]["securitySchemes"]

    assert schemes == {
        "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key as a bearer token"},
        "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
