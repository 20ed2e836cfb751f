"""License actions: suspend, reinstate, renew, revoke, check-in and usage counting, and who
may take each."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from keyplane.kit.timefmt import iso
from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer
from tests.licensing.test_validation import (
    check_meta,
    code_of,
    denied,
    fetch,
    license_auth,
    near_now,
    parse_ts,
    validate_key,
)

DAY = 86_400


def _url(account: Tenant, license_id: str, action: str) -> str:
    return f"{account.base}/licenses/{license_id}/actions/{action}"


async def _act(
    client: httpx.AsyncClient,
    account: Tenant,
    license_id: str,
    action: str,
    key: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    return await client.post(
        _url(account, license_id, action), json=body, headers=headers or bearer(key or account.key)
    )


async def _ok(
    client: httpx.AsyncClient,
    account: Tenant,
    license_id: str,
    action: str,
    *,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The action answered 200 with the license's document."""
    response = await _act(client, account, license_id, action, headers=headers, body=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    assert set(response.json()) == {"data"}
    assert data["type"] == "licenses"
    assert data["id"] == license_id
    return data


def _unprocessable(response: httpx.Response, code: str) -> dict[str, Any]:
    body = jsonapi_error(response, 422, code)
    assert body["errors"][0]["source"]["pointer"].startswith("/data")
    return body


async def _uses(client: httpx.AsyncClient, account: Tenant, license_id: str) -> int:
    return int((await fetch(client, account, license_id))["attributes"]["uses"])


# -- suspend and reinstate ------------------------------------------------------------------


async def test_suspend_and_reinstate(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    data = await _ok(client, acme, license["id"], "suspend")
    assert data["attributes"]["suspended"] is True
    assert data["attributes"]["status"] == "SUSPENDED"
    stored = await fetch(client, acme, license["id"])
    assert stored["attributes"]["suspended"] is True
    assert await code_of(client, acme, license["id"]) == (False, "SUSPENDED")

    _unprocessable(await _act(client, acme, license["id"], "suspend"), "LICENSE_SUSPENDED")
    assert (await fetch(client, acme, license["id"]))["attributes"]["suspended"] is True

    data = await _ok(client, acme, license["id"], "reinstate")
    assert data["attributes"]["suspended"] is False
    assert data["attributes"]["status"] == "ACTIVE"
    assert (await fetch(client, acme, license["id"]))["attributes"]["suspended"] is False
    assert await code_of(client, acme, license["id"]) == (True, "VALID")

    _unprocessable(await _act(client, acme, license["id"], "reinstate"), "LICENSE_NOT_SUSPENDED")
    assert (await fetch(client, acme, license["id"]))["attributes"]["suspended"] is False


async def test_suspend_by_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    response = await _act(client, acme, license["attributes"]["key"], "suspend")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"] == license["id"]
    assert response.json()["data"]["attributes"]["suspended"] is True
    body = await validate_key(client, acme, license["attributes"]["key"])
    check_meta(body, False, "SUSPENDED")


async def test_actions_on_an_unknown_license_are_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    await factories.license(client, acme)
    missing = str(uuid.uuid4())
    for action in (
        "suspend",
        "reinstate",
        "renew",
        "check-in",
        "increment-usage",
        "decrement-usage",
        "reset-usage",
    ):
        jsonapi_error(await _act(client, acme, missing, action), 404, "NOT_FOUND")
    response = await client.delete(_url(acme, missing, "revoke"), headers=bearer(acme.key))
    jsonapi_error(response, 404, "NOT_FOUND")


async def test_actions_need_a_credential(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(
        client, acme, requireCheckIn=True, checkInInterval="DAY", checkInIntervalCount=1
    )
    license = await factories.license(client, acme, policy_id)
    for action in (
        "suspend",
        "reinstate",
        "renew",
        "check-in",
        "increment-usage",
        "decrement-usage",
        "reset-usage",
    ):
        response = await client.post(_url(acme, license["id"], action))
        jsonapi_error(response, 401, "TOKEN_MISSING")
    jsonapi_error(await client.delete(_url(acme, license["id"], "revoke")), 401, "TOKEN_MISSING")
    stored = await fetch(client, acme, license["id"])
    assert stored["attributes"]["suspended"] is False
    assert stored["attributes"]["lastCheckIn"] is None
    assert stored["attributes"]["uses"] == 0


# -- renew ----------------------------------------------------------------------------------


async def _renewable(
    client: httpx.AsyncClient, acme: Tenant, basis: str, expiry: timedelta
) -> tuple[str, str]:
    """A license under a 30-day policy renewing ``basis``, expiring ``expiry`` from now:
    (license id, its expiry as shown)."""
    policy_id = await factories.policy(client, acme, duration=30 * DAY, renewalBasis=basis)
    license = await factories.license(client, acme, policy_id, expiry=iso(clock.now() + expiry))
    return license["id"], license["attributes"]["expiry"]


@pytest.mark.parametrize(
    ("basis", "expiry", "from_expiry"),
    [
        ("FROM_EXPIRY", timedelta(days=5), True),
        ("FROM_EXPIRY", timedelta(days=-5), True),
        ("FROM_NOW", timedelta(days=5), False),
        ("FROM_NOW", timedelta(days=-5), False),
        ("FROM_NOW_IF_EXPIRED", timedelta(days=5), True),
        ("FROM_NOW_IF_EXPIRED", timedelta(days=-5), False),
    ],
)
async def test_renew_extends_by_the_policy_duration(
    client: httpx.AsyncClient, acme: Tenant, basis: str, expiry: timedelta, from_expiry: bool
) -> None:
    license_id, old = await _renewable(client, acme, basis, expiry)
    data = await _ok(client, acme, license_id, "renew")
    renewed = parse_ts(data["attributes"]["expiry"])
    if from_expiry:
        assert renewed == parse_ts(old) + timedelta(days=30)
    else:
        near_now(iso(renewed - timedelta(days=30)))
    assert (await fetch(client, acme, license_id))["attributes"]["expiry"] == data["attributes"]["expiry"]
    assert await code_of(client, acme, license_id) == (True, "VALID")

    # Renewing again adds another period (from the new expiry unless FROM_NOW).
    again = parse_ts((await _ok(client, acme, license_id, "renew"))["attributes"]["expiry"])
    if basis == "FROM_NOW":
        near_now(iso(again - timedelta(days=30)))
    else:
        assert again == renewed + timedelta(days=30)


async def test_renew_a_license_that_never_started_is_422(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (app/models/license.rb ``renew!``: ``return false if expiry.nil?``, and the
    permits controller answers 422): a license whose clock has not started has nothing to
    renew, and keeps no expiry."""
    policy_id = await factories.policy(
        client, acme, duration=7 * DAY, expirationBasis="FROM_FIRST_VALIDATION"
    )
    license = await factories.license(client, acme, policy_id)
    assert license["attributes"]["expiry"] is None
    _unprocessable(await _act(client, acme, license["id"], "renew"), "EXPIRY_MISSING")
    assert (await fetch(client, acme, license["id"]))["attributes"]["expiry"] is None


async def test_renew_without_a_duration_is_422(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    expiry = iso(clock.now() + timedelta(days=3))
    license = await factories.license(client, acme, policy_id, expiry=expiry)
    _unprocessable(await _act(client, acme, license["id"], "renew"), "POLICY_DURATION_MISSING")
    assert (await fetch(client, acme, license["id"]))["attributes"]["expiry"] == expiry


async def test_renew_revives_an_expired_license(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(
        client, acme, duration=DAY, renewalBasis="FROM_NOW_IF_EXPIRED", expirationStrategy="REVOKE_ACCESS"
    )
    license = await factories.license(client, acme, policy_id)
    clock.advance(timedelta(days=2))
    assert await code_of(client, acme, license["id"]) == (False, "EXPIRED")
    await _ok(client, acme, license["id"], "renew")
    assert await code_of(client, acme, license["id"]) == (True, "VALID")


# -- revoke ---------------------------------------------------------------------------------


async def test_revoke_deletes_the_license(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    kept = await factories.license(client, acme)
    machine = await factories.machine(client, acme, license["id"], "fp")
    response = await client.delete(_url(acme, license["id"], "revoke"), headers=bearer(acme.key))
    assert response.status_code == 204, response.text
    assert response.content == b""

    gone = await client.get(f"{acme.base}/licenses/{license['id']}", headers=bearer(acme.key))
    jsonapi_error(gone, 404, "NOT_FOUND")
    machine_gone = await client.get(f"{acme.base}/machines/{machine['id']}", headers=bearer(acme.key))
    jsonapi_error(machine_gone, 404, "NOT_FOUND")
    body = await validate_key(client, acme, license["attributes"]["key"])
    check_meta(body, False, "NOT_FOUND")
    assert body["data"] is None
    again = await client.delete(_url(acme, license["id"], "revoke"), headers=bearer(acme.key))
    jsonapi_error(again, 404, "NOT_FOUND")
    assert (await fetch(client, acme, kept["id"]))["id"] == kept["id"]


async def test_revoke_by_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    response = await client.delete(
        _url(acme, license["attributes"]["key"], "revoke"), headers=bearer(acme.key)
    )
    assert response.status_code == 204
    gone = await client.get(f"{acme.base}/licenses/{license['id']}", headers=bearer(acme.key))
    assert gone.status_code == 404


# -- check-in -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "count", "period"),
    [("DAY", 1, timedelta(days=1)), ("DAY", 3, timedelta(days=3)), ("WEEK", 2, timedelta(weeks=2))],
)
async def test_check_in(
    client: httpx.AsyncClient, acme: Tenant, interval: str, count: int, period: timedelta
) -> None:
    policy_id = await factories.policy(
        client, acme, requireCheckIn=True, checkInInterval=interval, checkInIntervalCount=count
    )
    license = await factories.license(client, acme, policy_id)
    assert license["attributes"]["requireCheckIn"] is True
    assert license["attributes"]["lastCheckIn"] is None
    assert license["attributes"]["nextCheckIn"] is None

    clock.advance(timedelta(hours=5))
    data = await _ok(client, acme, license["id"], "check-in")
    last = near_now(data["attributes"]["lastCheckIn"])
    assert parse_ts(data["attributes"]["nextCheckIn"]) == last + period
    stored = await fetch(client, acme, license["id"])
    assert stored["attributes"]["lastCheckIn"] == data["attributes"]["lastCheckIn"]
    assert stored["attributes"]["nextCheckIn"] == data["attributes"]["nextCheckIn"]

    clock.advance(period + timedelta(hours=1))
    assert await code_of(client, acme, license["id"]) == (False, "OVERDUE")
    data = await _ok(client, acme, license["id"], "check-in")
    assert parse_ts(data["attributes"]["lastCheckIn"]) - last >= period
    assert await code_of(client, acme, license["id"]) == (True, "VALID")


async def test_check_in_without_require_check_in_is_422(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    _unprocessable(await _act(client, acme, license["id"], "check-in"), "CHECK_IN_NOT_REQUIRED")
    assert (await fetch(client, acme, license["id"]))["attributes"]["lastCheckIn"] is None


# -- usage ----------------------------------------------------------------------------------


async def test_increment_usage_up_to_max_uses(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme, policy={"maxUses": 5})
    assert license["attributes"]["uses"] == 0
    assert license["attributes"]["maxUses"] == 5
    assert (await _ok(client, acme, license["id"], "increment-usage"))["attributes"]["uses"] == 1
    data = await _ok(client, acme, license["id"], "increment-usage", body={"meta": {"increment": 3}})
    assert data["attributes"]["uses"] == 4
    assert await _uses(client, acme, license["id"]) == 4

    # One more than allowed: refused, nothing changes.
    response = await _act(client, acme, license["id"], "increment-usage", body={"meta": {"increment": 2}})
    body = _unprocessable(response, "USES_LIMIT_EXCEEDED")
    assert body["errors"][0]["source"] == {"pointer": "/data/attributes/uses"}
    assert await _uses(client, acme, license["id"]) == 4
    assert (await _ok(client, acme, license["id"], "increment-usage", body={}))["attributes"]["uses"] == 5
    _unprocessable(await _act(client, acme, license["id"], "increment-usage"), "USES_LIMIT_EXCEEDED")
    assert await _uses(client, acme, license["id"]) == 5


async def test_license_max_uses_overrides_the_policy(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, maxUses=100)
    license = await factories.license(client, acme, policy_id, maxUses=1)
    assert license["attributes"]["maxUses"] == 1
    await _ok(client, acme, license["id"], "increment-usage")
    _unprocessable(await _act(client, acme, license["id"], "increment-usage"), "USES_LIMIT_EXCEEDED")


async def test_usage_without_max_uses_is_unlimited(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    big = 1_000_000
    data = await _ok(client, acme, license["id"], "increment-usage", body={"meta": {"increment": big}})
    assert data["attributes"]["uses"] == big
    assert (await _ok(client, acme, license["id"], "increment-usage"))["attributes"]["uses"] == big + 1


INT32_MAX = 2_147_483_647


@pytest.mark.parametrize("as_itself", [False, True], ids=["admin", "license"])
async def test_usage_past_what_the_column_holds_is_400_on_both_databases(
    client: httpx.AsyncClient, acme: Tenant, as_itself: bool
) -> None:
    """Keygen's answer (app/controllers/api/v1/licenses/actions/uses_controller.rb rescues
    ActiveModel::RangeError: 400 "integer is too large" at /meta/increment; ``uses`` is a
    4-byte integer there as here), the same on SQLite (64-bit) and PostgreSQL (32-bit,
    where it was a 500); a license counting its own usage gets no further."""
    license = await factories.license(client, acme, policy={"authenticationStrategy": "LICENSE"})
    headers = license_auth(license["attributes"]["key"]) if as_itself else bearer(acme.key)
    full = await _act(
        client,
        acme,
        license["id"],
        "increment-usage",
        headers=headers,
        body={"meta": {"increment": INT32_MAX}},
    )
    assert full.status_code == 200, full.text
    assert full.json()["data"]["attributes"]["uses"] == INT32_MAX

    response = await _act(client, acme, license["id"], "increment-usage", headers=headers)

    error = jsonapi_error(response, 400, "INCREMENT_INVALID")["errors"][0]
    assert error["detail"] == "integer is too large"
    assert error["source"] == {"pointer": "/meta/increment"}
    assert await _uses(client, acme, license["id"]) == INT32_MAX
    # Under a maxUses, the limit answers first, as Keygen's validation runs before the write.
    capped = await factories.license(client, acme, policy={"maxUses": INT32_MAX})
    await _ok(client, acme, capped["id"], "increment-usage", body={"meta": {"increment": INT32_MAX}})
    _unprocessable(await _act(client, acme, capped["id"], "increment-usage"), "USES_LIMIT_EXCEEDED")
    assert await _uses(client, acme, capped["id"]) == INT32_MAX


@pytest.mark.parametrize("step", [0, -1])
async def test_usage_steps_must_be_positive(client: httpx.AsyncClient, acme: Tenant, step: int) -> None:
    license = await factories.license(client, acme)
    await _ok(client, acme, license["id"], "increment-usage")
    for action, name in (("increment-usage", "increment"), ("decrement-usage", "decrement")):
        response = await _act(client, acme, license["id"], action, body={"meta": {name: step}})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["code"] == f"{name.upper()}_INVALID"
    assert await _uses(client, acme, license["id"]) == 1


async def test_decrement_usage_never_below_zero(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    _unprocessable(await _act(client, acme, license["id"], "decrement-usage"), "USES_INVALID")
    assert await _uses(client, acme, license["id"]) == 0
    await _ok(client, acme, license["id"], "increment-usage", body={"meta": {"increment": 3}})
    assert (await _ok(client, acme, license["id"], "decrement-usage"))["attributes"]["uses"] == 2
    response = await _act(client, acme, license["id"], "decrement-usage", body={"meta": {"decrement": 3}})
    _unprocessable(response, "USES_INVALID")
    assert await _uses(client, acme, license["id"]) == 2
    data = await _ok(client, acme, license["id"], "decrement-usage", body={"meta": {"decrement": 2}})
    assert data["attributes"]["uses"] == 0
    _unprocessable(await _act(client, acme, license["id"], "decrement-usage"), "USES_INVALID")


async def test_reset_usage(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme, policy={"maxUses": 10})
    await _ok(client, acme, license["id"], "increment-usage", body={"meta": {"increment": 10}})
    assert (await _ok(client, acme, license["id"], "reset-usage"))["attributes"]["uses"] == 0
    assert await _uses(client, acme, license["id"]) == 0
    # Reset at zero is fine too, and the allowance is whole again.
    assert (await _ok(client, acme, license["id"], "reset-usage"))["attributes"]["uses"] == 0
    data = await _ok(client, acme, license["id"], "increment-usage", body={"meta": {"increment": 10}})
    assert data["attributes"]["uses"] == 10


async def test_usage_body_is_strict(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    response = await _act(client, acme, license["id"], "increment-usage", body={"meta": {"decrement": 1}})
    jsonapi_error(response, 400, "DECREMENT_NOT_PERMITTED")
    assert await _uses(client, acme, license["id"]) == 0


async def test_concurrent_increments_never_pass_max_uses(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme, policy={"maxUses": 25})
    url = _url(acme, license["id"], "increment-usage")
    responses = await asyncio.gather(*(client.post(url, headers=bearer(acme.key)) for _ in range(40)))

    won = [r for r in responses if r.status_code == 200]
    lost = [r for r in responses if r.status_code != 200]
    assert len(won) == 25
    for response in lost:
        _unprocessable(response, "USES_LIMIT_EXCEEDED")
    assert sorted(r.json()["data"]["attributes"]["uses"] for r in won) == list(range(1, 26))
    assert await _uses(client, acme, license["id"]) == 25


# -- who may act ----------------------------------------------------------------------------


async def test_read_only_may_not_act(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme, policy={"duration": DAY, "maxUses": 5})
    _, key = await factories.role_key(app, client, acme, "read-only")
    for action in ("suspend", "renew", "increment-usage", "reset-usage"):
        jsonapi_error(await _act(client, acme, license["id"], action, key), 403, "INSUFFICIENT_SCOPE")
    jsonapi_error(
        await client.delete(_url(acme, license["id"], "revoke"), headers=bearer(key)),
        403,
        "INSUFFICIENT_SCOPE",
    )
    stored = await fetch(client, acme, license["id"])
    assert stored["attributes"]["suspended"] is False
    assert stored["attributes"]["uses"] == 0
    assert stored["attributes"]["expiry"] == license["attributes"]["expiry"]


async def test_support_agent_may_suspend_but_not_renew_or_revoke(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await factories.license(client, acme, policy={"duration": DAY})
    _, key = await factories.role_key(app, client, acme, "support-agent")
    response = await _act(client, acme, license["id"], "suspend", key)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"]["suspended"] is True
    response = await _act(client, acme, license["id"], "reinstate", key)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"]["suspended"] is False
    denied(await _act(client, acme, license["id"], "renew", key))
    denied(await _act(client, acme, license["id"], "increment-usage", key))
    denied(await client.delete(_url(acme, license["id"], "revoke"), headers=bearer(key)))
    assert (await fetch(client, acme, license["id"]))["attributes"]["expiry"] == license["attributes"][
        "expiry"
    ]


@pytest.mark.parametrize("role", ["sales-agent", "developer"])
async def test_sales_and_developers_may_do_everything(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str
) -> None:
    policy_id = await factories.policy(
        client,
        acme,
        duration=DAY,
        maxUses=5,
        requireCheckIn=True,
        checkInInterval="DAY",
        checkInIntervalCount=1,
    )
    license = await factories.license(client, acme, policy_id)
    _, key = await factories.role_key(app, client, acme, role)
    for action in (
        "suspend",
        "reinstate",
        "renew",
        "check-in",
        "increment-usage",
        "decrement-usage",
        "reset-usage",
    ):
        response = await _act(client, acme, license["id"], action, key)
        assert response.status_code == 200, (action, response.text)
    response = await client.delete(_url(acme, license["id"], "revoke"), headers=bearer(key))
    assert response.status_code == 204


async def test_user_owner_permissions(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    user_id, key = await factories.role_key(app, client, acme, "user")
    open_policy = await factories.policy(client, acme, duration=DAY, maxUses=5)
    protected_policy = await factories.policy(client, acme, duration=DAY, protected=True)
    mine = await factories.license(client, acme, open_policy, owner=user_id)
    guarded = await factories.license(client, acme, protected_policy, owner=user_id)
    theirs = await factories.license(client, acme, open_policy)

    denied(await _act(client, acme, mine["id"], "suspend", key))
    assert (await fetch(client, acme, mine["id"]))["attributes"]["suspended"] is False
    # The owner may increment the usage of an unprotected license, never decrement or reset
    # it (Keygen's app/policies/licenses/usage_policy.rb).
    assert (await _act(client, acme, mine["id"], "increment-usage", key)).status_code == 200
    denied(await _act(client, acme, mine["id"], "decrement-usage", key))
    denied(await _act(client, acme, mine["id"], "reset-usage", key))
    denied(await _act(client, acme, guarded["id"], "increment-usage", key))
    assert (await fetch(client, acme, mine["id"]))["attributes"]["uses"] == 1
    assert (await fetch(client, acme, guarded["id"]))["attributes"]["uses"] == 0
    # The owner may renew (and revoke) a license of an unprotected policy.
    response = await _act(client, acme, mine["id"], "renew", key)
    assert response.status_code == 200, response.text
    denied(await _act(client, acme, guarded["id"], "renew", key))
    denied(await client.delete(_url(acme, guarded["id"], "revoke"), headers=bearer(key)))
    for action in ("suspend", "renew", "increment-usage"):
        jsonapi_error(await _act(client, acme, theirs["id"], action, key), 404, "NOT_FOUND")
    jsonapi_error(
        await client.delete(_url(acme, theirs["id"], "revoke"), headers=bearer(key)), 404, "NOT_FOUND"
    )
    response = await client.delete(_url(acme, mine["id"], "revoke"), headers=bearer(key))
    assert response.status_code == 204


async def test_product_token_acts_on_its_own_licenses(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id, maxUses=5)
    other_policy = await factories.policy(client, acme)
    mine = await factories.license(client, acme, policy_id)
    theirs = await factories.license(client, acme, other_policy)
    token = await factories.product_token(client, acme, product_id)
    for action in ("suspend", "reinstate", "increment-usage", "decrement-usage", "reset-usage"):
        response = await _act(client, acme, mine["id"], action, token)
        assert response.status_code == 200, (action, response.text)
        jsonapi_error(await _act(client, acme, theirs["id"], action, token), 404, "NOT_FOUND")
    assert (await fetch(client, acme, theirs["id"]))["attributes"]["suspended"] is False


async def test_license_key_permissions(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(
        client,
        acme,
        authenticationStrategy="LICENSE",
        maxUses=5,
        duration=DAY,
        requireCheckIn=True,
        checkInInterval="DAY",
        checkInIntervalCount=1,
    )
    license = await factories.license(client, acme, policy_id)
    other = await factories.license(client, acme, policy_id)
    auth = license_auth(license["attributes"]["key"])

    data = await _ok(client, acme, license["id"], "check-in", headers=auth)
    near_now(data["attributes"]["lastCheckIn"])
    data = await _ok(client, acme, license["id"], "increment-usage", headers=auth)
    assert data["attributes"]["uses"] == 1
    data = await _ok(
        client, acme, license["id"], "increment-usage", headers=auth, body={"meta": {"increment": 2}}
    )
    assert data["attributes"]["uses"] == 3

    for action in ("decrement-usage", "reset-usage", "suspend", "reinstate", "renew"):
        denied(await _act(client, acme, license["id"], action, headers=auth))
    denied(await client.delete(_url(acme, license["id"], "revoke"), headers=auth))
    stored = await fetch(client, acme, license["id"])
    assert stored["attributes"]["uses"] == 3
    assert stored["attributes"]["suspended"] is False
    assert stored["attributes"]["expiry"] == license["attributes"]["expiry"]

    # Another license is out of its sight.
    for action in ("check-in", "increment-usage"):
        jsonapi_error(await _act(client, acme, other["id"], action, headers=auth), 404, "NOT_FOUND")
    stored = await fetch(client, acme, other["id"])
    assert stored["attributes"]["uses"] == 0
    assert stored["attributes"]["lastCheckIn"] is None

    # Once suspended (by staff), the key no longer authenticates.
    await _ok(client, acme, license["id"], "suspend")
    jsonapi_error(await _act(client, acme, license["id"], "check-in", headers=auth), 403, "LICENSE_SUSPENDED")
