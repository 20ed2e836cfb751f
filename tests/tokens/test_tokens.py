"""Tokens: email and password (HTTP Basic) for a ``kpt_`` credential, in JSON:API shapes."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from keyplane.kit import clock
from keyplane.kit.credentials import CREDENTIAL_PATTERN, CredentialKind, parse
from keyplane.kit.passwords import hash_password
from keyplane.models import User
from keyplane.services import services_of
from tests import factories
from tests.auth.support import JSONAPI, basic, jsonapi_error, timestamp
from tests.factories import Tenant, bearer


async def _email(app: FastAPI, tenant: Tenant, role: str = "user") -> str:
    email = f"{role}-person@{tenant.slug}.test"
    await factories.user(app, tenant, role=role, email=email)
    return email


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(JSONAPI)
    return [item["id"] for item in response.json()["data"]]


async def test_admin_login_issues_an_admin_token(client: httpx.AsyncClient, acme: Tenant) -> None:
    """An admin's token does not expire unless asked to (Keygen's app/models/token.rb
    ``set_default_expiry``; features/api/v1/tokens/generate.feature: ``"expiry": null``)."""
    response = await factories.login(client, acme, acme.admin_email)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith(JSONAPI)
    data = response.json()["data"]
    assert data["type"] == "tokens"
    attributes = data["attributes"]
    assert set(attributes) == {"kind", "token", "expiry", "name", "created", "updated"}
    assert attributes["kind"] == "admin-token"
    assert attributes["name"] is None
    token = attributes["token"]
    assert token.startswith("kpt_")
    assert CREDENTIAL_PATTERN.fullmatch(token)
    parsed = parse(token)
    assert parsed is not None
    assert parsed.kind is CredentialKind.TOKEN
    assert attributes["expiry"] is None
    assert abs(timestamp(attributes["created"]) - clock.now()) < timedelta(minutes=1)
    timestamp(attributes["updated"])
    assert data["relationships"]["bearer"]["data"] == {"type": "users", "id": str(acme.admin_id)}
    assert data["relationships"]["account"]["data"] == {"type": "accounts", "id": str(acme.id)}
    assert data["links"]["self"] == f"/v1/accounts/{acme.id}/tokens/{data['id']}"


async def test_token_authenticates_as_its_user(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    email = await _email(app, acme)
    data = await factories.token(client, acme, email)
    assert data["attributes"]["kind"] == "user-token"
    me = await client.get(f"{acme.base}/me", headers=bearer(data["attributes"]["token"]))
    assert me.status_code == 200, me.text
    assert me.headers["content-type"].startswith(JSONAPI)
    user = me.json()["data"]
    assert user["type"] == "users"
    assert user["id"] == data["relationships"]["bearer"]["data"]["id"]
    assert user["attributes"]["email"] == email
    assert user["attributes"]["role"] == "user"
    # The same token on the plain API: it reads (its own keys only).
    listed = await client.get(f"{acme.base}/api-keys", headers=bearer(data["attributes"]["token"]))
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 0


@pytest.mark.parametrize(
    ("role", "kind"),
    [("developer", "developer-token"), ("read-only", "read-only-token"), ("support-agent", "support-token")],
)
async def test_token_kind_follows_the_role(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str, kind: str
) -> None:
    data = await factories.token(client, acme, await _email(app, acme, role))
    assert data["attributes"]["kind"] == kind
    me = await client.get(f"{acme.base}/me", headers=bearer(data["attributes"]["token"]))
    assert me.json()["data"]["attributes"]["role"] == role


async def test_read_only_token_cannot_write(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    data = await factories.token(client, acme, await _email(app, acme, "read-only"))
    token = data["attributes"]["token"]
    refused = await client.delete(f"{acme.base}/tokens/{data['id']}", headers=bearer(token))
    jsonapi_error(refused, 403, "INSUFFICIENT_SCOPE")
    assert (await client.get(f"{acme.base}/me", headers=bearer(token))).status_code == 200


async def test_email_is_matched_case_insensitively(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await factories.login(client, acme, "  " + acme.admin_email.upper())
    assert response.status_code == 201, response.text
    bearer_id = response.json()["data"]["relationships"]["bearer"]["data"]["id"]
    assert bearer_id == str(acme.admin_id)


async def test_wrong_password_and_unknown_email_are_keygens_codes(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen answers 401 ``PASSWORD_INVALID`` "password must be valid" and ``EMAIL_INVALID``
    "email must be valid", sourced to the Authorization header
    (app/controllers/concerns/authentication.rb ``http_password_authenticator``;
    features/api/v1/tokens/generate.feature)."""
    response = await factories.login(client, acme, acme.admin_email, "wrong-password")
    body = jsonapi_error(response, 401, "PASSWORD_INVALID")
    assert body["errors"][0] == {
        "title": "Unauthorized",
        "detail": "password must be valid",
        "code": "PASSWORD_INVALID",
        "source": {"header": "Authorization"},
    }
    assert "wrong-password" not in response.text
    unknown = await factories.login(client, acme, "nobody@acme.test")
    other = jsonapi_error(unknown, 401, "EMAIL_INVALID")
    assert other["errors"][0]["detail"] == "email must be valid"
    assert other["errors"][0]["source"] == {"header": "Authorization"}
    listed = await client.get(f"{acme.base}/tokens", headers=bearer(acme.key))
    assert _ids(listed) == []


