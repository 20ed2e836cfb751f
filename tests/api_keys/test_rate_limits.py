"""Per-key rate limits: ``rateLimit`` on API keys, counted on every authenticated request and
on every verification of the key, shared by the key's access tokens."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from keyplane.kit import clock
from keyplane.models import Credential
from keyplane.ratelimit import Decision, RateLimiter
from keyplane.services import services_of
from tests import factories
from tests.api_keys.helpers import (
    KEY_FIELDS,
    all_ids,
    assert_error,
    fetch,
    key_url,
    keys_url,
    listing,
    update,
    verify,
)
from tests.auth.support import jsonapi_error, oauth_error
from tests.factories import Tenant, bearer
from tests.ratelimits import KINDS, installed, window_start

THREE_A_MINUTE = {"limit": 3, "duration": 60}


@pytest.fixture(params=KINDS)
async def limiter(request: pytest.FixtureRequest, app: FastAPI) -> AsyncIterator[RateLimiter]:
    """The app's limiter, in memory and (a second run) on Redis."""
    async with installed(request, app, request.param) as made:
        yield made


def _rate_headers(response: httpx.Response) -> dict[str, int]:
    names = ("retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
    return {name: int(response.headers[name]) for name in names}


# -- storage and the API's shape ------------------------------------------------------------


async def test_rate_limit_round_trips(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(
        client, acme, name="limited", rateLimit={"limit": 100, "duration": 3600}
    )

    assert created["rateLimit"] == {"limit": 100, "duration": 3600}
    fields = list(created)
    assert fields[fields.index("whitelistedIPs") + 1] == "rateLimit"
    assert (await fetch(client, acme, created["id"]))["rateLimit"] == {"limit": 100, "duration": 3600}
    listed = {item["id"]: item for item in (await listing(client, acme))["data"]}
    assert listed[created["id"]]["rateLimit"] == {"limit": 100, "duration": 3600}
    assert set(listed[created["id"]]) == KEY_FIELDS


async def test_a_key_without_a_limit_shows_null(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)
    explicit = await factories.api_key(client, acme, rateLimit=None)

    assert created["rateLimit"] is None
    assert explicit["rateLimit"] is None
    assert (await fetch(client, acme, created["id"]))["rateLimit"] is None


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_update_sets_changes_and_removes_the_limit(
    client: httpx.AsyncClient, acme: Tenant, method: str
) -> None:
    created = await factories.api_key(client, acme, name="kept")
    url = key_url(acme, created["id"])

    added = await client.request(method, url, json={"rateLimit": THREE_A_MINUTE}, headers=bearer(acme.key))
    changed = await client.request(
        method,
        url,
        json={"rateLimit": {"limit": 1_000_000_000, "duration": 86_400}},
        headers=bearer(acme.key),
    )
    renamed = await client.request(method, url, json={"name": "renamed"}, headers=bearer(acme.key))
    removed = await client.request(method, url, json={"rateLimit": None}, headers=bearer(acme.key))

    assert added.status_code == 200, added.text
    assert added.json()["rateLimit"] == THREE_A_MINUTE
    assert changed.json()["rateLimit"] == {"limit": 1_000_000_000, "duration": 86_400}
    assert renamed.json()["rateLimit"] == {"limit": 1_000_000_000, "duration": 86_400}
    assert removed.json()["rateLimit"] is None
    stored = await fetch(client, acme, created["id"])
    assert (stored["name"], stored["rateLimit"]) == ("renamed", None)


_INVALID = [
    ("limit-zero", {"limit": 0, "duration": 60}, 422, "LIMIT_INVALID", "rateLimit.limit"),
    ("limit-huge", {"limit": 1_000_000_001, "duration": 60}, 422, "LIMIT_INVALID", "rateLimit.limit"),
    ("duration-zero", {"limit": 5, "duration": 0}, 422, "DURATION_INVALID", "rateLimit.duration"),
    ("duration-day-and-one", {"limit": 5, "duration": 86_401}, 422, "DURATION_INVALID", "rateLimit.duration"),
    ("limit-string", {"limit": "5", "duration": 60}, 400, "LIMIT_INVALID", "rateLimit.limit"),
    ("limit-fraction", {"limit": 1.5, "duration": 60}, 400, "LIMIT_INVALID", "rateLimit.limit"),
    ("duration-bool", {"limit": 5, "duration": True}, 400, "DURATION_INVALID", "rateLimit.duration"),
    ("limit-missing", {"duration": 60}, 400, "LIMIT_MISSING", "rateLimit.limit"),
    ("extra", {"limit": 5, "duration": 60, "burst": 2}, 400, "BURST_NOT_PERMITTED", "rateLimit.burst"),
    ("not-an-object", 5, 400, "RATE_LIMIT_INVALID", "rateLimit"),
]


@pytest.mark.parametrize(
    ("value", "status", "code", "field"),
    [pytest.param(value, status, code, field, id=name) for name, value, status, code, field in _INVALID],
)
async def test_invalid_rate_limit_on_create_stores_nothing(
    client: httpx.AsyncClient, acme: Tenant, value: object, status: int, code: str, field: str
) -> None:
    before = await all_ids(client, acme)

    response = await client.post(keys_url(acme), json={"rateLimit": value}, headers=bearer(acme.key))

    assert_error(response, status, code, field)
    assert await all_ids(client, acme) == before


@pytest.mark.parametrize(
    ("value", "status", "code", "field"),
    [pytest.param(value, status, code, field, id=name) for name, value, status, code, field in _INVALID],
)
async def test_invalid_rate_limit_on_update_changes_nothing(
    client: httpx.AsyncClient, acme: Tenant, value: object, status: int, code: str, field: str
) -> None:
    created = await factories.api_key(client, acme, rateLimit=THREE_A_MINUTE)
    before = await fetch(client, acme, created["id"])

    response = await client.patch(
        key_url(acme, created["id"]), json={"name": "new", "rateLimit": value}, headers=bearer(acme.key)
    )

    assert_error(response, status, code, field)
    assert await fetch(client, acme, created["id"]) == before


# -- who may change a limit -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [None, {"limit": 1_000_000, "duration": 3600}, {"limit": 10, "duration": 3600}],
    ids=["remove", "raise", "lower"],
)
async def test_changing_a_limit_needs_manage(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, value: object
) -> None:
    limit = {"limit": 1000, "duration": 3600}
    _, owned = await factories.owned_key(app, client, acme, "developer", rateLimit=limit)

    response = await client.patch(
        key_url(acme, owned["id"]), json={"rateLimit": value, "name": "x"}, headers=bearer(owned["key"])
    )

    assert_error(response, 403, "INSUFFICIENT_SCOPE", "rateLimit")
    stored = await fetch(client, acme, owned["id"])
    assert (stored["rateLimit"], stored["name"]) == (limit, owned["name"])
    by_admin = await update(client, acme, owned["id"], rateLimit=value)
    assert by_admin["rateLimit"] == value


async def test_adding_a_limit_to_an_unlimited_key_needs_manage_too(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, owned = await factories.owned_key(app, client, acme, "developer")

    response = await client.put(
        key_url(acme, owned["id"]), json={"rateLimit": THREE_A_MINUTE}, headers=bearer(owned["key"])
    )

    assert_error(response, 403, "INSUFFICIENT_SCOPE", "rateLimit")
    assert (await fetch(client, acme, owned["id"]))["rateLimit"] is None


async def test_without_manage_the_same_limit_and_other_fields_may_be_sent(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    limit = {"limit": 1000, "duration": 3600}
    _, owned = await factories.owned_key(app, client, acme, "developer", rateLimit=limit)

    same = await update(client, acme, owned["id"], key=owned["key"], rateLimit=limit, name="same limit")
    other = await update(client, acme, owned["id"], key=owned["key"], description="words")

    assert (same["rateLimit"], same["name"]) == (limit, "same limit")
    assert (other["rateLimit"], other["description"]) == (limit, "words")


async def test_creating_a_limited_key_needs_no_manage(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, owned = await factories.owned_key(app, client, acme, "developer")

    created = await factories.api_key(client, acme, credential=owned["key"], rateLimit=THREE_A_MINUTE)

    assert created["rateLimit"] == THREE_A_MINUTE
    assert created["userId"] == owned["userId"]


async def test_a_limited_key_without_manage_makes_keys_held_to_its_limit(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    limit = {"limit": 100, "duration": 60}
    _, owned = await factories.owned_key(app, client, acme, "developer", rateLimit=limit)

    inherited = await factories.api_key(client, acme, credential=owned["key"])
    longer_window = await factories.api_key(
        client, acme, credential=owned["key"], rateLimit={"limit": 100, "duration": 3600}
    )
    fewer = await factories.api_key(
        client, acme, credential=owned["key"], rateLimit={"limit": 5, "duration": 60}
    )

    assert inherited["rateLimit"] == limit
    assert (await fetch(client, acme, inherited["id"]))["rateLimit"] == limit
    assert longer_window["rateLimit"] == {"limit": 100, "duration": 3600}
    assert fewer["rateLimit"] == {"limit": 5, "duration": 60}


@pytest.mark.parametrize(
    "value",
    [None, {"limit": 101, "duration": 60}, {"limit": 10, "duration": 1}],
    ids=["unlimited", "more-requests", "shorter-window"],
)
async def test_a_limited_key_without_manage_cannot_make_a_looser_key(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, value: object
) -> None:
    _, owned = await factories.owned_key(
        app, client, acme, "developer", rateLimit={"limit": 100, "duration": 60}
    )
    before = await all_ids(client, acme)

    response = await client.post(
        keys_url(acme), json={"name": "looser", "rateLimit": value}, headers=bearer(owned["key"])
    )

    body = assert_error(response, 403, "INSUFFICIENT_SCOPE", "rateLimit")
    assert "limited to 100 requests per 60 seconds" in body["error"]["message"]
    assert await all_ids(client, acme) == before


async def test_an_access_token_makes_keys_held_to_its_keys_limit(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    limit = {"limit": 100, "duration": 60}
    _, owned = await factories.owned_key(app, client, acme, "developer", rateLimit=limit)
    token = await factories.access_token(client, acme, owned)

    inherited = await factories.api_key(client, acme, credential=token)
    refused = await client.post(keys_url(acme), json={"rateLimit": None}, headers=bearer(token))

    assert inherited["rateLimit"] == limit
    assert_error(refused, 403, "INSUFFICIENT_SCOPE", "rateLimit")


async def test_a_limited_key_with_manage_makes_keys_as_it_likes(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    limited_admin = await factories.api_key(client, acme, rateLimit={"limit": 10, "duration": 60})

    unlimited = await factories.api_key(client, acme, credential=limited_admin["key"])
    looser = await factories.api_key(
        client, acme, credential=limited_admin["key"], rateLimit={"limit": 1000, "duration": 1}
    )

    assert unlimited["rateLimit"] is None
    assert looser["rateLimit"] == {"limit": 1000, "duration": 1}


# -- verification ---------------------------------------------------------------------------


async def test_verify_counts_against_the_key_and_refuses_past_the_limit(
    client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    created = await factories.api_key(client, acme, scopes=["READ"], rateLimit=THREE_A_MINUTE)
    start = window_start(60)

    results = [await verify(client, acme, {"key": created["key"]}) for _ in range(4)]

    assert [r["code"] for r in results] == ["VALID", "VALID", "VALID", "RATE_LIMITED"]
    assert [r["valid"] for r in results] == [True, True, True, False]
    assert [r["rateLimit"]["remaining"] for r in results] == [2, 1, 0, 0]
    assert {(r["rateLimit"]["limit"], r["rateLimit"]["reset"]) for r in results} == {(3, start + 60)}
    refused = results[-1]
    assert refused["detail"] == "The key has exceeded its rate limit"
    assert refused["keyId"] == created["id"]
    assert (refused["userId"], refused["organizationId"]) == (str(acme.admin_id), str(acme.id))
    assert (refused["scopes"], refused["kind"]) == (["READ"], "api_key")


async def test_a_new_window_restores_the_budget(
    client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    created = await factories.api_key(client, acme, rateLimit=THREE_A_MINUTE)
    start = window_start(60)
    for _ in range(4):
        await verify(client, acme, {"key": created["key"]})

    clock.advance(timedelta(seconds=60))
    result = await verify(client, acme, {"key": created["key"]})

    assert (result["code"], result["rateLimit"]["remaining"]) == ("VALID", 2)
    assert result["rateLimit"]["reset"] == start + 120


async def test_a_refused_key_shows_its_budget_without_spending_it(
    client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    created = await factories.api_key(client, acme, rateLimit=THREE_A_MINUTE)
    window_start(60)
    await verify(client, acme, {"key": created["key"]})
    await update(client, acme, created["id"], status="inactive")

    inactive = [await verify(client, acme, {"key": created["key"]}) for _ in range(3)]
    await update(client, acme, created["id"], status="active")
    valid = await verify(client, acme, {"key": created["key"]})

    assert {(r["code"], r["rateLimit"]["remaining"]) for r in inactive} == {("INACTIVE", 2)}
    assert (valid["code"], valid["rateLimit"]["remaining"]) == ("VALID", 1)


async def test_a_key_without_a_limit_is_never_limited(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    class Untouchable:
        async def hit(self, key: str, limit: int, duration: int) -> Decision:
            raise AssertionError("a key without a limit reached the limiter")

        async def peek(self, key: str, limit: int, duration: int) -> Decision:
            raise AssertionError("a key without a limit reached the limiter")

        async def close(self) -> None:
            pass

    services_of(app).limiter = Untouchable()
    created = await factories.api_key(client, acme)

    results = [await verify(client, acme, {"key": created["key"]}) for _ in range(30)]
    responses = [await client.get(keys_url(acme), headers=bearer(created["key"])) for _ in range(30)]

    assert {(r["code"], r["rateLimit"]) for r in results} == {("VALID", None)}
    assert {r.status_code for r in responses} == {200}


async def test_an_unknown_key_has_no_rate_limit_data(client: httpx.AsyncClient, acme: Tenant) -> None:
    result = await verify(client, acme, {"key": "kp_not-a-key"})

    assert (result["code"], result["rateLimit"]) == ("MALFORMED", None)


# -- authenticated requests -----------------------------------------------------------------


async def test_a_request_past_the_limit_is_429_with_the_rate_headers(
    client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    created = await factories.api_key(client, acme, rateLimit=THREE_A_MINUTE)
    start = window_start(60)

    allowed = [await client.get(keys_url(acme), headers=bearer(created["key"])) for _ in range(3)]
    refused = await client.get(keys_url(acme), headers=bearer(created["key"]))

    assert [r.status_code for r in allowed] == [200, 200, 200]
    body = assert_error(refused, 429, "RATE_LIMITED")
    headers = _rate_headers(refused)
    assert headers["x-ratelimit-limit"] == 3
    assert headers["x-ratelimit-remaining"] == 0
    assert headers["x-ratelimit-reset"] == start + 60
    assert 55 <= headers["retry-after"] <= 60
    assert body["error"]["message"] == (
        "This key's rate limit of 3 requests per 60 seconds is exhausted; "
        f"retry in {headers['retry-after']} seconds"
    )
    # Other keys keep their own budgets; the next window lets this one through again.
    assert (await client.get(keys_url(acme), headers=bearer(acme.key))).status_code == 200
    clock.advance(timedelta(seconds=60))
    assert (await client.get(keys_url(acme), headers=bearer(created["key"]))).status_code == 200


async def test_the_licensing_api_answers_429_in_its_envelope(
    client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    created = await factories.api_key(client, acme, rateLimit={"limit": 2, "duration": 60})
    start = window_start(60)

    allowed = [await client.get(f"{acme.base}/products", headers=bearer(created["key"])) for _ in range(2)]
    refused = await client.get(f"{acme.base}/products", headers=bearer(created["key"]))

    assert [r.status_code for r in allowed] == [200, 200]
    body = jsonapi_error(refused, 429, "RATE_LIMITED")
    assert body["errors"][0]["title"] == "Too many requests"
    assert body["errors"][0]["detail"].startswith("This key's rate limit of 2 requests per 60 seconds")
    headers = _rate_headers(refused)
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == (2, 0)
    assert headers["x-ratelimit-reset"] == start + 60
    assert 55 <= headers["retry-after"] <= 60


async def test_verification_and_requests_share_the_keys_budget(
    client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    created = await factories.api_key(client, acme, rateLimit=THREE_A_MINUTE)
    window_start(60)

    await client.get(keys_url(acme), headers=bearer(created["key"]))
    verified = await verify(client, acme, {"key": created["key"]})
    # The key verifies itself: its request and the verification each count.
    itself = await verify(client, acme, {"key": str(uuid.uuid4())}, key=created["key"])
    refused = await client.get(keys_url(acme), headers=bearer(created["key"]))

    assert (verified["code"], verified["rateLimit"]["remaining"]) == ("VALID", 1)
    assert itself["code"] == "MALFORMED"
    assert_error(refused, 429, "RATE_LIMITED")


async def test_an_access_token_shares_its_keys_budget(
    client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    created = await factories.api_key(client, acme, rateLimit={"limit": 4, "duration": 60})
    token = await factories.access_token(client, acme, created)  # spends the window before this one
    window_start(60)

    by_key = await client.get(keys_url(acme), headers=bearer(created["key"]))
    by_token = [await client.get(keys_url(acme), headers=bearer(token)) for _ in range(2)]
    verified = await verify(client, acme, {"key": token})
    refused_token = await client.get(keys_url(acme), headers=bearer(token))
    refused_key = await client.get(keys_url(acme), headers=bearer(created["key"]))

    assert [r.status_code for r in [by_key, *by_token]] == [200, 200, 200]
    assert (verified["code"], verified["keyId"], verified["rateLimit"]["remaining"]) == (
        "VALID",
        created["id"],
        0,
    )
    assert_error(refused_token, 429, "RATE_LIMITED")
    assert _rate_headers(refused_token)["x-ratelimit-limit"] == 4
    assert_error(refused_key, 429, "RATE_LIMITED")


async def test_getting_an_access_token_spends_the_keys_budget(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    created = await factories.api_key(client, acme, rateLimit={"limit": 2, "duration": 60})
    start = window_start(60)
    form = {"grant_type": "client_credentials", "client_id": created["id"], "client_secret": created["key"]}

    granted = await client.post(f"{acme.base}/oauth/token", data=form)
    used = await client.get(keys_url(acme), headers=bearer(created["key"]))
    refused = await client.post(f"{acme.base}/oauth/token", data=form)
    wrong = await client.post(f"{acme.base}/oauth/token", data={**form, "client_secret": acme.key})

    assert granted.status_code == 200, granted.text
    assert used.status_code == 200, used.text
    body = oauth_error(refused, 429, "rate_limited")
    assert body["error_description"].startswith("This key's rate limit of 2 requests per 60 seconds")
    headers = _rate_headers(refused)
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == (2, 0)
    assert headers["x-ratelimit-reset"] == start + 60
    assert 55 <= headers["retry-after"] <= 60
    # Client credentials that are not the key's are refused as before, budget or not.
    oauth_error(wrong, 401, "invalid_client")
    # The refused grant minted nothing: the key holds the one token it was given.
    async with services_of(app).db.reader() as session:
        minted = await session.scalar(
            select(func.count()).where(Credential.parent_id == uuid.UUID(created["id"]))
        )
    assert minted == 1
    clock.advance(timedelta(seconds=60))
    assert (await client.post(f"{acme.base}/oauth/token", data=form)).status_code == 200


async def test_an_access_token_follows_its_keys_new_limit(
    client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    created = await factories.api_key(client, acme)
    token = await factories.access_token(client, acme, created)
    window_start(60)
    assert (await client.get(keys_url(acme), headers=bearer(token))).status_code == 200

    await update(client, acme, created["id"], rateLimit={"limit": 1, "duration": 60})
    first = await client.get(keys_url(acme), headers=bearer(token))
    second = await client.get(keys_url(acme), headers=bearer(token))
    await update(client, acme, created["id"], rateLimit=None)
    lifted = await client.get(keys_url(acme), headers=bearer(token))

    assert first.status_code == 200, first.text
    assert_error(second, 429, "RATE_LIMITED")
    assert lifted.status_code == 200, lifted.text


# -- a budget shared with the key that made the key -----------------------------------------


async def _budget_id(app: FastAPI, key_id: str) -> uuid.UUID | None:
    async with services_of(app).db.reader() as session:
        budget: uuid.UUID | None = await session.scalar(
            select(Credential.budget_id).where(Credential.id == uuid.UUID(key_id))
        )
    return budget


async def test_keys_made_by_a_limited_key_spend_its_budget_too(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    """Making keys never buys more requests: each made key has the maker's limit, and every
    use of it spends the maker's budget as well as its own."""
    _, maker = await factories.owned_key(
        app, client, acme, "developer", rateLimit={"limit": 5, "duration": 60}
    )
    window_start(60)

    made = await factories.api_key(client, acme, credential=maker["key"])  # the maker's first request
    uses = [await client.get(keys_url(acme), headers=bearer(made["key"])) for _ in range(2)]
    verified = await verify(client, acme, {"key": made["key"]})  # by the admin: the key's 3rd use
    by_maker = await client.get(keys_url(acme), headers=bearer(maker["key"]))
    refused = await client.get(keys_url(acme), headers=bearer(made["key"]))
    refused_maker = await client.get(keys_url(acme), headers=bearer(maker["key"]))
    refused_verify = await verify(client, acme, {"key": made["key"]})

    assert made["rateLimit"] == {"limit": 5, "duration": 60}
    assert await _budget_id(app, made["id"]) == uuid.UUID(maker["id"])
    assert [r.status_code for r in [*uses, by_maker]] == [200, 200, 200]
    # The shared budget (5 - 4 spent) is tighter than the key's own (5 - 3).
    assert (verified["code"], verified["rateLimit"]["remaining"]) == ("VALID", 1)
    body = assert_error(refused, 429, "RATE_LIMITED")
    assert body["error"]["message"].startswith(
        "The rate limit this key shares with the key that made it of 5 requests per 60 seconds"
    )
    assert _rate_headers(refused)["x-ratelimit-remaining"] == 0
    assert_error(refused_maker, 429, "RATE_LIMITED")
    assert (refused_verify["code"], refused_verify["valid"]) == ("RATE_LIMITED", False)


async def test_keys_made_by_made_keys_and_their_tokens_spend_the_first_makers_budget(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    _, maker = await factories.owned_key(
        app, client, acme, "developer", rateLimit={"limit": 6, "duration": 60}
    )
    made = await factories.api_key(client, acme, credential=maker["key"])
    grandchild = await factories.api_key(client, acme, credential=made["key"])
    token = await factories.access_token(client, acme, grandchild)
    window_start(60)

    assert await _budget_id(app, grandchild["id"]) == uuid.UUID(maker["id"])
    uses = [await client.get(keys_url(acme), headers=bearer(token)) for _ in range(6)]
    refused_maker = await client.get(keys_url(acme), headers=bearer(maker["key"]))

    assert [r.status_code for r in uses] == [200] * 6
    assert_error(refused_maker, 429, "RATE_LIMITED")


async def test_a_key_made_with_manage_or_given_a_limit_by_manage_has_its_own_budget(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    limited_admin = await factories.api_key(client, acme, rateLimit={"limit": 2, "duration": 60})
    by_admin = await factories.api_key(
        client, acme, credential=limited_admin["key"], rateLimit={"limit": 2, "duration": 60}
    )
    _, maker = await factories.owned_key(
        app, client, acme, "developer", rateLimit={"limit": 2, "duration": 60}
    )
    made = await factories.api_key(client, acme, credential=maker["key"])
    assert await _budget_id(app, by_admin["id"]) is None
    assert await _budget_id(app, made["id"]) is not None

    await update(client, acme, made["id"], rateLimit={"limit": 3, "duration": 60})
    window_start(60)

    assert await _budget_id(app, made["id"]) is None
    uses = [await client.get(keys_url(acme), headers=bearer(made["key"])) for _ in range(3)]
    assert [r.status_code for r in uses] == [200, 200, 200]
    assert (await client.get(keys_url(acme), headers=bearer(maker["key"]))).status_code == 200


async def test_a_made_key_follows_its_makers_new_limit(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, limiter: RateLimiter
) -> None:
    _, maker = await factories.owned_key(
        app, client, acme, "developer", rateLimit={"limit": 10, "duration": 60}
    )
    made = await factories.api_key(client, acme, credential=maker["key"])
    window_start(60)
    assert (await client.get(keys_url(acme), headers=bearer(made["key"]))).status_code == 200  # cached

    await update(client, acme, maker["id"], rateLimit={"limit": 2, "duration": 60})
    second = await client.get(keys_url(acme), headers=bearer(made["key"]))
    third = await client.get(keys_url(acme), headers=bearer(made["key"]))

    assert second.status_code == 200, second.text
    assert_error(third, 429, "RATE_LIMITED")
    assert _rate_headers(third)["x-ratelimit-limit"] == 2
