"""License validation endpoints: ``validate-key``, ``validate`` by id or key (full and quick),
the ``meta`` they answer with, who may validate what, and ``Authorization: License <key>``.

The result codes and their order are in ``test_validation_codes.py``; the helpers here are
shared with it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from keyplane.kit.timefmt import iso
from keyplane.services import services_of
from tests import factories
from tests.auth.support import JSONAPI, jsonapi_error
from tests.factories import Tenant, bearer

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ABSENT = object()
"""``scope``/``nonce`` were not sent, so they must not be echoed."""
DETAILS = {
    "VALID": "is valid",
    "NOT_FOUND": "does not exist",
    "SUSPENDED": "is suspended",
    "EXPIRED": "is expired",
    "OVERDUE": "is overdue for check in",
    "PRODUCT_SCOPE_MISMATCH": "product scope does not match",
    "PRODUCT_SCOPE_REQUIRED": "product scope is required",
    "POLICY_SCOPE_MISMATCH": "policy scope does not match",
    "POLICY_SCOPE_REQUIRED": "policy scope is required",
    "USER_SCOPE_MISMATCH": "user scope does not match",
    "USER_SCOPE_REQUIRED": "user scope is required",
    "ENTITLEMENTS_SCOPE_EMPTY": "entitlements scope is empty",
    "ENTITLEMENTS_MISSING": "is missing one or more required entitlements",
    "MACHINE_SCOPE_MISMATCH": "machine scope does not match",
    "MACHINE_SCOPE_REQUIRED": "machine scope is required",
    "FINGERPRINT_SCOPE_EMPTY": "fingerprint scope is empty",
    "FINGERPRINT_SCOPE_MISMATCH": "fingerprint is not activated (does not match any associated machines)",
    "FINGERPRINT_SCOPE_REQUIRED": "fingerprint scope is required",
    "HEARTBEAT_NOT_STARTED": "machine heartbeat is required",
    "HEARTBEAT_DEAD": "machine heartbeat is dead",
    "NO_MACHINE": "must have exactly 1 associated machine",
    "NO_MACHINES": "must have at least 1 associated machine",
    "TOO_MANY_MACHINES": "has too many associated machines",
    "TOO_MANY_CORES": "has too many associated machine cores",
    "TOO_MANY_USERS": "has too many associated users",
}


# -- shared helpers ---------------------------------------------------------------------------


def parse_ts(value: object) -> datetime:
    assert isinstance(value, str), value
    assert ISO_MS.match(value), value
    return datetime.fromisoformat(value)


def near_now(value: object, slack: timedelta = timedelta(seconds=30)) -> datetime:
    """``value`` is an ISO-8601 ms ``Z`` timestamp close to the (test-shifted) clock."""
    moment = parse_ts(value)
    assert abs(moment - clock.now()) < slack, (value, clock.now())
    return moment


def check_meta(
    body: dict[str, Any], valid: bool, code: str, *, scope: object = ABSENT, nonce: object = ABSENT
) -> dict[str, Any]:
    """The whole validation ``meta``: ts, valid, detail, code, and scope/nonce only when sent."""
    assert set(body) == {"data", "meta"}, body
    meta: dict[str, Any] = body["meta"]
    expected = {"ts", "valid", "detail", "code"}
    if scope is not ABSENT:
        expected.add("scope")
    if nonce is not ABSENT:
        expected.add("nonce")
    assert set(meta) == expected, meta
    near_now(meta["ts"])
    assert (meta["valid"], meta["code"]) == (valid, code), meta
    assert meta["detail"] == DETAILS[code], meta
    if scope is not ABSENT:
        assert meta["scope"] == scope
    if nonce is not ABSENT:
        assert meta["nonce"] == nonce
    return meta


def check_license(body: dict[str, Any], license: dict[str, Any]) -> dict[str, Any]:
    """``data`` is the validated license's document."""
    data: dict[str, Any] = body["data"]
    assert data["type"] == "licenses"
    assert data["id"] == license["id"]
    assert data["attributes"]["key"] == license["attributes"]["key"]
    assert isinstance(data["attributes"]["metadata"], dict)
    assert isinstance(data["relationships"], dict)
    assert data["relationships"]["policy"]["data"] == license["relationships"]["policy"]["data"]
    return data