async def test_login_is_per_account(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    globex = await factories.tenant(app, "globex")
    jsonapi_error(await factories.login(client, globex, acme.admin_email), 401, "EMAIL_INVALID")
    data = await factories.token(client, acme, acme.admin_email)
    # Acme's token is an unknown credential in globex.
    refused = await client.get(f"{globex.base}/me", headers=bearer(data["attributes"]["token"]))
    jsonapi_error(refused, 401, "TOKEN_INVALID")
    missing = await client.get(f"{globex.base}/tokens/{data['id']}", headers=bearer(globex.key))
    jsonapi_error(missing, 404, "NOT_FOUND")


async def test_user_without_password_cannot_log_in(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen: 401 ``PASSWORD_NOT_SUPPORTED`` "password is unsupported" for a user without a
    password (features/api/v1/tokens/generate.feature, "passwordless user")."""
    email = await _email(app, acme)
    async with services_of(app).db.writer() as session:
        await session.execute(update(User).where(User.email == email).values(password_hash=None))
        await session.commit()
    body = jsonapi_error(await factories.login(client, acme, email), 401, "PASSWORD_NOT_SUPPORTED")
    assert body["errors"][0]["detail"] == "password is unsupported"
    jsonapi_error(await factories.login(client, acme, email, ""), 401, "PASSWORD_NOT_SUPPORTED")


async def test_password_may_hold_colons_and_non_ascii(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    email = await _email(app, acme)
    password = "pa:ss:wörd ✓"
    async with services_of(app).db.writer() as session:
        hashed = await hash_password(password)
        await session.execute(update(User).where(User.email == email).values(password_hash=hashed))
        await session.commit()
    response = await factories.login(client, acme, email, password)
    assert response.status_code == 201, response.text
    jsonapi_error(await factories.login(client, acme, email, "pa"), 401, "PASSWORD_INVALID")


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "CREDENTIALS_MISSING"),
        ("Basic", "CREDENTIALS_MISSING"),
        ("Basic %%%not-base64%%%", "CREDENTIALS_INVALID"),
        ("Basic " + base64.b64encode(b"no-colon-here").decode(), "CREDENTIALS_INVALID"),
    ],
)
async def test_missing_or_malformed_basic_is_401(
    client: httpx.AsyncClient, acme: Tenant, authorization: str | None, code: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.post(f"{acme.base}/tokens", headers=headers)
    body = jsonapi_error(response, 401, code)
    assert body["errors"][0]["source"] == {"header": "Authorization"}
    assert _ids(await client.get(f"{acme.base}/tokens", headers=bearer(acme.key))) == []


async def test_empty_email_is_email_required(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen: 401 ``EMAIL_REQUIRED`` "email is required" when the Basic user is no email
    (app/controllers/concerns/authentication.rb, ``EMAIL_RE``)."""
    response = await client.post(f"{acme.base}/tokens", headers=basic("", ""))
    body = jsonapi_error(response, 401, "EMAIL_REQUIRED")
    assert body["errors"][0]["detail"] == "email is required"
    jsonapi_error(
        await client.post(f"{acme.base}/tokens", headers=basic("not-an-email", "x")), 401, "EMAIL_REQUIRED"
    )
    assert _ids(await client.get(f"{acme.base}/tokens", headers=bearer(acme.key))) == []


async def test_api_key_cannot_be_traded_for_a_token(client: httpx.AsyncClient, acme: Tenant) -> None:
    """A token would outlive an API key's scopes and address rules: only a user's token
    (or email and password) makes one."""
    response = await client.post(f"{acme.base}/tokens", headers=bearer(acme.key))
    jsonapi_error(response, 403, "TOKEN_NOT_ALLOWED")
    assert acme.key not in response.text
    assert _ids(await client.get(f"{acme.base}/tokens", headers=bearer(acme.key))) == []


async def test_name_and_expiry_from_the_body(client: httpx.AsyncClient, acme: Tenant) -> None:
    expiry = clock.now() + timedelta(days=2)
    body = {"data": {"type": "tokens", "attributes": {"name": "ci", "expiry": expiry.isoformat()}}}
    response = await factories.login(client, acme, acme.admin_email, json=body)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["attributes"]["name"] == "ci"
    assert abs(timestamp(data["attributes"]["expiry"]) - expiry) < timedelta(milliseconds=1)
    shown = await client.get(f"{acme.base}/tokens/{data['id']}", headers=bearer(acme.key))
    assert shown.status_code == 200, shown.text
    assert shown.json()["data"]["attributes"]["name"] == "ci"
    assert shown.json()["data"]["attributes"]["expiry"] == data["attributes"]["expiry"]
    # It lives exactly that long.
    token = data["attributes"]["token"]
    clock.advance(timedelta(days=1, hours=23))
    assert (await client.get(f"{acme.base}/me", headers=bearer(token))).status_code == 200
    clock.advance(timedelta(hours=2))
    jsonapi_error(await client.get(f"{acme.base}/me", headers=bearer(token)), 401, "TOKEN_EXPIRED")


async def test_jsonapi_media_type_body_is_accepted(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.post(
        f"{acme.base}/tokens",
        content=b'{"data": {"type": "tokens", "attributes": {"name": "from-sdk"}}}',
        headers=basic(acme.admin_email, factories.PASSWORD) | {"Content-Type": JSONAPI},
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["attributes"]["name"] == "from-sdk"


async def test_past_expiry_is_422(client: httpx.AsyncClient, acme: Tenant) -> None:
    past = (clock.now() - timedelta(minutes=1)).isoformat()
    response = await factories.login(
        client, acme, acme.admin_email, json={"data": {"type": "tokens", "attributes": {"expiry": past}}}
    )
    body = jsonapi_error(response, 422, "EXPIRY_INVALID")
    assert body["errors"][0]["source"] == {"pointer": "/data/attributes/expiry"}
    assert _ids(await client.get(f"{acme.base}/tokens", headers=bearer(acme.key))) == []


async def test_expiry_without_timezone_is_refused_not_a_crash(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    naive = (clock.now() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    response = await factories.login(
        client, acme, acme.admin_email, json={"data": {"type": "tokens", "attributes": {"expiry": naive}}}
    )
    body = jsonapi_error(response, 422, "EXPIRY_INVALID")
    assert body["errors"][0]["source"] == {"pointer": "/data/attributes/expiry"}
    assert _ids(await client.get(f"{acme.base}/tokens", headers=bearer(acme.key))) == []


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"type": "tokens", "attributes": {"name": "x", "scopes": ["READ"]}}},
        {"data": {"type": "tokens", "attributes": {}, "id": "abc"}},
        {"meta": {}},
        {"data": "tokens"},
    ],
    ids=["unknown-attribute", "unknown-member", "unknown-top-level", "data-not-object"],
)
async def test_malformed_body_is_400(client: httpx.AsyncClient, acme: Tenant, body: dict[str, Any]) -> None:
    response = await factories.login(client, acme, acme.admin_email, json=body)
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert errors
    assert all("code" in error and "detail" in error for error in errors)
    assert _ids(await client.get(f"{acme.base}/tokens", headers=bearer(acme.key))) == []


async def test_wrong_resource_type_is_refused(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await factories.login(client, acme, acme.admin_email, json={"data": {"type": "licenses"}})
    body = jsonapi_error(response, 422, "TYPE_INVALID")
    assert body["errors"][0]["source"] == {"pointer": "/data/type"}
    assert _ids(await client.get(f"{acme.base}/tokens", headers=bearer(acme.key))) == []


async def test_lists_and_gets_never_show_the_secret(client: httpx.AsyncClient, acme: Tenant) -> None:
    first = await factories.token(client, acme, acme.admin_email)
    second = await factories.token(client, acme, acme.admin_email)
    listed = await client.get(f"{acme.base}/tokens", headers=bearer(first["attributes"]["token"]))
    assert _ids(listed) == [second["id"], first["id"]]  # newest first
    for item in listed.json()["data"]:
        assert item["type"] == "tokens"
        assert "token" not in item["attributes"]
        assert item["attributes"]["kind"] == "admin-token"
    for secret in (first["attributes"]["token"], second["attributes"]["token"]):
        assert secret not in listed.text
    one = await client.get(f"{acme.base}/tokens/{first['id']}", headers=bearer(acme.key))
    assert one.status_code == 200, one.text
    assert one.json()["data"]["id"] == first["id"]
    assert "token" not in one.json()["data"]["attributes"]
    assert first["attributes"]["token"] not in one.text
    limited = await client.get(f"{acme.base}/tokens", params={"limit": 1}, headers=bearer(acme.key))
    assert _ids(limited) == [second["id"]]


async def test_delete_revokes_at_once(client: httpx.AsyncClient, acme: Tenant) -> None:
    data = await factories.token(client, acme, acme.admin_email)
    token = data["attributes"]["token"]
    keep = await factories.token(client, acme, acme.admin_email)
    deleted = await client.delete(f"{acme.base}/tokens/{data['id']}", headers=bearer(token))
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    jsonapi_error(await client.get(f"{acme.base}/me", headers=bearer(token)), 401, "TOKEN_REVOKED")
    gone = await client.get(f"{acme.base}/tokens/{data['id']}", headers=bearer(acme.key))
    jsonapi_error(gone, 404, "NOT_FOUND")
    jsonapi_error(
        await client.delete(f"{acme.base}/tokens/{data['id']}", headers=bearer(acme.key)), 404, "NOT_FOUND"
    )
    assert _ids(await client.get(f"{acme.base}/tokens", headers=bearer(acme.key))) == [keep["id"]]
    assert (
        await client.get(f"{acme.base}/me", headers=bearer(keep["attributes"]["token"]))
    ).status_code == 200


async def test_other_users_tokens_are_invisible_without_manage(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    alice = await factories.token(client, acme, await _email(app, acme, "user"))
    bob_email = "bob@acme.test"
    await factories.user(app, acme, role="developer", email=bob_email)
    bob = await factories.token(client, acme, bob_email)
    bob_token = bob["attributes"]["token"]
    assert _ids(await client.get(f"{acme.base}/tokens", headers=bearer(bob_token))) == [bob["id"]]
    jsonapi_error(
        await client.get(f"{acme.base}/tokens/{alice['id']}", headers=bearer(bob_token)), 404, "NOT_FOUND"
    )
    refused = await client.delete(f"{acme.base}/tokens/{alice['id']}", headers=bearer(bob_token))
    jsonapi_error(refused, 404, "NOT_FOUND")
    # Alice's token survived; an admin (MANAGE) sees everyone's.
    assert (
        await client.get(f"{acme.base}/me", headers=bearer(alice["attributes"]["token"]))
    ).status_code == 200
    admin_view = await client.get(f"{acme.base}/tokens", headers=bearer(acme.key))
    assert set(_ids(admin_view)) == {alice["id"], bob["id"]}
    kinds = {item["id"]: item["attributes"]["kind"] for item in admin_view.json()["data"]}
    assert kinds == {alice["id"]: "user-token", bob["id"]: "developer-token"}
    shown = await client.get(f"{acme.base}/tokens/{alice['id']}", headers=bearer(acme.key))
    assert shown.status_code == 200


async def test_user_tokens_expire_after_fourteen_days(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """An end user's token lasts two weeks (Keygen's ``Token::TOKEN_DURATION``)."""
    data = await factories.token(client, acme, await _email(app, acme))
    expiry = timestamp(data["attributes"]["expiry"])
    assert abs(expiry - (clock.now() + timedelta(days=14))) < timedelta(minutes=1)
    token = data["attributes"]["token"]
    clock.advance(timedelta(days=13, hours=23))
    assert (await client.get(f"{acme.base}/me", headers=bearer(token))).status_code == 200
    clock.advance(timedelta(days=1, hours=1))
    jsonapi_error(await client.get(f"{acme.base}/me", headers=bearer(token)), 401, "TOKEN_EXPIRED")
    refused = await client.get(f"{acme.base}/tokens", headers=bearer(token))
    jsonapi_error(refused, 401, "TOKEN_EXPIRED")
    assert token not in refused.text


async def test_unknown_and_malformed_token_ids(client: httpx.AsyncClient, acme: Tenant) -> None:
    unknown = "01234567-89ab-7def-8123-456789abcdef"
    jsonapi_error(
        await client.get(f"{acme.base}/tokens/{unknown}", headers=bearer(acme.key)), 404, "NOT_FOUND"
    )
    # Keygen answers 404 for any id it has no token for (a made-up one too).
    for made_up in ("not-a-uuid", "actions", "%E2%9C%93"):
        jsonapi_error(
            await client.get(f"{acme.base}/tokens/{made_up}", headers=bearer(acme.key)), 404, "NOT_FOUND"
        )
        jsonapi_error(
            await client.put(f"{acme.base}/tokens/{made_up}", headers=bearer(acme.key)), 404, "NOT_FOUND"
        )
        jsonapi_error(
            await client.delete(f"{acme.base}/tokens/{made_up}", headers=bearer(acme.key)), 404, "NOT_FOUND"
        )


async def test_an_api_key_is_not_a_token(client: httpx.AsyncClient, acme: Tenant) -> None:
    listed = await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))
    key_id = listed.json()["data"][0]["id"]
    jsonapi_error(
        await client.get(f"{acme.base}/tokens/{key_id}", headers=bearer(acme.key)), 404, "NOT_FOUND"
    )
    jsonapi_error(
        await client.delete(f"{acme.base}/tokens/{key_id}", headers=bearer(acme.key)), 404, "NOT_FOUND"
    )
    assert (await client.get(f"{acme.base}/me", headers=bearer(acme.key))).status_code == 200
