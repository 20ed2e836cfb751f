"""POST /api-keys/verify: always 200, the answer is in ``code``."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from keyplane.services import services_of
from tests import factories
from tests.api_keys.helpers import (
    CURRENT,
    PREVIOUS,
    Json,
    assert_error,
    fetch,
    key_url,
    keys_url,
    parse_time,
    unknown_key,
    update,
    verify,
)
from tests.factories import Tenant, bearer

VERIFY_FIELDS = frozenset(
    {
        "valid",
        "code",
        "detail",
        "keyId",
        "userId",
        "organizationId",
        "scopes",
        "expiresAt",
        "kind",
        "apiVersion",
    }
)


def _refused_without_details(result: Json, code: str) -> None:
    assert set(result) >= VERIFY_FIELDS
    assert result["valid"] is False
    assert result["code"] == code
    for field in ("keyId", "userId", "organizationId", "expiresAt", "kind", "apiVersion"):
        assert result[field] is None, field
    assert result["scopes"] == []


def _refused_for(result: Json, code: str, key: Json) -> None:
    assert set(result) >= VERIFY_FIELDS
    assert result["valid"] is False
    assert result["code"] == code
    assert result["keyId"] == key["id"]


async def _delete(client: httpx.AsyncClient, acme: Tenant, key_id: str) -> None:
    response = await client.delete(key_url(acme, key_id), headers=bearer(acme.key))
    assert response.status_code == 204


async def test_valid_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(
        client, acme, scopes=["READ", "CREATE"], expiresAt="2099-01-01T00:00:00Z"
    )

    result = await verify(client, acme, {"key": created["key"]})

    assert set(result) >= VERIFY_FIELDS
    assert result["valid"] is True
    assert result["code"] == "VALID"
    assert result["detail"] == "The key is valid"
    assert result["keyId"] == created["id"]
    assert result["userId"] == str(acme.admin_id)
    assert result["organizationId"] == str(acme.id)
    assert result["scopes"] == ["READ", "CREATE"]
    assert result["expiresAt"] == "2099-01-01T00:00:00.000Z"
    assert result["kind"] == "api_key"
    assert result["apiVersion"] == CURRENT
    assert created["key"] not in str(result)


async def test_unknown_key_is_not_found(client: httpx.AsyncClient, acme: Tenant) -> None:
    result = await verify(client, acme, {"key": unknown_key()})

    _refused_without_details(result, "NOT_FOUND")
    assert result["detail"] == "The key does not exist"


@pytest.mark.parametrize("junk", ["hello", "kp_short", "Bearer kp_x", "x" * 512])
async def test_junk_is_malformed(client: httpx.AsyncClient, acme: Tenant, junk: str) -> None:
    result = await verify(client, acme, {"key": junk})

    _refused_without_details(result, "MALFORMED")


async def test_key_with_a_broken_checksum_is_malformed(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)
    broken = created["key"][:-1] + ("A" if created["key"][-1] != "A" else "B")

    result = await verify(client, acme, {"key": broken})

    _refused_without_details(result, "MALFORMED")


async def test_deleted_key_is_revoked(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)
    await _delete(client, acme, created["id"])

    result = await verify(client, acme, {"key": created["key"]})

    _refused_for(result, "REVOKED", created)
    assert result["detail"] == "The key has been deleted"


async def test_deactivated_key_is_inactive(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)
    await update(client, acme, created["id"], status="inactive")

    result = await verify(client, acme, {"key": created["key"]})

    _refused_for(result, "INACTIVE", created)
    await update(client, acme, created["id"], status="active")
    assert (await verify(client, acme, {"key": created["key"]}))["code"] == "VALID"


async def test_key_past_its_expiry_is_expired(client: httpx.AsyncClient, acme: Tenant) -> None:
    expires = clock.now() + timedelta(hours=1)
    created = await factories.api_key(client, acme, expiresAt=expires.isoformat())
    assert (await verify(client, acme, {"key": created["key"]}))["code"] == "VALID"
    clock.advance(timedelta(hours=1, seconds=1))

    result = await verify(client, acme, {"key": created["key"]})

    _refused_for(result, "EXPIRED", created)
    assert parse_time(result["expiresAt"]) <= clock.now()


@pytest.mark.parametrize(
    ("ip", "code"),
    [
        ("203.0.113.99", "VALID"),
        ("::ffff:203.0.113.99", "VALID"),
        ("198.51.100.1", "IP_NOT_ALLOWED"),
        ("2001:db8::1", "IP_NOT_ALLOWED"),
        (None, "IP_NOT_ALLOWED"),
    ],
    ids=["inside", "inside-v4-mapped", "outside", "other-family", "absent"],
)
async def test_ip_restricted_key(client: httpx.AsyncClient, acme: Tenant, ip: str | None, code: str) -> None:
    created = await factories.api_key(client, acme, whitelistedIPs=["203.0.113.0/24"])
    body: Json = {"key": created["key"]} if ip is None else {"key": created["key"], "ip": ip}

    result = await verify(client, acme, body)

    assert (result["valid"], result["code"]) == (code == "VALID", code)
    assert result["keyId"] == created["id"]


async def test_unrestricted_key_is_valid_from_anywhere(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)

    result = await verify(client, acme, {"key": created["key"], "ip": "198.51.100.1"})

    assert result["code"] == "VALID"


@pytest.mark.parametrize(
    ("required", "code"),
    [
        (["READ"], "VALID"),
        ("READ,CREATE", "VALID"),
        ([], "VALID"),
        (["READ", "DELETE"], "INSUFFICIENT_SCOPE"),
        ("MANAGE", "INSUFFICIENT_SCOPE"),
    ],
    ids=["held", "held-string", "none", "one-missing", "missing-string"],
)
async def test_required_scopes(client: httpx.AsyncClient, acme: Tenant, required: object, code: str) -> None:
    created = await factories.api_key(client, acme, scopes=["READ", "CREATE"])

    result = await verify(client, acme, {"key": created["key"], "scopes": required})

    assert (result["valid"], result["code"]) == (code == "VALID", code)
    assert result["scopes"] == ["READ", "CREATE"]


@pytest.mark.parametrize(
    ("state", "legacy", "current"),
    [
        ("deleted", "INACTIVE", "REVOKED"),
        ("junk", "NOT_FOUND", "MALFORMED"),
        ("inactive", "INACTIVE", "INACTIVE"),
    ],
)
async def test_older_version_reads_the_codes_it_knew(
    client: httpx.AsyncClient, acme: Tenant, state: str, legacy: str, current: str
) -> None:
    created = await factories.api_key(client, acme)
    presented = created["key"]
    if state == "deleted":
        await _delete(client, acme, created["id"])
    elif state == "inactive":
        await update(client, acme, created["id"], status="inactive")
    else:
        presented = "not-a-key"

    old = await verify(client, acme, {"key": presented}, version=PREVIOUS)
    new = await verify(client, acme, {"key": presented}, version=CURRENT)

    assert (old["valid"], old["code"]) == (False, legacy)
    assert (new["valid"], new["code"]) == (False, current)


async def test_a_caller_pinned_to_an_older_version_gets_its_codes(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    caller = await factories.api_key(client, acme, apiVersion=PREVIOUS)

    pinned = await verify(client, acme, {"key": "not-a-key"}, key=caller["key"])
    asked = await verify(client, acme, {"key": "not-a-key"}, key=caller["key"], version=CURRENT)

    assert pinned["code"] == "NOT_FOUND"
    assert asked["code"] == "MALFORMED"


@pytest.mark.parametrize("ip", ["999.1.1.1", "nope", "10.0.0.0/8", ""])
async def test_invalid_ip_is_422(client: httpx.AsyncClient, acme: Tenant, ip: str) -> None:
    response = await client.post(
        keys_url(acme, "/verify"), json={"key": acme.key, "ip": ip}, headers=bearer(acme.key)
    )

    assert_error(response, 422, "IP_INVALID", "ip")


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({}, 400, "KEY_MISSING", "key"),
        ({"key": 5}, 400, "KEY_INVALID", "key"),
        ({"key": "x", "extra": 1}, 400, "EXTRA_NOT_PERMITTED", "extra"),
        ({"key": ""}, 422, "KEY_TOO_SHORT", "key"),
        ({"key": "x" * 513}, 422, "KEY_TOO_LONG", "key"),
        ({"key": "x", "scopes": ["ROOT"]}, 422, "SCOPES_INVALID", "scopes.0"),
    ],
    ids=["missing", "number", "unknown-field", "empty", "too-long", "scope-unknown"],
)
async def test_bad_requests(
    client: httpx.AsyncClient, acme: Tenant, body: Json, status: int, code: str, field: str
) -> None:
    response = await client.post(keys_url(acme, "/verify"), json=body, headers=bearer(acme.key))

    assert_error(response, status, code, field)


async def test_valid_verification_records_last_use(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    created = await factories.api_key(client, acme)
    before = clock.now() - timedelta(seconds=1)

    result = await verify(client, acme, {"key": created["key"]})
    await services_of(app).usage.flush()

    assert result["code"] == "VALID"
    last_used = (await fetch(client, acme, created["id"]))["lastUsedAt"]
    assert last_used is not None
    assert before <= parse_time(last_used) <= clock.now()


async def test_refused_verification_records_no_use(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    created = await factories.api_key(client, acme, scopes=["READ"])

    result = await verify(client, acme, {"key": created["key"], "scopes": ["CREATE"]})
    await services_of(app).usage.flush()

    assert result["code"] == "INSUFFICIENT_SCOPE"
    assert (await fetch(client, acme, created["id"]))["lastUsedAt"] is None


async def test_verify_needs_read(client: httpx.AsyncClient, acme: Tenant) -> None:
    writer = await factories.api_key(client, acme, scopes=["CREATE"])

    response = await client.post(
        keys_url(acme, "/verify"), json={"key": acme.key}, headers=bearer(writer["key"])
    )

    assert_error(response, 403, "INSUFFICIENT_SCOPE")


async def test_verify_needs_a_credential(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.post(keys_url(acme, "/verify"), json={"key": acme.key})

    assert_error(response, 401, "TOKEN_MISSING")


async def test_verification_names_the_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    made = await factories.api_key(client, acme, name="billing service")
    result = await verify(client, acme, {"key": made["key"]})
    assert result["code"] == "VALID"
    assert result["name"] == "billing service"
    assert result["keyId"] == made["id"]