async def validate_key(
    client: httpx.AsyncClient,
    account: Tenant | None,
    key: str,
    *,
    headers: dict[str, str] | None = None,
    **meta: Any,
) -> dict[str, Any]:
    """POST validate-key (bare ``/v1`` when ``account`` is None); must answer 200."""
    base = "/v1" if account is None else account.base
    response = await client.post(
        f"{base}/licenses/actions/validate-key", json={"meta": {"key": key, **meta}}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(JSONAPI)
    body: dict[str, Any] = response.json()
    return body


async def validate(
    client: httpx.AsyncClient,
    account: Tenant,
    license_ref: str,
    *,
    headers: dict[str, str] | None = None,
    **meta: Any,
) -> dict[str, Any]:
    """POST validate by id or key (as the admin unless ``headers``); must answer 200."""
    response = await client.post(
        f"{account.base}/licenses/{license_ref}/actions/validate",
        json={"meta": meta},
        headers=headers or bearer(account.key),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def code_of(
    client: httpx.AsyncClient, account: Tenant, license_id: str, **scope: Any
) -> tuple[bool, str]:
    """(valid, code) of a full validation with ``scope`` (no scope at all when empty)."""
    meta: dict[str, Any] = {"scope": scope} if scope else {}
    body = await validate(client, account, license_id, **meta)
    result = check_meta(body, body["meta"]["valid"], body["meta"]["code"], **meta)
    return result["valid"], result["code"]


async def fetch(client: httpx.AsyncClient, account: Tenant, license_id: str) -> dict[str, Any]:
    response = await client.get(f"{account.base}/licenses/{license_id}", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def license_auth(key: str) -> dict[str, str]:
    return {"Authorization": f"License {key}"}


def denied(response: httpx.Response) -> None:
    """An authorization denial: 403 in the JSON:API envelope."""
    assert response.status_code == 403, response.text
    body = response.json()
    assert set(body) == {"meta", "errors"}
    assert body["errors"][0]["title"] == "Access denied"
    assert body["errors"][0]["detail"]


# -- validate-key ---------------------------------------------------------------------------


async def test_validate_key_anonymously(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    body = await validate_key(client, acme, license["attributes"]["key"])
    check_meta(body, True, "VALID")
    data = check_license(body, license)
    assert data["attributes"]["lastValidated"] is not None


async def test_validate_key_echoes_scope_and_nonce_only_when_sent(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await factories.license(client, acme)
    key = license["attributes"]["key"]
    product_id = license["relationships"]["product"]["data"]["id"]

    check_meta(await validate_key(client, acme, key, nonce=42), True, "VALID", nonce=42)
    check_meta(await validate_key(client, acme, key, scope={}), True, "VALID", scope={})
    scope = {"product": product_id, "policy": license["relationships"]["policy"]["data"]["id"]}
    body = await validate_key(client, acme, key, scope=scope, nonce=0)
    check_meta(body, True, "VALID", scope=scope, nonce=0)
    check_license(body, license)
    # Whatever the outcome, the scope sent comes back as it was sent.
    wrong = {"fingerprints": ["a", "a", "b"]}
    body = await validate_key(client, acme, key, scope=wrong, nonce=7)
    check_meta(body, False, "NO_MACHINE", scope=wrong, nonce=7)


async def test_validate_key_ts_follows_the_clock(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    clock.advance(timedelta(days=3))
    body = await validate_key(client, acme, license["attributes"]["key"])
    meta = check_meta(body, True, "VALID")
    assert parse_ts(meta["ts"]) > datetime.now(UTC) + timedelta(days=2)


async def test_unknown_key_is_not_found_with_null_data(client: httpx.AsyncClient, acme: Tenant) -> None:
    await factories.license(client, acme)
    body = await validate_key(client, acme, "NO-SUCH-KEY", scope={"fingerprint": "x"}, nonce=3)
    check_meta(body, False, "NOT_FOUND", scope={"fingerprint": "x"}, nonce=3)
    assert body["data"] is None


async def test_another_accounts_key_is_not_found(
    client: httpx.AsyncClient, app: FastAPI, acme: Tenant
) -> None:
    other = await factories.tenant(app, "other")
    license = await factories.license(client, other)
    body = await validate_key(client, acme, license["attributes"]["key"])
    check_meta(body, False, "NOT_FOUND")
    assert body["data"] is None
    # It is found in its own account.
    check_meta(await validate_key(client, other, license["attributes"]["key"]), True, "VALID")


async def test_pool_key_is_not_a_license(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    await factories.pool_key(client, acme, policy_id, "POOLED-KEY-0001")
    body = await validate_key(client, acme, "POOLED-KEY-0001")
    check_meta(body, False, "NOT_FOUND")
    assert body["data"] is None


async def test_validate_key_on_bare_v1_uses_the_default_account(
    client: httpx.AsyncClient, app: FastAPI, acme: Tenant
) -> None:
    license = await factories.license(client, acme)
    body = await validate_key(client, None, license["attributes"]["key"], nonce=9)
    check_meta(body, True, "VALID", nonce=9)
    check_license(body, license)
    # The default account is the oldest: a later account's key is unknown there.
    other = await factories.tenant(app, "other")
    theirs = await factories.license(client, other)
    check_meta(await validate_key(client, None, theirs["attributes"]["key"]), False, "NOT_FOUND")


@pytest.mark.parametrize(
    ("meta", "code"),
    [
        ({"key": ""}, "KEY_MISSING"),
        ({"key": "   "}, "KEY_MISSING"),
        ({}, "KEY_MISSING"),
        ({"key": None}, "KEY_INVALID"),
        ({"key": "K", "scope": {"fingerprints": ["a", None]}}, "FINGERPRINTS_INVALID"),
        ({"key": "K", "scope": {"bogus": "x"}}, "BOGUS_NOT_PERMITTED"),
        ({"key": "K", "scope": "fingerprint"}, "SCOPE_INVALID"),
        ({"key": "K", "bogus": 1}, "BOGUS_NOT_PERMITTED"),
    ],
    ids=[
        "blank",
        "whitespace",
        "missing",
        "null",
        "null-fingerprint",
        "unknown-scope",
        "scope-string",
        "extra",
    ],
)
async def test_malformed_validate_key_is_400(
    client: httpx.AsyncClient, acme: Tenant, meta: dict[str, Any], code: str
) -> None:
    await factories.license(client, acme)
    response = await client.post(f"{acme.base}/licenses/actions/validate-key", json={"meta": meta})
    body = jsonapi_error(response, 400, code)
    assert body["errors"][0]["source"]["pointer"].startswith("/meta")


async def test_validate_key_with_a_bad_credential_is_401(
    client: httpx.AsyncClient, app: FastAPI, acme: Tenant
) -> None:
    license = await factories.license(client, acme)
    other = await factories.tenant(app, "other")
    url = f"{acme.base}/licenses/actions/validate-key"
    body = {"meta": {"key": license["attributes"]["key"]}}
    # Another account's token is no credential of this account.
    jsonapi_error(await client.post(url, json=body, headers=bearer(other.key)), 401, "TOKEN_INVALID")
    jsonapi_error(
        await client.post(url, json=body, headers=license_auth("NOT-A-LICENSE-KEY")), 401, "LICENSE_INVALID"
    )
    jsonapi_error(
        await client.post(url, json=body, headers={"Authorization": "Bogus x"}), 401, "TOKEN_MISSING"
    )
    # A good one is fine.
    response = await client.post(url, json=body, headers=bearer(acme.key))
    assert response.status_code == 200
    check_meta(response.json(), True, "VALID")


async def test_validate_key_bearer_must_see_the_license(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_a = await factories.product(client, acme)
    policy_a = await factories.policy(client, acme, product_a)
    product_b = await factories.product(client, acme)
    policy_b = await factories.policy(client, acme, product_b)
    license_a = await factories.license(client, acme, policy_a)
    license_b = await factories.license(client, acme, policy_b)
    token_a = await factories.product_token(client, acme, product_a)
    url = f"{acme.base}/licenses/actions/validate-key"

    mine = await client.post(
        url, json={"meta": {"key": license_a["attributes"]["key"]}}, headers=bearer(token_a)
    )
    assert mine.status_code == 200
    check_meta(mine.json(), True, "VALID")
    theirs = await client.post(
        url, json={"meta": {"key": license_b["attributes"]["key"]}}, headers=bearer(token_a)
    )
    denied(theirs)
    # Unknown keys stay NOT_FOUND for any bearer.
    unknown = await client.post(url, json={"meta": {"key": "NO-SUCH-KEY"}}, headers=bearer(token_a))
    assert unknown.status_code == 200
    check_meta(unknown.json(), False, "NOT_FOUND")

    # A user validating someone else's license by key: 403.
    user_id, user_key = await factories.role_key(app, client, acme, "user")
    owned = await factories.license(client, acme, policy_b, owner=user_id)
    ok = await client.post(url, json={"meta": {"key": owned["attributes"]["key"]}}, headers=bearer(user_key))
    assert ok.status_code == 200
    check_meta(ok.json(), True, "VALID")
    denied(
        await client.post(
            url, json={"meta": {"key": license_b["attributes"]["key"]}}, headers=bearer(user_key)
        )
    )
    # The denied validations recorded nothing.
    assert await recorded(app, client, acme, license_b["id"]) is None
    assert product_b


async def test_empty_product_scope_is_absent(client: httpx.AsyncClient, acme: Tenant) -> None:
    """keygen-py always sends ``scope.product``, as "" when unset."""
    license = await factories.license(client, acme, policy={"requireProductScope": True})
    key = license["attributes"]["key"]
    body = await validate_key(client, acme, key, scope={"product": ""})
    check_meta(body, False, "PRODUCT_SCOPE_REQUIRED", scope={"product": ""})

    plain = await factories.license(client, acme)
    body = await validate_key(client, acme, plain["attributes"]["key"], scope={"product": ""})
    check_meta(body, True, "VALID", scope={"product": ""})
    check_license(body, plain)


# -- validate by id or key ------------------------------------------------------------------


async def test_validate_by_id_and_by_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    for ref_ in (license["id"], license["attributes"]["key"]):
        body = await validate(client, acme, ref_)
        check_meta(body, True, "VALID")
        check_license(body, license)
    body = await validate(client, acme, license["id"], scope={"fingerprint": "fp"}, nonce=5)
    check_meta(body, False, "NO_MACHINE", scope={"fingerprint": "fp"}, nonce=5)


async def test_validate_body_is_optional(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    url = f"{acme.base}/licenses/{license['id']}/actions/validate"
    for response in (
        await client.post(url, headers=bearer(acme.key)),
        await client.post(url, json={}, headers=bearer(acme.key)),
        await client.post(url, json={"meta": {}}, headers=bearer(acme.key)),
    ):
        assert response.status_code == 200, response.text
        check_meta(response.json(), True, "VALID")
        check_license(response.json(), license)


async def test_validate_unknown_license_is_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    await factories.license(client, acme)
    for missing in (str(uuid.uuid4()), "NO-SUCH-KEY"):
        response = await client.post(
            f"{acme.base}/licenses/{missing}/actions/validate", headers=bearer(acme.key)
        )
        jsonapi_error(response, 404, "NOT_FOUND")
        quick = await client.get(f"{acme.base}/licenses/{missing}/actions/validate", headers=bearer(acme.key))
        jsonapi_error(quick, 404, "NOT_FOUND")


async def test_validate_needs_a_credential(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    url = f"{acme.base}/licenses/{license['id']}/actions/validate"
    jsonapi_error(await client.post(url, json={"meta": {}}), 401, "TOKEN_MISSING")
    jsonapi_error(await client.get(url), 401, "TOKEN_MISSING")
    assert await recorded(app, client, acme, license["id"]) is None


async def test_malformed_validate_body_is_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    url = f"{acme.base}/licenses/{license['id']}/actions/validate"
    for meta, code in (
        ({"scope": {"fingerprints": [None]}}, "FINGERPRINTS_INVALID"),
        ({"scope": {"nope": 1}}, "NOPE_NOT_PERMITTED"),
        ({"key": "x"}, "KEY_NOT_PERMITTED"),
    ):
        jsonapi_error(await client.post(url, json={"meta": meta}, headers=bearer(acme.key)), 400, code)


async def recorded(app: FastAPI, client: httpx.AsyncClient, acme: Tenant, license_id: str) -> Any:
    """``lastValidated`` as stored: it is written in a batch, so flush the batch first."""
    await services_of(app).usage.flush()
    return (await fetch(client, acme, license_id))["attributes"]["lastValidated"]


async def test_full_validation_records_last_validated(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await factories.license(client, acme)
    assert license["attributes"]["lastValidated"] is None
    body = await validate(client, acme, license["id"])
    first = near_now(body["data"]["attributes"]["lastValidated"])
    assert await recorded(app, client, acme, license["id"]) == iso(first)

    clock.advance(timedelta(hours=5))
    body = await validate_key(client, acme, license["attributes"]["key"])
    second = near_now(body["data"]["attributes"]["lastValidated"])
    assert second - first >= timedelta(hours=5)
    assert await recorded(app, client, acme, license["id"]) == iso(second)

    # A failed validation is a validation too.
    clock.advance(timedelta(hours=1))
    failed = await validate(client, acme, license["id"], scope={"fingerprint": "nope"})
    check_meta(failed, False, "NO_MACHINE", scope={"fingerprint": "nope"})
    third = parse_ts(await recorded(app, client, acme, license["id"]))
    assert third - second >= timedelta(hours=1)


async def test_quick_validation_skips_scopes_and_records_last_validated(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen's app/controllers/api/v1/licenses/actions/validations_controller.rb: the quick
    GET validates with ``scope: false`` and still touches ``lastValidated``
    (``LicenseValidationService#touch!``, batched like the POST's)."""
    policy_id = await factories.policy(client, acme, requireFingerprintScope=True, requireProductScope=True)
    license = await factories.license(client, acme, policy_id)
    url = f"{acme.base}/licenses/{license['id']}/actions/validate"

    quick = await client.get(url, headers=bearer(acme.key))
    assert quick.status_code == 200, quick.text
    check_meta(quick.json(), True, "VALID")
    data = check_license(quick.json(), license)
    first = near_now(data["attributes"]["lastValidated"])
    assert await recorded(app, client, acme, license["id"]) == iso(first)
    clock.advance(timedelta(hours=2))
    by_key = await client.get(
        f"{acme.base}/licenses/{license['attributes']['key']}/actions/validate", headers=bearer(acme.key)
    )
    check_meta(by_key.json(), True, "VALID")
    second = parse_ts(await recorded(app, client, acme, license["id"]))
    assert second - first >= timedelta(hours=2)

    # The full validation checks the required scopes.
    full = await validate(client, acme, license["id"])
    check_meta(full, False, "PRODUCT_SCOPE_REQUIRED")


async def test_quick_validation_still_reports_suspension_and_expiry(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, expirationStrategy="REVOKE_ACCESS")
    suspended = await factories.license(client, acme, policy_id, suspended=True)
    expired = await factories.license(client, acme, policy_id, expiry=iso(clock.now() - timedelta(minutes=1)))
    for license, code in ((suspended, "SUSPENDED"), (expired, "EXPIRED")):
        response = await client.get(
            f"{acme.base}/licenses/{license['id']}/actions/validate", headers=bearer(acme.key)
        )
        check_meta(response.json(), False, code)


async def test_first_validation_starts_a_from_first_validation_expiry(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    day = 86_400
    policy_id = await factories.policy(
        client, acme, duration=30 * day, expirationBasis="FROM_FIRST_VALIDATION"
    )
    license = await factories.license(client, acme, policy_id)
    assert license["attributes"]["expiry"] is None
    # A quick validation does not start it.
    quick = await client.get(
        f"{acme.base}/licenses/{license['id']}/actions/validate", headers=bearer(acme.key)
    )
    assert quick.json()["data"]["attributes"]["expiry"] is None

    body = await validate(client, acme, license["id"])
    check_meta(body, True, "VALID")
    expiry = parse_ts(body["data"]["attributes"]["expiry"])
    assert abs(expiry - (clock.now() + timedelta(days=30))) < timedelta(seconds=30)
    assert (await fetch(client, acme, license["id"]))["attributes"]["expiry"] == iso(expiry)

    # Later validations leave it alone.
    clock.advance(timedelta(days=10))
    again = await validate_key(client, acme, license["attributes"]["key"])
    assert again["data"]["attributes"]["expiry"] == iso(expiry)
    clock.advance(timedelta(days=21))
    check_meta(await validate(client, acme, license["id"]), False, "EXPIRED")
    assert (await fetch(client, acme, license["id"]))["attributes"]["expiry"] == iso(expiry)


async def test_other_bases_do_not_wait_for_a_validation(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, duration=86_400, expirationBasis="FROM_CREATION")
    created = await factories.license(client, acme, policy_id)
    assert created["attributes"]["expiry"] is not None
    later = await factories.license(
        client, acme, policy={"duration": 86_400, "expirationBasis": "FROM_FIRST_ACTIVATION"}
    )
    body = await validate(client, acme, later["id"])
    assert body["data"]["attributes"]["expiry"] is None
    none = await factories.license(client, acme, policy={"expirationBasis": "FROM_FIRST_VALIDATION"})
    body = await validate(client, acme, none["id"])
    assert body["data"]["attributes"]["expiry"] is None


# -- who may validate -----------------------------------------------------------------------


async def test_license_validates_itself_with_its_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, authenticationStrategy="LICENSE")
    license = await factories.license(client, acme, policy_id)
    other = await factories.license(client, acme, policy_id)
    auth = license_auth(license["attributes"]["key"])

    body = await validate(client, acme, license["id"], headers=auth, nonce=1)
    check_meta(body, True, "VALID", nonce=1)
    check_license(body, license)
    quick = await client.get(f"{acme.base}/licenses/{license['id']}/actions/validate", headers=auth)
    assert quick.status_code == 200
    check_meta(quick.json(), True, "VALID")
    # validate-key with its own key and its own credential.
    response = await client.post(
        f"{acme.base}/licenses/actions/validate-key",
        json={"meta": {"key": license["attributes"]["key"]}},
        headers=auth,
    )
    check_meta(response.json(), True, "VALID")

    for target in (other["id"], other["attributes"]["key"]):
        response = await client.post(f"{acme.base}/licenses/{target}/actions/validate", headers=auth)
        jsonapi_error(response, 404, "NOT_FOUND")
    denied(
        await client.post(
            f"{acme.base}/licenses/actions/validate-key",
            json={"meta": {"key": other["attributes"]["key"]}},
            headers=auth,
        )
    )


async def test_mixed_strategy_allows_license_auth(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme, policy={"authenticationStrategy": "MIXED"})
    body = await validate(client, acme, license["id"], headers=license_auth(license["attributes"]["key"]))
    check_meta(body, True, "VALID")


async def test_user_validates_own_licenses_only(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    user_id, user_key = await factories.role_key(app, client, acme, "user")
    policy_id = await factories.policy(client, acme)
    mine = await factories.license(client, acme, policy_id, owner=user_id)
    theirs = await factories.license(client, acme, policy_id)

    body = await validate(client, acme, mine["id"], headers=bearer(user_key))
    check_meta(body, True, "VALID")
    check_license(body, mine)
    for target in (theirs["id"], theirs["attributes"]["key"]):
        response = await client.post(
            f"{acme.base}/licenses/{target}/actions/validate", headers=bearer(user_key)
        )
        jsonapi_error(response, 404, "NOT_FOUND")
        quick = await client.get(f"{acme.base}/licenses/{target}/actions/validate", headers=bearer(user_key))
        jsonapi_error(quick, 404, "NOT_FOUND")


async def test_product_validates_own_product_licenses_only(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_a = await factories.product(client, acme)
    policy_a = await factories.policy(client, acme, product_a)
    policy_b = await factories.policy(client, acme)
    mine = await factories.license(client, acme, policy_a)
    theirs = await factories.license(client, acme, policy_b)
    token = await factories.product_token(client, acme, product_a)

    body = await validate(client, acme, mine["id"], headers=bearer(token))
    check_meta(body, True, "VALID")
    response = await client.post(
        f"{acme.base}/licenses/{theirs['id']}/actions/validate", headers=bearer(token)
    )
    jsonapi_error(response, 404, "NOT_FOUND")
    assert await recorded(app, client, acme, theirs["id"]) is None


@pytest.mark.parametrize("role", ["read-only", "support-agent", "sales-agent", "developer"])
async def test_staff_may_validate(app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str) -> None:
    license = await factories.license(client, acme)
    _, key = await factories.role_key(app, client, acme, role)
    check_meta(await validate(client, acme, license["id"], headers=bearer(key)), True, "VALID")


# -- Authorization: License <key> -----------------------------------------------------------


async def test_me_with_a_license_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, authenticationStrategy="LICENSE")
    license = await factories.license(client, acme, policy_id, metadata={"tier": "gold"})
    response = await client.get(f"{acme.base}/me", headers=license_auth(license["attributes"]["key"]))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["type"] == "licenses"
    assert data["id"] == license["id"]
    assert data["attributes"]["key"] == license["attributes"]["key"]
    assert data["attributes"]["metadata"] == {"tier": "gold"}
    assert isinstance(data["relationships"], dict)
    # Bare /v1 (default account) too, as keygen-py calls it.
    bare = await client.get("/v1/me", headers=license_auth(license["attributes"]["key"]))
    assert bare.status_code == 200
    assert bare.json()["data"]["id"] == license["id"]


async def test_license_auth_refusals(client: httpx.AsyncClient, acme: Tenant) -> None:
    allowed = await factories.policy(client, acme, authenticationStrategy="LICENSE")
    tokens_only = await factories.policy(client, acme)
    revoking = await factories.policy(
        client, acme, authenticationStrategy="LICENSE", expirationStrategy="REVOKE_ACCESS"
    )
    past = iso(clock.now() - timedelta(minutes=1))
    me = f"{acme.base}/me"

    jsonapi_error(await client.get(me, headers=license_auth("NO-SUCH-KEY")), 401, "LICENSE_INVALID")
    token_policy = await factories.license(client, acme, tokens_only)
    jsonapi_error(
        await client.get(me, headers=license_auth(token_policy["attributes"]["key"])),
        403,
        "LICENSE_NOT_ALLOWED",
    )
    suspended = await factories.license(client, acme, allowed, suspended=True)
    jsonapi_error(
        await client.get(me, headers=license_auth(suspended["attributes"]["key"])), 403, "LICENSE_SUSPENDED"
    )
    revoked = await factories.license(client, acme, revoking, expiry=past)
    jsonapi_error(
        await client.get(me, headers=license_auth(revoked["attributes"]["key"])), 403, "LICENSE_EXPIRED"
    )
    # Under RESTRICT_ACCESS an expired license still authenticates (and validates as EXPIRED).
    restricted = await factories.license(client, acme, allowed, expiry=past)
    auth = license_auth(restricted["attributes"]["key"])
    assert (await client.get(me, headers=auth)).status_code == 200
    check_meta(await validate(client, acme, restricted["id"], headers=auth), False, "EXPIRED")
    # The refusals apply on validation too.
    response = await client.post(
        f"{acme.base}/licenses/{suspended['id']}/actions/validate",
        headers=license_auth(suspended["attributes"]["key"]),
    )
    jsonapi_error(response, 403, "LICENSE_SUSPENDED")
    # Keys are case-sensitive.
    response = await client.get(me, headers=license_auth(restricted["attributes"]["key"].lower()))
    jsonapi_error(response, 401, "LICENSE_INVALID")


async def test_license_auth_from_another_account_is_invalid(
    client: httpx.AsyncClient, app: FastAPI, acme: Tenant
) -> None:
    other = await factories.tenant(app, "other")
    license = await factories.license(client, other, policy={"authenticationStrategy": "LICENSE"})
    auth = license_auth(license["attributes"]["key"])
    assert (await client.get(f"{other.base}/me", headers=auth)).status_code == 200
    jsonapi_error(await client.get(f"{acme.base}/me", headers=auth), 401, "LICENSE_INVALID")
