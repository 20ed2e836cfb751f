"""POST /api-keys: what a new key looks like, the seed-002/003 inputs, and every refusal."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from tests import factories
from tests.api_keys.helpers import (
    ALL_SCOPES,
    CURRENT,
    KEY_FIELDS,
    Json,
    all_ids,
    assert_error,
    fetch,
    keys_url,
    parse_time,
)
from tests.factories import Tenant, bearer


async def test_create_returns_every_field_and_the_key_once(client: httpx.AsyncClient, acme: Tenant) -> None:
    before = clock.now()
    response = await client.post(
        keys_url(acme), json={"name": "ci", "description": "deploys"}, headers=bearer(acme.key)
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == KEY_FIELDS | {"key"}
    uuid.UUID(body["id"])
    assert body["name"] == "ci"
    assert body["description"] == "deploys"
    assert body["scopes"] == ALL_SCOPES
    assert body["userId"] == str(acme.admin_id)
    assert body["organizationId"] == str(acme.id)
    assert body["companyId"] == body["organizationId"]
    assert body["key"].startswith("kp_")
    assert len(body["key"]) == 64
    assert body["start"] == body["key"][:9]
    assert body["start"].startswith("kp_")
    assert body["whitelistedIPs"] is None
    assert body["status"] == "active"
    assert body["apiVersion"] == CURRENT
    for empty in ("apiVersionUpdatedAt", "apiVersionDowngradeNotAllowedAfter", "expiresAt"):
        assert body[empty] is None, empty
    assert body["lastUsedAt"] is None
    assert body["deletedAt"] is None
    created_at = parse_time(body["createdAt"])
    assert before - timedelta(seconds=1) <= created_at <= clock.now()
    assert body["updatedAt"] == body["createdAt"]


async def test_created_key_is_stored_as_returned(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, name="ci", description="deploys")

    stored = await fetch(client, acme, created["id"])

    assert stored == {field: created[field] for field in KEY_FIELDS}


async def test_each_key_is_distinct(client: httpx.AsyncClient, acme: Tenant) -> None:
    first = await factories.api_key(client, acme)
    second = await factories.api_key(client, acme)

    assert first["id"] != second["id"]
    assert first["key"] != second["key"]
    assert first["key"] != acme.key


@pytest.mark.parametrize(
    ("scope_input", "organization"),
    [(["READ", "CREATE"], "id"), ("READ,CREATE", "slug"), (" READ , CREATE ", "id")],
    ids=["array-by-id", "string-by-slug", "spaced-string"],
)
async def test_seed_002_field_names(
    client: httpx.AsyncClient, acme: Tenant, scope_input: object, organization: str
) -> None:
    org = str(acme.id) if organization == "id" else acme.slug

    created = await factories.api_key(
        client, acme, key_name="legacy", key_scope=scope_input, organization_id=org
    )

    assert created["name"] == "legacy"
    assert created["scopes"] == ["READ", "CREATE"]
    assert created["organizationId"] == str(acme.id)
    stored = await fetch(client, acme, created["id"])
    assert (stored["name"], stored["scopes"]) == ("legacy", ["READ", "CREATE"])


async def test_seed_003_body(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    developer = await factories.user(app, acme, "developer")

    created = await factories.api_key(
        client,
        acme,
        userId=str(developer),
        whitelistedIPs=["203.0.113.7", "10.0.0.0/8", "2001:db8::/32", "10.0.0.0/8"],
        description="Customer portal",
    )

    assert created["userId"] == str(developer)
    # Addresses become /32 (or /128) networks; duplicates go, order stays.
    assert created["whitelistedIPs"] == ["203.0.113.7/32", "10.0.0.0/8", "2001:db8::/32"]
    assert created["description"] == "Customer portal"
    assert created["scopes"] == ["READ", "CREATE", "UPDATE", "DELETE"]
    stored = await fetch(client, acme, created["id"])
    assert stored["whitelistedIPs"] == created["whitelistedIPs"]
    assert stored["userId"] == str(developer)


@pytest.mark.parametrize(
    ("role", "scopes"),
    [
        ("admin", ALL_SCOPES),
        ("developer", ["READ", "CREATE", "UPDATE", "DELETE"]),
        ("read-only", ["READ"]),
        ("support-agent", ["READ", "UPDATE"]),
        ("user", ["READ", "CREATE", "UPDATE", "DELETE"]),
    ],
)
async def test_scopes_default_to_the_callers_within_the_owners_role(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str, scopes: list[str]
) -> None:
    _, created = await factories.owned_key(app, client, acme, role)

    assert created["scopes"] == scopes


async def test_scopes_default_to_a_narrow_callers_own(client: httpx.AsyncClient, acme: Tenant) -> None:
    narrow = await factories.api_key(client, acme, scopes=["READ", "CREATE"])

    created = await factories.api_key(client, acme, credential=narrow["key"])

    assert created["scopes"] == ["READ", "CREATE"]


async def test_create_under_bare_v1_serves_the_oldest_account(
    client: httpx.AsyncClient, acme: Tenant, beta: Tenant
) -> None:
    response = await client.post("/v1/api-keys", json={"name": "bare"}, headers=bearer(acme.key))

    assert response.status_code == 201, response.text
    assert response.json()["organizationId"] == str(acme.id)
    assert (await fetch(client, acme, response.json()["id"]))["name"] == "bare"
    refused = await client.post("/v1/api-keys", json={"name": "bare"}, headers=bearer(beta.key))
    assert_error(refused, 401, "TOKEN_INVALID")


# -- refusals: each names the problem and changes nothing ------------------------------------


async def _refused(
    client: httpx.AsyncClient,
    acme: Tenant,
    body: object,
    status: int,
    code: str,
    field: str | None,
    key: str | None = None,
) -> Json:
    before = await all_ids(client, acme)
    response = await client.post(keys_url(acme), json=body, headers=bearer(key or acme.key))
    error = assert_error(response, status, code, field)
    assert await all_ids(client, acme) == before
    return error


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"nmae": "typo"}, "NMAE_NOT_PERMITTED", "nmae"),
        ({"name": 5}, "NAME_INVALID", "name"),
        ({"scopes": {"READ": True}}, "SCOPES_INVALID", "scopes"),
        ({"whitelistedIPs": "10.0.0.0/8"}, "WHITELISTED_IPS_INVALID", "whitelistedIPs"),
        ({"expiresAt": "next tuesday"}, "EXPIRES_AT_INVALID", "expiresAt"),
        ({"userId": "bob"}, "USER_ID_INVALID", "userId"),
        (["name"], "BODY_INVALID", None),
    ],
    ids=["unknown-field", "name-number", "scopes-object", "ips-string", "date-junk", "user-junk", "array"],
)
async def test_malformed_input_is_400(
    client: httpx.AsyncClient, acme: Tenant, body: object, code: str, field: str | None
) -> None:
    await _refused(client, acme, body, 400, code, field)


async def test_malformed_json_is_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    before = await all_ids(client, acme)

    response = await client.post(
        keys_url(acme),
        content=b'{"name": "x",',
        headers={**bearer(acme.key), "Content-Type": "application/json"},
    )

    assert_error(response, 400, "JSON_INVALID")
    assert await all_ids(client, acme) == before


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"description": ""}, "DESCRIPTION_TOO_SHORT", "description"),
        ({"description": "d" * 201}, "DESCRIPTION_TOO_LONG", "description"),
        ({"name": ""}, "NAME_TOO_SHORT", "name"),
        ({"name": "n" * 256}, "NAME_TOO_LONG", "name"),
        ({"scopes": ["READ", "ROOT"]}, "SCOPES_INVALID", "scopes.1"),
        ({"scopes": "READ,read"}, "SCOPES_INVALID", "scopes.1"),
        ({"whitelistedIPs": ["10.0.0.1/8"]}, "WHITELISTED_IPS_INVALID", "whitelistedIPs"),
        ({"whitelistedIPs": ["nope"]}, "WHITELISTED_IPS_INVALID", "whitelistedIPs"),
        ({"whitelistedIPs": ["10.0.0.0/33"]}, "WHITELISTED_IPS_INVALID", "whitelistedIPs"),
        ({"apiVersion": "2024-5-1"}, "API_VERSION_INVALID", "apiVersion"),
        ({"apiVersion": "2023-01-01"}, "API_VERSION_INVALID", "apiVersion"),
        ({"apiVersion": "2024-02-30"}, "API_VERSION_INVALID", "apiVersion"),
        ({"expiresAt": "2099-01-01T00:00:00"}, "EXPIRES_AT_INVALID", "expiresAt"),
    ],
    ids=[
        "description-empty",
        "description-201",
        "name-empty",
        "name-256",
        "scope-unknown",
        "scope-lowercase",
        "cidr-host-bits",
        "ip-junk",
        "cidr-prefix",
        "version-shape",
        "version-unknown",
        "version-not-a-date",
        "expires-naive",
    ],
)
async def test_invalid_values_are_422(
    client: httpx.AsyncClient, acme: Tenant, body: Json, code: str, field: str
) -> None:
    await _refused(client, acme, body, 422, code, field)


async def test_longest_description_and_name_are_accepted(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, name="n" * 255, description="d" * 200)

    stored = await fetch(client, acme, created["id"])
    assert (stored["name"], stored["description"]) == ("n" * 255, "d" * 200)


async def test_organization_of_another_account_is_422(
    client: httpx.AsyncClient, acme: Tenant, beta: Tenant
) -> None:
    for organization in (str(beta.id), beta.slug):
        await _refused(
            client, acme, {"organizationId": organization}, 422, "ORGANIZATION_ID_INVALID", "organizationId"
        )


async def test_expiry_in_the_past_is_422(client: httpx.AsyncClient, acme: Tenant) -> None:
    past = (clock.now() - timedelta(minutes=1)).isoformat()

    await _refused(client, acme, {"expiresAt": past}, 422, "EXPIRES_AT_INVALID", "expiresAt")


async def test_expiry_in_the_future_is_kept(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme, expiresAt="2099-01-01T12:00:00+02:00")

    assert created["expiresAt"] == "2099-01-01T10:00:00.000Z"
    assert (await fetch(client, acme, created["id"]))["expiresAt"] == "2099-01-01T10:00:00.000Z"


async def test_unknown_owner_is_422(client: httpx.AsyncClient, acme: Tenant) -> None:
    await _refused(client, acme, {"userId": str(uuid.uuid4())}, 422, "USER_NOT_FOUND", "userId")


async def test_owner_in_another_account_is_422(client: httpx.AsyncClient, acme: Tenant, beta: Tenant) -> None:
    await _refused(client, acme, {"userId": str(beta.admin_id)}, 422, "USER_NOT_FOUND", "userId")


async def test_key_for_another_user_needs_manage(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, developer_key = await factories.owned_key(app, client, acme, "developer")

    await _refused(
        client, acme, {"userId": str(acme.admin_id)}, 403, "INSUFFICIENT_SCOPE", None, developer_key["key"]
    )


async def test_key_for_oneself_by_id_needs_no_manage(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    developer, developer_key = await factories.owned_key(app, client, acme, "developer")

    created = await factories.api_key(client, acme, credential=developer_key["key"], userId=str(developer))

    assert created["userId"] == str(developer)


async def test_scopes_beyond_the_caller_are_403(client: httpx.AsyncClient, acme: Tenant) -> None:
    narrow = await factories.api_key(client, acme, scopes=["READ", "CREATE"])

    error = await _refused(
        client, acme, {"scopes": ["READ", "DELETE"]}, 403, "SCOPE_NOT_GRANTABLE", "scopes", narrow["key"]
    )

    assert "DELETE" in error["error"]["message"]


async def test_scopes_beyond_the_owners_role_are_422(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    customer = await factories.user(app, acme, "user")

    await _refused(
        client,
        acme,
        {"userId": str(customer), "scopes": ["READ", "MANAGE"]},
        422,
        "SCOPES_NOT_ALLOWED",
        "scopes",
    )


async def test_empty_scopes_are_422(client: httpx.AsyncClient, acme: Tenant) -> None:
    await _refused(client, acme, {"scopes": []}, 422, "SCOPES_MISSING", "scopes")


async def test_create_needs_a_credential(client: httpx.AsyncClient, acme: Tenant) -> None:
    before = await all_ids(client, acme)

    response = await client.post(keys_url(acme), json={"name": "anon"})

    assert_error(response, 401, "TOKEN_MISSING")
    assert await all_ids(client, acme) == before
