"""Who may do what with licenses (Keygen's permission table), and tenant isolation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer, ref


def _body(policy_id: str, owner: str | None = None, **attributes: Any) -> dict[str, Any]:
    relationships: dict[str, Any] = {"policy": ref("policies", policy_id)}
    if owner is not None:
        relationships["owner"] = ref("users", owner)
    return {"data": {"type": "licenses", "attributes": attributes, "relationships": relationships}}


def _patch(**attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "licenses", "attributes": attributes}}


async def _all_ids(client: httpx.AsyncClient, account: Tenant) -> set[str]:
    response = await client.get(f"{account.base}/licenses?limit=100", headers=bearer(account.key))
    assert response.status_code == 200
    return {item["id"] for item in response.json()["data"]}


async def _name(client: httpx.AsyncClient, account: Tenant, license_id: str) -> str | None:
    response = await client.get(f"{account.base}/licenses/{license_id}", headers=bearer(account.key))
    assert response.status_code == 200
    name: str | None = response.json()["data"]["attributes"]["name"]
    return name


def _denied(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["title"] == "Access denied"


# -- staff roles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "create", "update", "delete"),
    [
        ("admin", 201, 200, 204),
        ("developer", 201, 200, 204),
        ("sales-agent", 201, 200, 204),
        ("support-agent", 403, 200, 403),
        ("read-only", 403, 403, 403),
    ],
)
async def test_staff_roles(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str, create: int, update: int, delete: int
) -> None:
    _, key = await factories.role_key(app, client, acme, role)
    policy_id = await factories.policy(client, acme)
    existing = await factories.license(client, acme, policy_id, name="Original")
    url = f"{acme.base}/licenses/{existing['id']}"

    # Every staff role reads everything.
    listed = await client.get(f"{acme.base}/licenses", headers=bearer(key))
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["data"]] == [existing["id"]]
    shown = await client.get(url, headers=bearer(key))
    assert shown.status_code == 200
    by_key = await client.get(f"{acme.base}/licenses/{existing['attributes']['key']}", headers=bearer(key))
    assert by_key.status_code == 200
    for related in ("policy", "product", "owner"):
        assert (await client.get(f"{url}/{related}", headers=bearer(key))).status_code == 200

    created = await client.post(f"{acme.base}/licenses", json=_body(policy_id), headers=bearer(key))
    assert created.status_code == create, created.text
    if create == 403:
        _denied(created)
        assert await _all_ids(client, acme) == {existing["id"]}

    patched = await client.patch(url, json=_patch(name="Changed"), headers=bearer(key))
    assert patched.status_code == update, patched.text
    assert await _name(client, acme, existing["id"]) == ("Changed" if update == 200 else "Original")

    deleted = await client.delete(url, headers=bearer(key))
    assert deleted.status_code == delete, deleted.text
    still_there = (await client.get(url, headers=bearer(acme.key))).status_code
    assert still_there == (404 if delete == 204 else 200)


async def test_support_agent_may_change_owner_but_read_only_may_not(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, support = await factories.role_key(app, client, acme, "support-agent")
    _, read_only = await factories.role_key(app, client, acme, "read-only")
    customer = await factories.user(app, acme)
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id)
    url = f"{acme.base}/licenses/{data['id']}/owner"
    _denied(await client.put(url, json=ref("users", str(customer)), headers=bearer(read_only)))
    assert (await client.get(url, headers=bearer(acme.key))).json()["data"] is None
    moved = await client.put(url, json=ref("users", str(customer)), headers=bearer(support))
    assert moved.status_code == 200
    assert (await client.get(url, headers=bearer(acme.key))).json()["data"]["id"] == str(customer)


# -- product tokens ------------------------------------------------------------------------


async def test_product_token_sees_and_manages_only_its_product(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    mine = await factories.product(client, acme)
    theirs = await factories.product(client, acme)
    my_policy = await factories.policy(client, acme, mine)
    their_policy = await factories.policy(client, acme, theirs)
    token = await factories.product_token(client, acme, mine)
    own = await factories.license(client, acme, my_policy)
    other = await factories.license(client, acme, their_policy)

    listed = await client.get(f"{acme.base}/licenses", headers=bearer(token))
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["data"]] == [own["id"]]
    filtered = await client.get(f"{acme.base}/licenses?product={theirs}", headers=bearer(token))
    assert filtered.json()["data"] == []

    assert (await client.get(f"{acme.base}/licenses/{own['id']}", headers=bearer(token))).status_code == 200
    other_url = f"{acme.base}/licenses/{other['id']}"
    jsonapi_error(await client.get(other_url, headers=bearer(token)), 404, "NOT_FOUND")
    by_key = await client.get(f"{acme.base}/licenses/{other['attributes']['key']}", headers=bearer(token))
    jsonapi_error(by_key, 404, "NOT_FOUND")
    jsonapi_error(
        await client.patch(other_url, json=_patch(name="x"), headers=bearer(token)), 404, "NOT_FOUND"
    )
    jsonapi_error(await client.delete(other_url, headers=bearer(token)), 404, "NOT_FOUND")
    assert await _name(client, acme, other["id"]) is None

    created = await client.post(f"{acme.base}/licenses", json=_body(my_policy), headers=bearer(token))
    assert created.status_code == 201, created.text
    assert created.json()["data"]["relationships"]["product"]["data"]["id"] == mine

    for policy_ref in (their_policy, str(uuid.uuid4())):
        refused = await client.post(f"{acme.base}/licenses", json=_body(policy_ref), headers=bearer(token))
        _denied(refused)
    assert len(await _all_ids(client, acme)) == 3

    own_url = f"{acme.base}/licenses/{own['id']}"
    patched = await client.patch(own_url, json=_patch(name="Mine", maxUses=3), headers=bearer(token))
    assert patched.status_code == 200
    assert patched.json()["data"]["attributes"]["maxUses"] == 3
    assert (await client.delete(own_url, headers=bearer(token))).status_code == 204


async def test_product_token_cannot_move_a_license_to_another_products_policy(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    mine = await factories.product(client, acme)
    my_policy = await factories.policy(client, acme, mine)
    their_policy = await factories.policy(client, acme)
    token = await factories.product_token(client, acme, mine)
    data = await factories.license(client, acme, my_policy)
    url = f"{acme.base}/licenses/{data['id']}/policy"
    response = await client.put(url, json=ref("policies", their_policy), headers=bearer(token))
    assert response.status_code == 422, response.text
    assert (await client.get(url, headers=bearer(acme.key))).json()["data"]["id"] == my_policy


# -- end customers (role user) -------------------------------------------------------------


async def test_user_sees_only_their_own_licenses(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    user_id, key = await factories.role_key(app, client, acme, "user")
    someone = await factories.user(app, acme)
    policy_id = await factories.policy(client, acme)
    own = await factories.license(client, acme, policy_id, owner=user_id)
    others = await factories.license(client, acme, policy_id, owner=str(someone))
    ownerless = await factories.license(client, acme, policy_id)

    listed = await client.get(f"{acme.base}/licenses", headers=bearer(key))
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["data"]] == [own["id"]]
    assert (await client.get(f"{acme.base}/licenses?owner={someone}", headers=bearer(key))).json()[
        "data"
    ] == []
    assert (await client.get(f"{acme.base}/licenses/{own['id']}", headers=bearer(key))).status_code == 200
    by_key = await client.get(f"{acme.base}/licenses/{own['attributes']['key']}", headers=bearer(key))
    assert by_key.status_code == 200
    owner = await client.get(f"{acme.base}/licenses/{own['id']}/owner", headers=bearer(key))
    assert owner.json()["data"]["id"] == user_id
    for hidden in (others, ownerless):
        for lookup in (hidden["id"], hidden["attributes"]["key"]):
            jsonapi_error(
                await client.get(f"{acme.base}/licenses/{lookup}", headers=bearer(key)), 404, "NOT_FOUND"
            )
        url = f"{acme.base}/licenses/{hidden['id']}"
        assert (await client.get(f"{url}/policy", headers=bearer(key))).status_code == 404
        assert (await client.delete(url, headers=bearer(key))).status_code == 404
        assert (await client.patch(url, json=_patch(name="x"), headers=bearer(key))).status_code == 404
    assert len(await _all_ids(client, acme)) == 3


async def test_user_creates_licenses_for_themselves_under_unprotected_policies(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    user_id, key = await factories.role_key(app, client, acme, "user")
    someone = await factories.user(app, acme)
    product_id = await factories.product(client, acme)
    open_policy = await factories.policy(client, acme, product_id)
    protected = await factories.policy(client, acme, product_id, protected=True)

    # Without an owner the license would not be theirs: 403 (Keygen's
    # features/api/v1/licenses/create.feature, "User attempts to create a license without a user").
    _denied(
        await client.post(f"{acme.base}/licenses", json=_body(open_policy, name="Mine"), headers=bearer(key))
    )
    explicit = await client.post(
        f"{acme.base}/licenses", json=_body(open_policy, owner=user_id, name="Mine"), headers=bearer(key)
    )
    assert explicit.status_code == 201
    assert explicit.json()["data"]["relationships"]["owner"]["data"] == {"type": "users", "id": user_id}
    assert explicit.json()["data"]["attributes"]["name"] == "Mine"
    made = {explicit.json()["data"]["id"]}

    _denied(await client.post(f"{acme.base}/licenses", json=_body(protected), headers=bearer(key)))
    _denied(
        await client.post(f"{acme.base}/licenses", json=_body(protected, owner=user_id), headers=bearer(key))
    )
    _denied(
        await client.post(
            f"{acme.base}/licenses", json=_body(open_policy, owner=str(someone)), headers=bearer(key)
        )
    )
    alias = _body(open_policy)
    alias["data"]["relationships"]["user"] = ref("users", str(someone))
    _denied(await client.post(f"{acme.base}/licenses", json=alias, headers=bearer(key)))

    privileged_attributes: list[dict[str, Any]] = [
        {"maxMachines": 5},
        {"expiry": "2040-01-01T00:00:00Z"},
        {"suspended": False},
        {"metadata": {}},
    ]
    for attributes in privileged_attributes:
        privileged = await client.post(
            f"{acme.base}/licenses", json=_body(open_policy, **attributes), headers=bearer(key)
        )
        assert privileged.status_code == 400, (attributes, privileged.text)
        pointer = "/data/attributes/" + next(iter(attributes))
        assert privileged.json()["errors"][0]["source"] == {"pointer": pointer}

    assert await _all_ids(client, acme) == made


async def test_user_may_not_patch_but_may_delete_their_own_unprotected_license(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    user_id, key = await factories.role_key(app, client, acme, "user")
    product_id = await factories.product(client, acme)
    open_policy = await factories.policy(client, acme, product_id)
    protected = await factories.policy(client, acme, product_id, protected=True)
    own = await factories.license(client, acme, open_policy, owner=user_id, name="Original")
    guarded = await factories.license(client, acme, protected, owner=user_id)

    url = f"{acme.base}/licenses/{own['id']}"
    _denied(await client.patch(url, json=_patch(name="Changed"), headers=bearer(key)))
    assert await _name(client, acme, own["id"]) == "Original"
    moved = await client.put(f"{url}/policy", json=ref("policies", protected), headers=bearer(key))
    _denied(moved)

    guarded_url = f"{acme.base}/licenses/{guarded['id']}"
    _denied(await client.delete(guarded_url, headers=bearer(key)))
    assert (await client.get(guarded_url, headers=bearer(acme.key))).status_code == 200

    assert (await client.delete(url, headers=bearer(key))).status_code == 204
    assert await _all_ids(client, acme) == {guarded["id"]}


async def test_a_license_protected_on_its_own_cannot_be_deleted_by_its_owner(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    user_id, key = await factories.role_key(app, client, acme, "user")
    open_policy = await factories.policy(client, acme)
    guarded = await factories.license(client, acme, open_policy, owner=user_id, protected=True)

    _denied(await client.delete(f"{acme.base}/licenses/{guarded['id']}", headers=bearer(key)))
    assert await _all_ids(client, acme) == {guarded["id"]}


# -- credentials and tenants ---------------------------------------------------------------


async def test_no_or_foreign_credentials_are_401(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    globex = await factories.tenant(app, "globex")
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id)
    url = f"{acme.base}/licenses/{data['id']}"
    requests = [
        ("GET", f"{acme.base}/licenses", None),
        ("POST", f"{acme.base}/licenses", _body(policy_id)),
        ("GET", url, None),
        ("PATCH", url, _patch(name="x")),
        ("DELETE", url, None),
    ]
    for method, target, body in requests:
        anonymous = await client.request(method, target, json=body)
        jsonapi_error(anonymous, 401, "TOKEN_MISSING")
        foreign = await client.request(method, target, json=body, headers=bearer(globex.key))
        body_ = jsonapi_error(foreign, 401, "TOKEN_INVALID")
        assert len(body_["errors"]) == 1
    assert await _all_ids(client, acme) == {data["id"]}
    assert await _name(client, acme, data["id"]) is None


async def test_licenses_are_isolated_between_accounts(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    globex = await factories.tenant(app, "globex")
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id)
    for lookup in (data["id"], data["attributes"]["key"]):
        url = f"{globex.base}/licenses/{lookup}"
        jsonapi_error(await client.get(url, headers=bearer(globex.key)), 404, "NOT_FOUND")
        jsonapi_error(
            await client.patch(url, json=_patch(name="x"), headers=bearer(globex.key)), 404, "NOT_FOUND"
        )
        jsonapi_error(await client.delete(url, headers=bearer(globex.key)), 404, "NOT_FOUND")
        for related in ("policy", "product", "owner"):
            assert (await client.get(f"{url}/{related}", headers=bearer(globex.key))).status_code == 404
    assert await _all_ids(client, globex) == set()
    assert await _name(client, acme, data["id"]) is None
    assert await _all_ids(client, acme) == {data["id"]}
