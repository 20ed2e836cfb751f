"""OAuth2 client credentials: an API key's id and secret for a short-lived ``kpa_`` token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from keyplane.kit.credentials import CREDENTIAL_PATTERN, CredentialKind, generate, parse
from keyplane.services import services_of
from tests import factories
from tests.auth.support import basic, jsonapi_error, oauth_error, plain_error
from tests.factories import Tenant, bearer

ALL = "READ CREATE UPDATE DELETE MANAGE"


def _form(key: dict[str, object], **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": str(key["id"]),
        "client_secret": str(key["key"]),
        **extra,
    }


async def _grant(
    client: httpx.AsyncClient, tenant: Tenant, form: dict[str, str], **kwargs: Any
) -> httpx.Response:
    return await client.post(f"{tenant.base}/oauth/token", data=form, **kwargs)


async def _admin_key(client: httpx.AsyncClient, acme: Tenant) -> dict[str, object]:
    listed = await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))
    assert listed.status_code == 200
    return {"id": listed.json()["data"][0]["id"], "key": acme.key}


async def test_client_credentials_in_the_body(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await _admin_key(client, acme)
    response = await _grant(client, acme, _form(key))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert 3590 <= body["expires_in"] <= 3600
    assert body["scope"] == ALL
    token = body["access_token"]
    assert token.startswith("kpa_")
    assert CREDENTIAL_PATTERN.fullmatch(token)
    parsed = parse(token)
    assert parsed is not None
    assert parsed.kind is CredentialKind.ACCESS_TOKEN
    me = await client.get(f"{acme.base}/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["data"]["id"] == str(acme.admin_id)
    # It carries the key's power: MANAGE sees every key, CREATE makes one.
    made = await client.post(f"{acme.base}/api-keys", json={"name": "via-oauth"}, headers=bearer(token))
    assert made.status_code == 201, made.text
    listed = await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))
    assert listed.json()["total"] == 2


async def test_client_credentials_as_http_basic(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await _admin_key(client, acme)
    response = await _grant(
        client, acme, {"grant_type": "client_credentials"}, headers=basic(str(key["id"]), acme.key)
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert (await client.get(f"{acme.base}/api-keys", headers=bearer(token))).status_code == 200
    # RFC 6749 §2.3.1: the id and secret are form-encoded before base64.
    encoded = await _grant(
        client,
        acme,
        {"grant_type": "client_credentials"},
        headers=basic(quote(str(key["id"]).upper()), quote(acme.key)),
    )
    assert encoded.status_code == 200, encoded.text


async def test_json_body_is_accepted(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await _admin_key(client, acme)
    response = await client.post(f"{acme.base}/oauth/token", json=_form(key, scope="READ"))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "READ"


async def test_each_access_token_is_new(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await _admin_key(client, acme)
    first = await factories.access_token(client, acme, key)
    second = await factories.access_token(client, acme, key)
    assert first != second
    for token in (first, second):
        assert (await client.get(f"{acme.base}/me", headers=bearer(token))).status_code == 200


async def test_key_scopes_carry_over(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    reader = await factories.api_key(client, acme, scopes=["READ"])
    response = await _grant(client, acme, _form(reader))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "READ"
    token = response.json()["access_token"]
    assert (await client.get(f"{acme.base}/api-keys", headers=bearer(token))).status_code == 200
    refused = await client.post(f"{acme.base}/api-keys", json={}, headers=bearer(token))
    plain_error(refused, 403, "INSUFFICIENT_SCOPE")


async def test_scope_narrows_the_token(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await _admin_key(client, acme)
    response = await _grant(client, acme, _form(key, scope="READ"))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "READ"
    token = response.json()["access_token"]
    assert (await client.get(f"{acme.base}/api-keys", headers=bearer(token))).status_code == 200
    plain_error(
        await client.post(f"{acme.base}/api-keys", json={}, headers=bearer(token)), 403, "INSUFFICIENT_SCOPE"
    )
    assert (await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))).json()["total"] == 1
    two = await _grant(client, acme, _form(key, scope="DELETE  READ"))
    assert two.status_code == 200, two.text
    assert two.json()["scope"] == "READ DELETE"


@pytest.mark.parametrize("scope", ["READ CREATE", "MANAGE", "read", "WRITE", "", "   "])
async def test_scope_beyond_the_key_is_invalid_scope(
    client: httpx.AsyncClient, acme: Tenant, scope: str
) -> None:
    reader = await factories.api_key(client, acme, scopes=["READ"])
    response = await _grant(client, acme, _form(reader, scope=scope))
    oauth_error(response, 400, "invalid_scope")


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "", "CLIENT_CREDENTIALS"])
async def test_other_grant_types_are_unsupported(
    client: httpx.AsyncClient, acme: Tenant, grant_type: str
) -> None:
    key = await _admin_key(client, acme)
    response = await _grant(client, acme, _form(key, grant_type=grant_type))
    oauth_error(response, 400, "unsupported_grant_type")


async def test_missing_grant_type_is_refused(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await _admin_key(client, acme)
    form = _form(key)
    del form["grant_type"]
    response = await _grant(client, acme, form)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert acme.key not in response.text


async def test_wrong_secret_is_invalid_client(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await _admin_key(client, acme)
    wrong = generate(CredentialKind.API_KEY)[0]
    response = await _grant(client, acme, _form(key, client_secret=wrong))
    oauth_error(response, 401, "invalid_client")
    assert wrong not in response.text
    junk = await _grant(client, acme, _form(key, client_secret="hunter2"))
    oauth_error(junk, 401, "invalid_client")
    assert "hunter2" not in junk.text


async def test_mismatched_client_id_is_invalid_client(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await _admin_key(client, acme)
    other = await factories.api_key(client, acme)
    swapped = await _grant(client, acme, _form(key, client_id=str(other["id"])))
    oauth_error(swapped, 401, "invalid_client")
    garbage = await _grant(client, acme, _form(key, client_id="not-an-id"))
    oauth_error(garbage, 401, "invalid_client")
    assert acme.key not in swapped.text + garbage.text


async def test_missing_client_credentials_is_invalid_client(client: httpx.AsyncClient, acme: Tenant) -> None:
    oauth_error(await _grant(client, acme, {"grant_type": "client_credentials"}), 401, "invalid_client")
    key = await _admin_key(client, acme)
    no_secret = {"grant_type": "client_credentials", "client_id": str(key["id"])}
    oauth_error(await _grant(client, acme, no_secret), 401, "invalid_client")


async def test_wrong_basic_credentials_are_invalid_client_with_a_challenge(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    key = await _admin_key(client, acme)
    wrong = generate(CredentialKind.API_KEY)[0]
    response = await _grant(
        client, acme, {"grant_type": "client_credentials"}, headers=basic(str(key["id"]), wrong)
    )
    oauth_error(response, 401, "invalid_client")
    # RFC 6749 §5.2: a client that authenticated with Basic is told how to retry.
    assert response.headers["www-authenticate"].startswith("Basic")
    malformed = await _grant(
        client, acme, {"grant_type": "client_credentials"}, headers={"Authorization": "Basic %%%"}
    )
    oauth_error(malformed, 401, "invalid_client")
    assert malformed.headers["www-authenticate"].startswith("Basic")


async def test_deleted_key_is_invalid_client(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await factories.api_key(client, acme)
    assert (await _grant(client, acme, _form(key))).status_code == 200
    assert (
        await client.delete(f"{acme.base}/api-keys/{key['id']}", headers=bearer(acme.key))
    ).status_code == 204
    oauth_error(await _grant(client, acme, _form(key)), 401, "invalid_client")


async def test_inactive_expired_or_ip_refused_key_is_invalid_client(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    inactive = await factories.api_key(client, acme)
    patched = await client.patch(
        f"{acme.base}/api-keys/{inactive['id']}", json={"status": "inactive"}, headers=bearer(acme.key)
    )
    assert patched.status_code == 200
    oauth_error(await _grant(client, acme, _form(inactive)), 401, "invalid_client")
    elsewhere = await factories.api_key(client, acme, whitelistedIPs=["10.0.0.0/8"])
    oauth_error(await _grant(client, acme, _form(elsewhere)), 401, "invalid_client")
    expiring = await factories.api_key(client, acme, expiresAt=(clock.now() + timedelta(hours=1)).isoformat())
    assert (await _grant(client, acme, _form(expiring))).status_code == 200
    clock.advance(timedelta(hours=2))
    oauth_error(await _grant(client, acme, _form(expiring)), 401, "invalid_client")


async def test_other_accounts_key_is_invalid_client(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    globex = await factories.tenant(app, "globex")
    theirs = await _admin_key(client, globex)
    assert (await _grant(client, globex, _form(theirs))).status_code == 200
    oauth_error(await _grant(client, acme, _form(theirs)), 401, "invalid_client")


async def test_access_token_is_not_a_client_secret(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await _admin_key(client, acme)
    token = await factories.access_token(client, acme, key)
    response = await _grant(client, acme, _form(key, client_secret=token))
    oauth_error(response, 401, "invalid_client")
    assert token not in response.text


async def test_user_token_is_not_a_client_secret(client: httpx.AsyncClient, acme: Tenant) -> None:
    login = await client.post(f"{acme.base}/tokens", headers=basic(acme.admin_email, factories.PASSWORD))
    assert login.status_code == 201
    data = login.json()["data"]
    form = {
        "grant_type": "client_credentials",
        "client_id": data["id"],
        "client_secret": data["attributes"]["token"],
    }
    oauth_error(await _grant(client, acme, form), 401, "invalid_client")


@pytest.mark.parametrize("change", ["delete", "deactivate", "narrow-scopes", "restrict-ips"])
async def test_losing_power_revokes_access_tokens_at_once(
    client: httpx.AsyncClient, acme: Tenant, change: str
) -> None:
    key = await factories.api_key(client, acme)
    token = await factories.access_token(client, acme, key)
    assert (await client.get(f"{acme.base}/me", headers=bearer(token))).status_code == 200
    path = f"{acme.base}/api-keys/{key['id']}"
    if change == "delete":
        response = await client.delete(path, headers=bearer(acme.key))
        assert response.status_code == 204
    else:
        bodies: dict[str, dict[str, object]] = {
            "deactivate": {"status": "inactive"},
            "narrow-scopes": {"scopes": ["READ"]},
            "restrict-ips": {"whitelistedIPs": ["203.0.113.0/24"]},
        }
        body = bodies[change]
        response = await client.patch(path, json=body, headers=bearer(acme.key))
        assert response.status_code == 200, response.text
    plain_error(await client.get(f"{acme.base}/api-keys", headers=bearer(token)), 401, "TOKEN_REVOKED")
    jsonapi_error(await client.get(f"{acme.base}/me", headers=bearer(token)), 401, "TOKEN_REVOKED")


async def test_reactivating_a_key_does_not_revive_its_tokens(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await factories.api_key(client, acme)
    token = await factories.access_token(client, acme, key)
    path = f"{acme.base}/api-keys/{key['id']}"
    assert (
        await client.patch(path, json={"status": "inactive"}, headers=bearer(acme.key))
    ).status_code == 200
    assert (await client.patch(path, json={"status": "active"}, headers=bearer(acme.key))).status_code == 200
    plain_error(await client.get(f"{acme.base}/api-keys", headers=bearer(token)), 401, "TOKEN_REVOKED")
    fresh = await factories.access_token(client, acme, key)
    assert (await client.get(f"{acme.base}/api-keys", headers=bearer(fresh))).status_code == 200


async def test_renaming_a_key_keeps_its_tokens(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await factories.api_key(client, acme)
    token = await factories.access_token(client, acme, key)
    renamed = await client.patch(
        f"{acme.base}/api-keys/{key['id']}", json={"name": "new"}, headers=bearer(acme.key)
    )
    assert renamed.status_code == 200
    assert (await client.get(f"{acme.base}/me", headers=bearer(token))).status_code == 200


async def test_access_tokens_expire_within_an_hour(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await _admin_key(client, acme)
    token = await factories.access_token(client, acme, key)
    clock.advance(timedelta(minutes=59))
    assert (await client.get(f"{acme.base}/me", headers=bearer(token))).status_code == 200
    clock.advance(timedelta(minutes=2))
    jsonapi_error(await client.get(f"{acme.base}/me", headers=bearer(token)), 401, "TOKEN_EXPIRED")


async def test_access_token_never_outlives_its_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await factories.api_key(client, acme, expiresAt=(clock.now() + timedelta(minutes=10)).isoformat())
    response = await _grant(client, acme, _form(key))
    assert response.status_code == 200
    assert 590 <= response.json()["expires_in"] <= 600
    token = response.json()["access_token"]
    clock.advance(timedelta(minutes=11))
    plain_error(await client.get(f"{acme.base}/api-keys", headers=bearer(token)), 401, "TOKEN_EXPIRED")


async def test_access_token_keeps_the_keys_ip_allowlist(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    key = await factories.api_key(client, acme, whitelistedIPs=["203.0.113.0/24"])
    token = await factories.access_token(client, acme, key)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as outsider:
        refused = await outsider.get(f"{acme.base}/api-keys", headers=bearer(token))
    plain_error(refused, 403, "IP_NOT_ALLOWED")
    assert (await client.get(f"{acme.base}/api-keys", headers=bearer(token))).status_code == 200


async def test_access_token_cannot_mint_more_power(client: httpx.AsyncClient, acme: Tenant) -> None:
    key = await _admin_key(client, acme)
    token = await factories.access_token(client, acme, key, scope="READ CREATE")
    refused = await client.post(
        f"{acme.base}/api-keys", json={"scopes": ["READ", "DELETE"]}, headers=bearer(token)
    )
    plain_error(refused, 403, "SCOPE_NOT_GRANTABLE")
    made = await client.post(f"{acme.base}/api-keys", json={"scopes": ["READ"]}, headers=bearer(token))
    assert made.status_code == 201, made.text
    assert made.json()["scopes"] == ["READ"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"grant_type=client_credentials&grant_type=client_credentials", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (b"not a form", "application/x-www-form-urlencoded"),
        (b"{not json", "application/json"),
        (b'{"grant_type": ["client_credentials"]}', "application/json"),
        (b"[1, 2]", "application/json"),
    ],
    ids=["duplicate", "not-utf8", "not-a-form", "broken-json", "non-string-json", "json-array"],
)
async def test_malformed_requests_are_invalid_request(
    client: httpx.AsyncClient, acme: Tenant, content: bytes, content_type: str
) -> None:
    response = await client.post(
        f"{acme.base}/oauth/token", content=content, headers={"Content-Type": content_type}
    )
    oauth_error(response, 400, "invalid_request")


async def test_access_token_use_counts_as_its_keys_use(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    made = await factories.api_key(client, acme, name="oauth client")
    token = await factories.access_token(client, acme, made)
    await services_of(app).usage.flush()
    before = await client.get(f"{acme.base}/api-keys/{made['id']}", headers=bearer(acme.key))
    assert before.json()["lastUsedAt"] is None

    assert (await client.get(f"{acme.base}/me", headers=bearer(token))).status_code == 200
    await services_of(app).usage.flush()

    after = await client.get(f"{acme.base}/api-keys/{made['id']}", headers=bearer(acme.key))
    assert after.json()["lastUsedAt"] is not None
