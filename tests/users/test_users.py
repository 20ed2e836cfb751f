from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests import factories
from tests.factories import Tenant, bearer


def _user_body(email: str, role: str = "user", password: str | None = "s3cret-pass") -> dict[str, object]:
    attributes: dict[str, object] = {"email": email, "role": role, "firstName": "Ada"}
    if password is not None:
        attributes["password"] = password
    return {"data": {"type": "users", "attributes": attributes}}


async def test_admin_creates_a_user_who_can_log_in(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await client.post(
        f"{acme.base}/users", json=_user_body("Ada@Example.com"), headers=bearer(acme.key)
    )
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["type"] == "users"
    assert data["attributes"]["email"] == "ada@example.com"
    assert data["attributes"]["role"] == "user"
    assert "password" not in created.text
    assert "s3cret-pass" not in created.text

    login = await client.post(f"{acme.base}/tokens", auth=("ada@example.com", "s3cret-pass"))
    assert login.status_code == 201
    me = await client.get(f"{acme.base}/me", headers=bearer(login.json()["data"]["attributes"]["token"]))
    assert me.json()["data"]["id"] == data["id"]


async def test_duplicate_email_is_422_and_creates_nothing(client: httpx.AsyncClient, acme: Tenant) -> None:
    first = await client.post(f"{acme.base}/users", json=_user_body("dup@x.test"), headers=bearer(acme.key))
    assert first.status_code == 201
    second = await client.post(f"{acme.base}/users", json=_user_body("DUP@x.test"), headers=bearer(acme.key))
    assert second.status_code == 422
    error = second.json()["errors"][0]
    assert error["code"] == "EMAIL_TAKEN"
    assert error["source"] == {"pointer": "/data/attributes/email"}
    listing = await client.get(f"{acme.base}/users", headers=bearer(acme.key))
    assert [u["attributes"]["email"] for u in listing.json()["data"]].count("dup@x.test") == 1


async def test_malformed_user_bodies_are_400_with_a_pointer(client: httpx.AsyncClient, acme: Tenant) -> None:
    unknown = _user_body("a@x.test")
    unknown["data"]["attributes"]["admin"] = True  # type: ignore[index]
    response = await client.post(f"{acme.base}/users", json=unknown, headers=bearer(acme.key))
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"pointer": "/data/attributes/admin"}

    bad_role = await client.post(
        f"{acme.base}/users", json=_user_body("b@x.test", role="owner"), headers=bearer(acme.key)
    )
    assert bad_role.status_code == 422
    assert bad_role.json()["errors"][0]["source"] == {"pointer": "/data/attributes/role"}


