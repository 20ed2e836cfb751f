"""Tokens as Keygen makes them: expiries, token authentication on ``POST /tokens``,
regeneration (``PUT /tokens/{id}``), product tokens managing their own, and Keygen's codes."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from tests import factories
from tests.auth.support import basic, jsonapi_error, timestamp
from tests.events.support import logged
from tests.factories import Tenant, bearer


async def _person(app: FastAPI, tenant: Tenant, role: str) -> tuple[str, str]:
    email = f"{role}-{uuid.uuid4().hex[:8]}@{tenant.slug}.test"
    user_id = await factories.user(app, tenant, role=role, email=email)
    return email, str(user_id)


def _body(**attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "tokens", "attributes": attributes}}


async def _ids(client: httpx.AsyncClient, tenant: Tenant, credential: str) -> list[str]:
    response = await client.get(f"{tenant.base}/tokens", headers=bearer(credential))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


@pytest.mark.parametrize(
    ("role", "kind"),
    [
        ("admin", "admin-token"),
        ("developer", "developer-token"),
        ("sales-agent", "sales-token"),
        ("support-agent", "support-token"),
        ("read-only", "read-only-token"),
    ],
)
async def test_staff_tokens_do_not_expire(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str, kind: str
) -> None:
    """Keygen: admin and agent tokens have ``"expiry": null`` unless one is asked for
    (app/models/token.rb ``set_default_expiry``; features/api/v1/tokens/generate.feature,
    "Developer/Sales/Support/Read-only generates a new token via basic authentication")."""
    email, _ = await _person(app, acme, role)
    data = await factories.token(client, acme, email)
    assert data["attributes"]["kind"] == kind
    assert data["attributes"]["expiry"] is None
    clock.advance(timedelta(days=400))
    me = await client.get(f"{acme.base}/me", headers=bearer(data["attributes"]["token"]))
    assert me.status_code == 200, me.text


async def test_null_expiry_gives_a_user_a_token_that_never_expires(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen: ``"expiry": null`` asks for no expiry, an end user's too
    (features/api/v1/tokens/generate.feature, "User generates a new token without an expiry
    via basic authentication")."""
    email, _ = await _person(app, acme, "user")
    response = await factories.login(client, acme, email, json=_body(expiry=None))
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["attributes"]["kind"] == "user-token"
    assert data["attributes"]["expiry"] is None
    clock.advance(timedelta(days=30))
    me = await client.get(f"{acme.base}/me", headers=bearer(data["attributes"]["token"]))
    assert me.status_code == 200, me.text
    # An asked-for expiry holds for an admin too.
    later = clock.now() + timedelta(days=3)
    asked = await factories.login(client, acme, acme.admin_email, json=_body(expiry=later.isoformat()))
    assert asked.status_code == 201, asked.text
    assert abs(timestamp(asked.json()["data"]["attributes"]["expiry"]) - later) < timedelta(milliseconds=1)