async def test_users_without_manage_see_only_themselves(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    customer = await factories.user(app, acme, role="user", email="c@acme.test")
    key = (await factories.api_key(client, acme, userId=str(customer), scopes=["READ", "CREATE"]))["key"]
    assert isinstance(key, str)

    assert (await client.get(f"{acme.base}/users", headers=bearer(key))).status_code == 403
    assert (await client.get(f"{acme.base}/users/{acme.admin_id}", headers=bearer(key))).status_code == 404
    own = await client.get(f"{acme.base}/users/c@acme.test", headers=bearer(key))
    assert own.status_code == 200
    assert own.json()["data"]["id"] == str(customer)
    create = await client.post(f"{acme.base}/users", json=_user_body("x@x.test"), headers=bearer(key))
    assert create.status_code == 403


async def test_role_change_needs_manage_and_takes_effect(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    dev = await factories.user(app, acme, role="developer")
    dev_key = (await factories.api_key(client, acme, userId=str(dev), scopes=["READ", "CREATE", "UPDATE"]))[
        "key"
    ]
    assert isinstance(dev_key, str)
    body = {"data": {"type": "users", "attributes": {"role": "read-only"}}}

    self_promote = await client.patch(
        f"{acme.base}/users/{dev}",
        json={"data": {"type": "users", "attributes": {"role": "admin"}}},
        headers=bearer(dev_key),
    )
    assert self_promote.status_code == 403

    demoted = await client.patch(f"{acme.base}/users/{dev}", json=body, headers=bearer(acme.key))
    assert demoted.status_code == 200
    assert demoted.json()["data"]["attributes"]["role"] == "read-only"
    # The key keeps its scopes, but its owner's role now allows only READ.
    create = await client.post(f"{acme.base}/api-keys", json={}, headers=bearer(dev_key))
    assert create.status_code == 403
    assert create.json()["error"]["code"] == "INSUFFICIENT_SCOPE"


async def test_deleting_a_user_revokes_its_keys(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    customer = await factories.user(app, acme)
    key = (await factories.api_key(client, acme, userId=str(customer), scopes=["READ"]))["key"]
    assert isinstance(key, str)
    assert (await client.get(f"{acme.base}/me", headers=bearer(key))).status_code == 200

    deleted = await client.delete(f"{acme.base}/users/{customer}", headers=bearer(acme.key))
    assert deleted.status_code == 204
    assert (await client.get(f"{acme.base}/me", headers=bearer(key))).status_code == 401
    assert (await client.get(f"{acme.base}/users/{customer}", headers=bearer(acme.key))).status_code == 404
    self_delete = await client.delete(f"{acme.base}/users/{acme.admin_id}", headers=bearer(acme.key))
    assert self_delete.status_code == 422


async def test_users_are_isolated_between_accounts(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    beta = await factories.tenant(app, "beta")
    response = await client.get(f"{beta.base}/users/{acme.admin_id}", headers=bearer(beta.key))
    assert response.status_code == 404
    by_email = await client.get(f"{beta.base}/users/{acme.admin_email}", headers=bearer(beta.key))
    assert by_email.status_code == 404


async def _live(client: httpx.AsyncClient, acme: Tenant, *secrets: str) -> list[bool]:
    return [
        (await client.get(f"{acme.base}/me", headers=bearer(secret))).status_code == 200 for secret in secrets
    ]


async def test_a_new_password_or_role_revokes_the_users_tokens_but_the_one_acting(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen revokes a user's tokens when their password changes (but the token that changed
    it: app/controllers/api/v1/users/actions/password_controller.rb) and when their role
    changes (app/models/user.rb, ``revoke_tokens!(except: Current.token)``); a name does not."""
    email = "tokens@acme.test"
    user = await factories.user(app, acme, role="developer", email=email)
    first, second, third = [
        (await factories.token(client, acme, email))["attributes"]["token"] for _ in range(3)
    ]
    api_key = (await factories.api_key(client, acme, userId=str(user), scopes=["READ"]))["key"]
    assert isinstance(api_key, str)

    def change(attributes: dict[str, str]) -> dict[str, object]:
        return {"data": {"type": "users", "attributes": attributes}}

    renamed = await client.patch(
        f"{acme.base}/users/{user}", json=change({"firstName": "Ada"}), headers=bearer(first)
    )
    assert renamed.status_code == 200, renamed.text
    assert await _live(client, acme, first, second, third) == [True, True, True]

    own = await client.patch(
        f"{acme.base}/users/{user}", json=change({"password": "a new password"}), headers=bearer(first)
    )
    assert own.status_code == 200, own.text
    assert await _live(client, acme, first, second, third, api_key) == [True, False, False, True]

    demoted = await client.patch(
        f"{acme.base}/users/{user}", json=change({"role": "read-only"}), headers=bearer(acme.key)
    )
    assert demoted.status_code == 200, demoted.text
    assert await _live(client, acme, first, api_key) == [False, True]  # API keys are not sessions

    events = await client.get(
        f"{acme.base}/event-logs", params={"event": "token.revoked"}, headers=bearer(acme.key)
    )
    assert events.status_code == 200, events.text
    assert len(events.json()["data"]) == 3