async def test_a_token_generates_a_new_token(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen's token authentication on ``POST /tokens``: the bearer's current token makes a
    new one for the same bearer (app/controllers/api/v1/tokens_controller.rb
    ``authenticate_with_password_or_token!``; features/api/v1/tokens/generate.feature, "Admin
    generates a new token via token authentication", "User generates a new token via token
    authentication")."""
    admin = await factories.token(client, acme, acme.admin_email)
    response = await client.post(
        f"{acme.base}/tokens", json=_body(name="from a token"), headers=bearer(admin["attributes"]["token"])
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["id"] != admin["id"]
    assert data["attributes"]["kind"] == "admin-token"
    assert data["attributes"]["name"] == "from a token"
    assert data["attributes"]["expiry"] is None
    assert data["relationships"]["bearer"]["data"] == {"type": "users", "id": str(acme.admin_id)}
    assert (
        await client.get(f"{acme.base}/me", headers=bearer(data["attributes"]["token"]))
    ).status_code == 200
    # Both work: making one does not revoke the other.
    assert (
        await client.get(f"{acme.base}/me", headers=bearer(admin["attributes"]["token"]))
    ).status_code == 200

    email, user_id = await _person(app, acme, "user")
    mine = await factories.token(client, acme, email)
    again = await client.post(f"{acme.base}/tokens", headers=bearer(mine["attributes"]["token"]))
    assert again.status_code == 201, again.text
    attributes = again.json()["data"]["attributes"]
    assert attributes["kind"] == "user-token"
    assert abs(timestamp(attributes["expiry"]) - (clock.now() + timedelta(days=14))) < timedelta(minutes=1)
    assert again.json()["data"]["relationships"]["bearer"]["data"]["id"] == user_id
    generated = await logged(app, client, acme, "token.generated")
    assert again.json()["data"]["id"] in {
        event["relationships"]["resource"]["data"]["id"] for event in generated
    }


async def test_an_admin_generates_a_token_for_an_end_user_only(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen: an admin or developer may generate a user token for an end user (two weeks,
    or ``null``), not for another staff member, a product or a license; an end user only for
    themselves (app/policies/token_policy.rb ``generate?``; features/api/v1/tokens/
    generate.feature, "Admin generates a user token", "Developer generates a token for an
    admin", "User generates a token for another user", "Admin generates a product token")."""
    admin = (await factories.token(client, acme, acme.admin_email))["attributes"]["token"]
    _, user_id = await _person(app, acme, "user")
    body = _body(name="User Token")
    body["data"]["relationships"] = {"bearer": {"data": {"type": "user", "id": user_id}}}
    response = await client.post(f"{acme.base}/tokens", json=body, headers=bearer(admin))
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["attributes"]["kind"] == "user-token"
    assert abs(timestamp(data["attributes"]["expiry"]) - (clock.now() + timedelta(days=14))) < timedelta(
        minutes=1
    )
    assert data["relationships"]["bearer"]["data"] == {"type": "users", "id": user_id}
    me = await client.get(f"{acme.base}/me", headers=bearer(data["attributes"]["token"]))
    assert me.json()["data"]["id"] == user_id

    before = await _ids(client, acme, acme.key)
    developer_email, _ = await _person(app, acme, "developer")
    for_staff = _body()
    for_staff["data"]["relationships"] = {"bearer": {"data": {"type": "users", "id": str(acme.admin_id)}}}
    developer = (await factories.token(client, acme, developer_email))["attributes"]["token"]
    jsonapi_error(
        await client.post(f"{acme.base}/tokens", json=for_staff, headers=bearer(developer)),
        403,
        "ACCESS_DENIED",
    )
    product = await factories.product(client, acme)
    for_product = _body()
    for_product["data"]["relationships"] = {"bearer": {"data": {"type": "products", "id": product}}}
    jsonapi_error(
        await client.post(f"{acme.base}/tokens", json=for_product, headers=bearer(admin)),
        403,
        "ACCESS_DENIED",
    )
    end_user = (await factories.token(client, acme, (await _person(app, acme, "user"))[0]))["attributes"][
        "token"
    ]
    for_other = _body()
    for_other["data"]["relationships"] = {"bearer": {"data": {"type": "users", "id": user_id}}}
    jsonapi_error(
        await client.post(f"{acme.base}/tokens", json=for_other, headers=bearer(end_user)),
        403,
        "ACCESS_DENIED",
    )
    # Nothing was made by the refusals (two sign-ins' tokens are all that is new).
    assert len(await _ids(client, acme, acme.key)) == len(before) + 2
    null_bearer = _body()
    null_bearer["data"]["relationships"] = {"bearer": {"data": None}}
    refused = await client.post(f"{acme.base}/tokens", json=null_bearer, headers=bearer(admin))
    assert refused.status_code == 400, refused.text


async def test_product_and_license_cannot_generate_tokens_here(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen refuses a product a token for itself on ``POST /tokens`` (features/api/v1/
    tokens/generate.feature, "Product generates a new token for themselves": 403)."""
    product = await factories.product(client, acme)
    secret = await factories.product_token(client, acme, product)
    jsonapi_error(await client.post(f"{acme.base}/tokens", headers=bearer(secret)), 403, "TOKEN_NOT_ALLOWED")


async def test_regenerate_gives_a_new_secret_under_the_same_id(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen's ``PUT /tokens/{id}``: a new secret, the old one stops working at once, an
    expiring token expires two weeks from now, and ``token.regenerated`` is recorded
    (app/models/token.rb ``regenerate!``; features/api/v1/tokens/regenerate.feature)."""
    email, _ = await _person(app, acme, "user")
    data = await factories.token(client, acme, email)
    old = data["attributes"]["token"]
    clock.advance(timedelta(days=10))
    response = await client.put(f"{acme.base}/tokens/{data['id']}", headers=bearer(old))
    assert response.status_code == 200, response.text
    regenerated = response.json()["data"]
    assert regenerated["id"] == data["id"]
    new = regenerated["attributes"]["token"]
    assert new != old
    expiry = timestamp(regenerated["attributes"]["expiry"])
    assert abs(expiry - (clock.now() + timedelta(days=14))) < timedelta(minutes=1)
    jsonapi_error(await client.get(f"{acme.base}/me", headers=bearer(old)), 401, "TOKEN_INVALID")
    assert (await client.get(f"{acme.base}/me", headers=bearer(new))).status_code == 200
    shown = await client.get(f"{acme.base}/tokens/{data['id']}", headers=bearer(new))
    assert "token" not in shown.json()["data"]["attributes"]
    assert new not in shown.text
    events = await logged(app, client, acme, "token.regenerated")
    assert [event["relationships"]["resource"]["data"]["id"] for event in events] == [data["id"]]
    assert new not in str(events)
    assert old not in str(events)

    # A token that never expires stays so.
    admin = await factories.token(client, acme, acme.admin_email)
    again = await client.put(f"{acme.base}/tokens/{admin['id']}", headers=bearer(acme.key))
    assert again.status_code == 200, again.text
    assert again.json()["data"]["attributes"]["expiry"] is None


async def test_who_may_regenerate_which_token(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen: anyone their own; an admin or developer also end users' and product tokens,
    not another staff member's (app/policies/token_policy.rb ``regenerate?``); a token out of
    view is 404."""
    developer_email, _ = await _person(app, acme, "developer")
    developer = await factories.token(client, acme, developer_email)
    user_email, _ = await _person(app, acme, "user")
    user = await factories.token(client, acme, user_email)
    admin_token = (await factories.token(client, acme, acme.admin_email))["attributes"]["token"]
    refused = await client.put(f"{acme.base}/tokens/{developer['id']}", headers=bearer(admin_token))
    jsonapi_error(refused, 403, "ACCESS_DENIED")
    assert (
        await client.get(f"{acme.base}/me", headers=bearer(developer["attributes"]["token"]))
    ).status_code == 200
    regenerated = await client.put(f"{acme.base}/tokens/{user['id']}", headers=bearer(admin_token))
    assert regenerated.status_code == 200, regenerated.text
    user_secret = regenerated.json()["data"]["attributes"]["token"]
    refused = await client.put(f"{acme.base}/tokens/{developer['id']}", headers=bearer(user_secret))
    jsonapi_error(refused, 404, "NOT_FOUND")
    assert (
        await client.get(f"{acme.base}/me", headers=bearer(developer["attributes"]["token"]))
    ).status_code == 200


async def test_a_product_token_manages_its_own_tokens(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen: a product reads, regenerates and revokes its own tokens, and sees no one
    else's (app/policies/token_policy.rb; features/api/v1/tokens/show.feature,
    regenerate.feature, revoke.feature, "Product ... token")."""
    product = await factories.product(client, acme)
    other = await factories.product(client, acme, name="Other")
    secret = await factories.product_token(client, acme, product)
    second = await factories.product_token(client, acme, product)
    foreign = await factories.product_token(client, acme, other)
    admin = await factories.token(client, acme, acme.admin_email)

    listed = await client.get(f"{acme.base}/tokens", headers=bearer(secret))
    assert listed.status_code == 200, listed.text
    mine = [item["id"] for item in listed.json()["data"]]
    assert len(mine) == 2
    assert all(item["attributes"]["kind"] == "product-token" for item in listed.json()["data"])
    everyone = await _ids(client, acme, acme.key)
    assert admin["id"] in everyone
    assert admin["id"] not in mine
    foreign_id = next(i for i in everyone if i not in mine and i != admin["id"])
    for other_id in (admin["id"], foreign_id):
        jsonapi_error(
            await client.get(f"{acme.base}/tokens/{other_id}", headers=bearer(secret)), 404, "NOT_FOUND"
        )
        jsonapi_error(
            await client.put(f"{acme.base}/tokens/{other_id}", headers=bearer(secret)), 404, "NOT_FOUND"
        )
        jsonapi_error(
            await client.delete(f"{acme.base}/tokens/{other_id}", headers=bearer(secret)), 404, "NOT_FOUND"
        )
    assert (await client.get(f"{acme.base}/me", headers=bearer(foreign))).status_code == 200

    shown = await client.get(f"{acme.base}/tokens/{mine[0]}", headers=bearer(secret))
    assert shown.status_code == 200, shown.text
    assert shown.json()["data"]["relationships"]["bearer"]["data"] == {"type": "products", "id": product}
    regenerated = await client.put(f"{acme.base}/tokens/{mine[0]}", headers=bearer(secret))
    assert regenerated.status_code == 200, regenerated.text
    assert regenerated.json()["data"]["attributes"]["kind"] == "product-token"
    new = regenerated.json()["data"]["attributes"]["token"]
    alive = [
        s
        for s in (secret, second)
        if (await client.get(f"{acme.base}/me", headers=bearer(s))).status_code == 200
    ]
    assert len(alive) == 1  # the regenerated token's old secret stopped working
    assert (await client.delete(f"{acme.base}/tokens/{mine[1]}", headers=bearer(new))).status_code == 204
    assert await _ids(client, acme, new) == [mine[0]]
    assert (await client.get(f"{acme.base}/me", headers=bearer(foreign))).status_code == 200


async def test_badly_encoded_credentials_are_encoding_invalid(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen: 400 ``ENCODING_INVALID`` "The request could not be completed because it
    contains an invalid byte sequence (check encoding)" (features/api/v1/tokens/
    generate.feature, "Anonymous attempts to send a badly encoded email address")."""
    raw = base64.b64encode(b"\x80" + acme.admin_email.encode() + b":\x80password").decode()
    response = await client.post(f"{acme.base}/tokens", headers={"Authorization": f"Basic {raw}"})
    body = jsonapi_error(response, 400, "ENCODING_INVALID")
    assert body["errors"][0]["title"] == "Bad request"
    assert body["errors"][0]["detail"] == (
        "The request could not be completed because it contains an invalid byte sequence (check encoding)"
    )


async def test_a_missing_password_is_password_required(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen: 401 ``PASSWORD_REQUIRED`` "password is required" (features/api/v1/tokens/
    generate.feature, "User attempts to generate a new token without a password")."""
    response = await client.post(f"{acme.base}/tokens", headers=basic(acme.admin_email, ""))
    body = jsonapi_error(response, 401, "PASSWORD_REQUIRED")
    assert body["errors"][0] == {
        "title": "Unauthorized",
        "detail": "password is required",
        "code": "PASSWORD_REQUIRED",
        "source": {"header": "Authorization"},
    }
    assert response.headers["www-authenticate"].startswith("Basic")
