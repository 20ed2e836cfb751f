"""Licenses: the document, keys (generated, explicit, from the pool), create rules, CRUD and
the policy/owner/product relationships. Status, filters and paging live in
``test_licenses_status.py``; who may do what in ``test_licenses_access.py``."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error, timestamp
from tests.factories import Tenant, bearer, ref

GENERATED_KEY = re.compile(r"^[0-9A-F]{6}(-[0-9A-F]{6}){4}-V3$")
ATTRIBUTES = {
    "name",
    "key",
    "expiry",
    "status",
    "uses",
    "suspended",
    "scheme",
    "encrypted",
    "strict",
    "floating",
    "protected",
    "version",
    "requireHeartbeat",
    "requireCheckIn",
    "lastValidated",
    "lastCheckIn",
    "nextCheckIn",
    "lastCheckOut",
    "maxMachines",
    "maxProcesses",
    "maxUsers",
    "maxCores",
    "maxMemory",
    "maxDisk",
    "maxUses",
    "metadata",
    "created",
    "updated",
}


def _body(
    policy_id: str | None, relationships: dict[str, Any] | None = None, **attributes: Any
) -> dict[str, Any]:
    rels: dict[str, Any] = {} if policy_id is None else {"policy": ref("policies", policy_id)}
    rels |= relationships or {}
    return {"data": {"type": "licenses", "attributes": attributes, "relationships": rels}}


async def _post(client: httpx.AsyncClient, account: Tenant, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"{account.base}/licenses", json=body, headers=bearer(account.key))


async def _ids(client: httpx.AsyncClient, account: Tenant, path: str = "licenses") -> list[str]:
    response = await client.get(f"{account.base}/{path}?limit=100", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def _error(response: httpx.Response, status: int, code: str, pointer: str) -> dict[str, Any]:
    body = jsonapi_error(response, status, code)
    assert body["errors"][0]["source"] == {"pointer": pointer}, body
    return body


# -- the document --------------------------------------------------------------------------


async def test_created_license_document_has_keygens_shape(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    owner = await factories.user(app, acme)
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(
        client, acme, product_id, maxUses=10, strict=True, requireCheckIn=False
    )
    response = await _post(
        client,
        acme,
        _body(policy_id, {"owner": ref("users", str(owner))}, name="Pro seat", metadata={"seats": 3}),
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/vnd.api+json")
    data = response.json()["data"]
    license_id = data["id"]
    uuid.UUID(license_id)
    assert data["type"] == "licenses"

    attributes = data["attributes"]
    assert set(attributes) >= ATTRIBUTES, ATTRIBUTES - set(attributes)
    assert attributes["name"] == "Pro seat"
    assert GENERATED_KEY.match(attributes["key"])
    assert attributes["expiry"] is None
    assert attributes["status"] == "ACTIVE"
    assert attributes["uses"] == 0
    assert attributes["suspended"] is False
    assert attributes["scheme"] is None
    assert attributes["encrypted"] is False
    assert attributes["strict"] is True
    assert attributes["floating"] is False
    assert attributes["protected"] is False
    assert attributes["maxMachines"] == 1  # a non-floating policy allows one machine
    assert attributes["maxUses"] == 10  # the policy's value, no override
    assert attributes["metadata"] == {"seats": 3}
    assert attributes["lastValidated"] is None
    assert attributes["lastCheckIn"] is None
    assert attributes["nextCheckIn"] is None
    assert attributes["lastCheckOut"] is None
    created = timestamp(attributes["created"])
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", attributes["created"])
    timestamp(attributes["updated"])

    base = f"/v1/accounts/{acme.id}"
    own = f"{base}/licenses/{license_id}"
    assert data["links"] == {"self": own}
    assert response.headers["location"] == own
    relationships = data["relationships"]
    assert relationships["account"]["data"] == {"type": "accounts", "id": str(acme.id)}
    assert relationships["account"]["links"]["related"] == base
    assert relationships["product"] == {
        "data": {"type": "products", "id": product_id},
        "links": {"related": f"{own}/product"},
    }
    assert relationships["policy"] == {
        "data": {"type": "policies", "id": policy_id},
        "links": {"related": f"{own}/policy"},
    }
    assert relationships["owner"] == {
        "data": {"type": "users", "id": str(owner)},
        "links": {"related": f"{own}/owner"},
    }

    # Every link leads somewhere real.
    itself = await client.get(own, headers=bearer(acme.key))
    assert itself.status_code == 200
    assert itself.json()["data"] == data
    for name, type_ in (("product", "products"), ("policy", "policies"), ("owner", "users")):
        related = await client.get(relationships[name]["links"]["related"], headers=bearer(acme.key))
        assert related.status_code == 200, related.text
        assert related.json()["data"]["type"] == type_
        assert related.json()["data"]["id"] == relationships[name]["data"]["id"]


async def test_license_overrides_win_over_policy_limits(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, maxUses=10, floating=True, maxMachines=5)
    inherited = await factories.license(client, acme, policy_id)
    assert inherited["attributes"]["maxUses"] == 10
    assert inherited["attributes"]["maxMachines"] == 5
    assert inherited["attributes"]["floating"] is True
    overridden = await factories.license(client, acme, policy_id, maxUses=2, maxMachines=3)
    assert overridden["attributes"]["maxUses"] == 2
    assert overridden["attributes"]["maxMachines"] == 3
    again = await client.get(f"{acme.base}/licenses/{inherited['id']}", headers=bearer(acme.key))
    assert again.json()["data"]["attributes"]["maxUses"] == 10


async def test_metadata_defaults_to_an_empty_object(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id)
    assert data["attributes"]["metadata"] == {}
    assert data["attributes"]["name"] is None
    assert data["relationships"]["owner"]["data"] is None


# -- keys ----------------------------------------------------------------------------------


async def test_unpooled_policy_generates_unique_keys_in_keygens_format(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme)
    keys = [(await factories.license(client, acme, policy_id))["attributes"]["key"] for _ in range(20)]
    for key in keys:
        assert GENERATED_KEY.match(key), key
    assert len(set(keys)) == len(keys)
    null_key = await factories.license(client, acme, policy_id, key=None)
    assert GENERATED_KEY.match(null_key["attributes"]["key"])
    assert null_key["attributes"]["key"] not in keys


async def test_explicit_key_is_kept_and_finds_the_license(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id, key="my-custom-key")
    assert data["attributes"]["key"] == "my-custom-key"
    by_key = await client.get(f"{acme.base}/licenses/my-custom-key", headers=bearer(acme.key))
    assert by_key.status_code == 200
    assert by_key.json()["data"]["id"] == data["id"]
    # Keys are case-sensitive.
    other_case = await client.get(f"{acme.base}/licenses/MY-CUSTOM-KEY", headers=bearer(acme.key))
    assert other_case.status_code == 404


async def test_pooled_policy_takes_its_key_from_the_pool(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True, strict=True)
    pool = [await factories.pool_key(client, acme, policy_id, f"POOL-KEY-{n:04d}") for n in range(4)]

    data = await factories.license(client, acme, policy_id)
    assert data["attributes"]["strict"] is True
    popped = [key for key in pool if key["attributes"]["key"] == data["attributes"]["key"]]
    assert len(popped) == 1, data["attributes"]["key"]
    assert popped[0]["id"] == pool[-1]["id"]  # newest first, Keygen's order

    remaining = await client.get(f"{acme.base}/policies/{policy_id}/pool", headers=bearer(acme.key))
    assert remaining.status_code == 200
    assert sorted(k["id"] for k in remaining.json()["data"]) == sorted(k["id"] for k in pool[:-1])
    gone = await client.get(f"{acme.base}/keys/{popped[0]['id']}", headers=bearer(acme.key))
    assert gone.status_code == 404
    for kept in pool[:-1]:
        assert (
            await client.get(f"{acme.base}/keys/{kept['id']}", headers=bearer(acme.key))
        ).status_code == 200

    # The next license takes the next key, never the same one.
    second = await factories.license(client, acme, policy_id)
    assert second["attributes"]["key"] == pool[-2]["attributes"]["key"]


async def test_explicit_key_on_pooled_policy_bypasses_the_pool(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    pool = [await factories.pool_key(client, acme, policy_id, f"POOL-KEY-{n:04d}") for n in range(2)]
    data = await factories.license(client, acme, policy_id, key="not-from-the-pool")
    assert data["attributes"]["key"] == "not-from-the-pool"
    remaining = await client.get(f"{acme.base}/policies/{policy_id}/pool", headers=bearer(acme.key))
    assert sorted(k["id"] for k in remaining.json()["data"]) == sorted(k["id"] for k in pool)


async def test_empty_pool_is_422_and_creates_nothing(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    response = await _post(client, acme, _body(policy_id))
    body = jsonapi_error(response, 422, "POLICY_POOL_EMPTY")
    assert body["errors"] == [
        {
            "title": "Unprocessable resource",
            "detail": "pool is empty",
            "code": "POLICY_POOL_EMPTY",
            "source": {"pointer": "/data/relationships/policy"},
        }
    ]
    assert await _ids(client, acme) == []


async def test_a_license_key_equal_to_a_pool_key_is_refused_and_the_pool_keeps_it(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    await factories.pool_key(client, acme, policy_id, "SHARED-KEY-1")
    refused = await _post(client, acme, _body(policy_id, key="SHARED-KEY-1"))
    _error(refused, 422, "KEY_CONFLICT", "/data/attributes/key")
    assert await _ids(client, acme) == []
    taken = await factories.license(client, acme, policy_id)
    assert taken["attributes"]["key"] == "SHARED-KEY-1"


async def test_reserved_short_and_long_keys_are_refused(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    for reserved in ("actions", "action"):
        response = await _post(client, acme, _body(policy_id, key=reserved))
        _error(response, 422, "KEY_NOT_ALLOWED", "/data/attributes/key")
    short = await _post(client, acme, _body(policy_id, key="short"))
    body = _error(short, 422, "KEY_TOO_SHORT", "/data/attributes/key")
    assert body["errors"][0]["title"] == "Unprocessable resource"
    # Six characters is the minimum.
    assert (await _post(client, acme, _body(policy_id, key="sixsix"))).status_code == 201
    too_long = await _post(client, acme, _body(policy_id, key="k" * 16_385))
    _error(too_long, 422, "KEY_TOO_LONG", "/data/attributes/key")
    assert len(await _ids(client, acme)) == 1


async def test_duplicate_key_is_taken(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    other_policy = await factories.policy(client, acme)
    first = await factories.license(client, acme, policy_id, key="duplicate-me")
    response = await _post(client, acme, _body(other_policy, key="duplicate-me"))
    body = _error(response, 422, "KEY_TAKEN", "/data/attributes/key")
    assert body["errors"][0]["title"] == "Unprocessable resource"
    assert await _ids(client, acme) == [first["id"]]


async def test_key_equal_to_a_license_id_conflicts(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    first = await factories.license(client, acme, policy_id)
    response = await _post(client, acme, _body(policy_id, key=first["id"]))
    _error(response, 422, "KEY_CONFLICT", "/data/attributes/key")
    assert await _ids(client, acme) == [first["id"]]


async def test_uuid_looking_key_that_is_no_license_id_is_accepted(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme)
    looks_like_an_id = str(uuid.uuid4())
    data = await factories.license(client, acme, policy_id, key=looks_like_an_id)
    assert data["attributes"]["key"] == looks_like_an_id
    assert data["id"] != looks_like_an_id
    found = await client.get(f"{acme.base}/licenses/{looks_like_an_id}", headers=bearer(acme.key))
    assert found.status_code == 200
    assert found.json()["data"]["id"] == data["id"]


async def test_same_key_in_another_account_is_accepted(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    globex = await factories.tenant(app, "globex")
    acme_policy = await factories.policy(client, acme)
    globex_policy = await factories.policy(client, globex)
    mine = await factories.license(client, acme, acme_policy, key="shared-across-accounts")
    theirs = await factories.license(client, globex, globex_policy, key="shared-across-accounts")
    assert theirs["attributes"]["key"] == "shared-across-accounts"
    found = await client.get(f"{acme.base}/licenses/shared-across-accounts", headers=bearer(acme.key))
    assert found.json()["data"]["id"] == mine["id"]
    found = await client.get(f"{globex.base}/licenses/shared-across-accounts", headers=bearer(globex.key))
    assert found.json()["data"]["id"] == theirs["id"]


# -- create rules --------------------------------------------------------------------------


async def test_unknown_policy_is_422_policy_not_found(client: httpx.AsyncClient, acme: Tenant) -> None:
    for bad in (str(uuid.uuid4()), "not-a-uuid"):
        response = await _post(client, acme, _body(bad))
        body = _error(response, 422, "POLICY_NOT_FOUND", "/data/relationships/policy")
        assert body["errors"][0]["title"] == "Unprocessable resource"
    assert await _ids(client, acme) == []


async def test_policy_of_another_account_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    globex = await factories.tenant(app, "globex")
    globex_policy = await factories.policy(client, globex)
    response = await _post(client, acme, _body(globex_policy))
    _error(response, 422, "POLICY_NOT_FOUND", "/data/relationships/policy")


async def test_owner_and_its_user_alias_set_the_owner(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    owner = await factories.user(app, acme, email="owner@acme.test")
    policy_id = await factories.policy(client, acme)
    for name in ("owner", "user"):
        response = await _post(client, acme, _body(policy_id, {name: ref("users", str(owner))}))
        assert response.status_code == 201, response.text
        assert response.json()["data"]["relationships"]["owner"]["data"] == {
            "type": "users",
            "id": str(owner),
        }
    by_email = await _post(client, acme, _body(policy_id, {"owner": ref("users", "owner@acme.test")}))
    assert by_email.status_code == 201, by_email.text
    assert by_email.json()["data"]["relationships"]["owner"]["data"]["id"] == str(owner)


async def test_owner_and_user_together_is_400(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    owner = await factories.user(app, acme)
    policy_id = await factories.policy(client, acme)
    both = {"owner": ref("users", str(owner)), "user": ref("users", str(owner))}
    response = await _post(client, acme, _body(policy_id, both))
    assert response.status_code in (400, 422), response.text
    assert await _ids(client, acme) == []


async def test_unknown_owner_is_422(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    globex = await factories.tenant(app, "globex")
    stranger = await factories.user(app, globex)
    policy_id = await factories.policy(client, acme)
    for missing in (str(uuid.uuid4()), "nobody@acme.test", str(stranger)):
        response = await _post(client, acme, _body(policy_id, {"owner": ref("users", missing)}))
        _error(response, 422, "OWNER_NOT_FOUND", "/data/relationships/owner")
    assert await _ids(client, acme) == []


async def test_malformed_create_bodies_are_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    no_policy = await _post(client, acme, _body(None))
    assert no_policy.status_code == 400, no_policy.text
    assert no_policy.json()["errors"][0]["source"] == {"pointer": "/data/relationships/policy"}

    unknown = await _post(client, acme, _body(policy_id, bogus=True))
    assert unknown.status_code == 400, unknown.text
    assert unknown.json()["errors"][0]["source"] == {"pointer": "/data/attributes/bogus"}

    unknown_relationship = await _post(
        client, acme, _body(policy_id, {"environment": ref("environments", "x")})
    )
    assert unknown_relationship.status_code == 400
    # Keygen takes a group's UUID (licenses_controller.rb: ``param :id, type: :uuid``).
    malformed_group = await _post(client, acme, _body(policy_id, {"group": ref("groups", "x")}))
    assert malformed_group.status_code == 400
    assert malformed_group.json()["errors"][0]["source"] == {"pointer": "/data/relationships/group/data/id"}

    wrong_type = _body(policy_id)
    wrong_type["data"]["type"] = "machines"
    assert (await _post(client, acme, wrong_type)).status_code in (400, 422)

    # Keygen accepts the singular type too.
    singular = _body(policy_id)
    singular["data"]["type"] = "license"
    assert (await _post(client, acme, singular)).status_code == 201
    assert len(await _ids(client, acme)) == 1


async def test_policy_duration_sets_the_expiry(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, duration=86_400 * 30)
    data = await factories.license(client, acme, policy_id)
    expiry = timestamp(data["attributes"]["expiry"])
    assert abs(expiry - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    assert data["attributes"]["status"] == "ACTIVE"

    explicit = await factories.license(client, acme, policy_id, expiry="2031-02-03T04:05:06.000Z")
    assert explicit["attributes"]["expiry"] == "2031-02-03T04:05:06.000Z"

    # Other bases start the clock later (first validation, activation...), not at creation.
    later = await factories.policy(
        client, acme, duration=86_400 * 30, expirationBasis="FROM_FIRST_VALIDATION"
    )
    assert (await factories.license(client, acme, later))["attributes"]["expiry"] is None


async def test_explicit_expiry_without_policy_duration(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id, expiry="2032-06-07T08:09:10+02:00")
    assert data["attributes"]["expiry"] == "2032-06-07T06:09:10.000Z"
    naive = await _post(client, acme, _body(policy_id, expiry="2032-06-07T08:09:10"))
    assert naive.status_code in (400, 422)


async def test_max_machines_needs_a_floating_policy(client: httpx.AsyncClient, acme: Tenant) -> None:
    fixed = await factories.policy(client, acme)
    response = await _post(client, acme, _body(fixed, maxMachines=3))
    _error(response, 422, "MAX_MACHINES_INVALID", "/data/attributes/maxMachines")
    assert await _ids(client, acme) == []
    # One machine is what a non-floating policy allows anyway.
    assert (await _post(client, acme, _body(fixed, maxMachines=1))).status_code == 201

    floating = await factories.policy(client, acme, floating=True)
    data = await factories.license(client, acme, floating, maxMachines=3)
    assert data["attributes"]["maxMachines"] == 3


# -- read, update, delete ------------------------------------------------------------------


async def test_get_by_id_and_by_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id)
    for lookup in (data["id"], data["attributes"]["key"]):
        response = await client.get(f"{acme.base}/licenses/{lookup}", headers=bearer(acme.key))
        assert response.status_code == 200, response.text
        assert response.json()["data"] == data
    missing = await client.get(f"{acme.base}/licenses/{uuid.uuid4()}", headers=bearer(acme.key))
    jsonapi_error(missing, 404, "NOT_FOUND")
    unknown_key = await client.get(f"{acme.base}/licenses/NO-SUCH-KEY", headers=bearer(acme.key))
    jsonapi_error(unknown_key, 404, "NOT_FOUND")
    assert "NO-SUCH-KEY" not in unknown_key.text  # a license key is not repeated back


async def test_patch_changes_only_the_sent_attributes(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, maxUses=100)
    data = await factories.license(
        client, acme, policy_id, name="Before", expiry="2031-01-01T00:00:00.000Z", metadata={"tier": "gold"}
    )
    url = f"{acme.base}/licenses/{data['id']}"

    async def patch(**attributes: Any) -> dict[str, Any]:
        body = {"data": {"type": "licenses", "attributes": attributes}}
        response = await client.patch(url, json=body, headers=bearer(acme.key))
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["data"]["attributes"]
        return result

    renamed = await patch(name="After")
    assert renamed["name"] == "After"
    assert renamed["expiry"] == "2031-01-01T00:00:00.000Z"
    assert renamed["metadata"] == {"tier": "gold"}
    assert renamed["maxUses"] == 100
    assert renamed["key"] == data["attributes"]["key"]
    assert timestamp(renamed["updated"]) >= timestamp(data["attributes"]["updated"])

    moved = await patch(expiry="2033-03-03T03:03:03.000Z")
    assert moved["expiry"] == "2033-03-03T03:03:03.000Z"
    assert moved["name"] == "After"

    tagged = await patch(metadata={"tier": "silver", "seats": 2})
    assert tagged["metadata"] == {"tier": "silver", "seats": 2}
    assert tagged["expiry"] == "2033-03-03T03:03:03.000Z"

    limited = await patch(maxUses=5)
    assert limited["maxUses"] == 5
    assert limited["metadata"] == {"tier": "silver", "seats": 2}

    forever = await patch(expiry=None)
    assert forever["expiry"] is None

    stored = (await client.get(url, headers=bearer(acme.key))).json()["data"]["attributes"]
    assert stored["name"] == "After"
    assert stored["expiry"] is None
    assert stored["metadata"] == {"tier": "silver", "seats": 2}
    assert stored["maxUses"] == 5


async def test_patch_cannot_change_the_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id, key="original-key")
    url = f"{acme.base}/licenses/{data['id']}"
    body = {"data": {"type": "licenses", "attributes": {"key": "replacement-key"}}}
    response = await client.patch(url, json=body, headers=bearer(acme.key))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {"pointer": "/data/attributes/key"}
    stored = await client.get(f"{acme.base}/licenses/original-key", headers=bearer(acme.key))
    assert stored.json()["data"]["id"] == data["id"]


async def test_patch_max_machines_on_non_floating_policy_is_422(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id)
    url = f"{acme.base}/licenses/{data['id']}"
    body = {"data": {"type": "licenses", "attributes": {"maxMachines": 4}}}
    response = await client.patch(url, json=body, headers=bearer(acme.key))
    _error(response, 422, "MAX_MACHINES_INVALID", "/data/attributes/maxMachines")
    stored = await client.get(url, headers=bearer(acme.key))
    assert stored.json()["data"]["attributes"]["maxMachines"] == 1


async def test_patch_and_delete_by_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id, key="addressed-by-key")
    body = {"data": {"type": "licenses", "attributes": {"name": "Via key"}}}
    patched = await client.patch(
        f"{acme.base}/licenses/addressed-by-key", json=body, headers=bearer(acme.key)
    )
    assert patched.status_code == 200
    assert patched.json()["data"]["id"] == data["id"]
    deleted = await client.delete(f"{acme.base}/licenses/addressed-by-key", headers=bearer(acme.key))
    assert deleted.status_code == 204
    assert await _ids(client, acme) == []


async def test_delete_is_204_then_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    doomed = await factories.license(client, acme, policy_id)
    kept = await factories.license(client, acme, policy_id)
    url = f"{acme.base}/licenses/{doomed['id']}"
    deleted = await client.delete(url, headers=bearer(acme.key))
    assert deleted.status_code == 204
    assert deleted.content == b""
    jsonapi_error(await client.get(url, headers=bearer(acme.key)), 404, "NOT_FOUND")
    jsonapi_error(await client.delete(url, headers=bearer(acme.key)), 404, "NOT_FOUND")
    by_key = await client.get(f"{acme.base}/licenses/{doomed['attributes']['key']}", headers=bearer(acme.key))
    assert by_key.status_code == 404
    assert await _ids(client, acme) == [kept["id"]]


# -- relationships -------------------------------------------------------------------------


async def test_related_policy_product_and_owner(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    owner = await factories.user(app, acme)
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id)
    owned = await factories.license(client, acme, policy_id, owner=str(owner))
    ownerless = await factories.license(client, acme, policy_id)
    url = f"{acme.base}/licenses/{owned['id']}"

    policy = await client.get(f"{url}/policy", headers=bearer(acme.key))
    assert policy.status_code == 200
    assert policy.json()["data"]["type"] == "policies"
    assert policy.json()["data"]["id"] == policy_id
    product = await client.get(f"{url}/product", headers=bearer(acme.key))
    assert product.status_code == 200
    assert product.json()["data"]["type"] == "products"
    assert product.json()["data"]["id"] == product_id
    user = await client.get(f"{url}/owner", headers=bearer(acme.key))
    assert user.status_code == 200
    assert user.json()["data"]["type"] == "users"
    assert user.json()["data"]["id"] == str(owner)

    nobody = await client.get(f"{acme.base}/licenses/{ownerless['id']}/owner", headers=bearer(acme.key))
    assert nobody.status_code == 200
    assert nobody.json() == {"data": None}

    by_key = await client.get(
        f"{acme.base}/licenses/{owned['attributes']['key']}/policy", headers=bearer(acme.key)
    )
    assert by_key.json()["data"]["id"] == policy_id
    for name in ("policy", "product", "owner"):
        missing = await client.get(f"{acme.base}/licenses/{uuid.uuid4()}/{name}", headers=bearer(acme.key))
        jsonapi_error(missing, 404, "NOT_FOUND")


async def test_change_owner(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    first = await factories.user(app, acme)
    second = await factories.user(app, acme, email="second@acme.test")
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id, owner=str(first))
    url = f"{acme.base}/licenses/{data['id']}/owner"

    moved = await client.put(url, json=ref("users", str(second)), headers=bearer(acme.key))
    assert moved.status_code == 200, moved.text
    assert moved.json()["data"]["type"] == "licenses"
    assert moved.json()["data"]["relationships"]["owner"]["data"] == {"type": "users", "id": str(second)}
    assert (await client.get(url, headers=bearer(acme.key))).json()["data"]["id"] == str(second)

    by_email = await client.put(url, json=ref("users", "second@acme.test"), headers=bearer(acme.key))
    assert by_email.status_code == 200

    unknown = await client.put(url, json=ref("users", str(uuid.uuid4())), headers=bearer(acme.key))
    jsonapi_error(unknown, 422, "OWNER_NOT_FOUND")
    assert (await client.get(url, headers=bearer(acme.key))).json()["data"]["id"] == str(second)

    cleared = await client.put(url, json={"data": None}, headers=bearer(acme.key))
    assert cleared.status_code == 200
    assert cleared.json()["data"]["relationships"]["owner"]["data"] is None
    assert (await client.get(url, headers=bearer(acme.key))).json() == {"data": None}


async def test_change_policy_within_the_product(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    basic = await factories.policy(client, acme, product_id, maxUses=1)
    premium = await factories.policy(client, acme, product_id, name="Premium", maxUses=50)
    data = await factories.license(client, acme, basic)
    url = f"{acme.base}/licenses/{data['id']}/policy"

    moved = await client.put(url, json=ref("policies", premium), headers=bearer(acme.key))
    assert moved.status_code == 200, moved.text
    moved_data = moved.json()["data"]
    assert moved_data["relationships"]["policy"]["data"] == {"type": "policies", "id": premium}
    assert moved_data["attributes"]["maxUses"] == 50
    assert moved_data["attributes"]["key"] == data["attributes"]["key"]
    assert (await client.get(url, headers=bearer(acme.key))).json()["data"]["id"] == premium
    assert await _ids(client, acme, f"policies/{premium}/licenses") == [data["id"]]
    assert await _ids(client, acme, f"policies/{basic}/licenses") == []

    unknown = await client.put(url, json=ref("policies", str(uuid.uuid4())), headers=bearer(acme.key))
    jsonapi_error(unknown, 422, "POLICY_NOT_FOUND")


async def test_change_policy_by_the_targets_transfer_strategy(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen (app/models/license.rb ``transfer!``; policy ``transferStrategy``): moving to a
    ``RESET_EXPIRY`` policy sets the expiry to the new policy's duration from now (none without
    a duration); ``KEEP_EXPIRY`` (the default) keeps it."""
    day = 86_400
    product_id = await factories.product(client, acme)
    month = await factories.policy(client, acme, product_id, duration=30 * day)
    keeps = await factories.policy(client, acme, product_id, name="Keeps", duration=365 * day)
    resets = await factories.policy(
        client, acme, product_id, name="Resets", duration=7 * day, transferStrategy="RESET_EXPIRY"
    )
    forever = await factories.policy(
        client, acme, product_id, name="Forever", transferStrategy="RESET_EXPIRY"
    )
    data = await factories.license(client, acme, month)
    url = f"{acme.base}/licenses/{data['id']}/policy"
    expiry = data["attributes"]["expiry"]

    kept = await client.put(url, json=ref("policies", keeps), headers=bearer(acme.key))
    assert kept.status_code == 200, kept.text
    assert kept.json()["data"]["attributes"]["expiry"] == expiry

    reset = await client.put(url, json=ref("policies", resets), headers=bearer(acme.key))
    assert reset.status_code == 200, reset.text
    week = datetime.fromisoformat(reset.json()["data"]["attributes"]["expiry"].replace("Z", "+00:00"))
    assert abs(week - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)

    cleared = await client.put(url, json=ref("policies", forever), headers=bearer(acme.key))
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["data"]["attributes"]["expiry"] is None
    shown = await client.get(f"{acme.base}/licenses/{data['id']}", headers=bearer(acme.key))
    assert shown.json()["data"]["attributes"]["expiry"] is None


async def test_change_policy_refuses_incompatible_policies(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    unpooled = await factories.policy(client, acme, product_id)
    pooled = await factories.policy(client, acme, product_id, name="Pooled", usePool=True)
    await factories.pool_key(client, acme, pooled, "POOLED-KEY-1")
    elsewhere = await factories.policy(client, acme)

    plain = await factories.license(client, acme, unpooled)
    from_pool = await factories.license(client, acme, pooled)

    async def move(license_id: str, policy_id: str) -> httpx.Response:
        return await client.put(
            f"{acme.base}/licenses/{license_id}/policy",
            json=ref("policies", policy_id),
            headers=bearer(acme.key),
        )

    jsonapi_error(await move(plain["id"], pooled), 422, "POLICY_NOT_COMPATIBLE")
    jsonapi_error(await move(from_pool["id"], unpooled), 422, "POLICY_NOT_COMPATIBLE")
    jsonapi_error(await move(plain["id"], elsewhere), 422, "POLICY_NOT_COMPATIBLE")
    for license_id, policy_id in ((plain["id"], unpooled), (from_pool["id"], pooled)):
        current = await client.get(f"{acme.base}/licenses/{license_id}/policy", headers=bearer(acme.key))
        assert current.json()["data"]["id"] == policy_id


async def test_policy_and_product_license_lists(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_a = await factories.product(client, acme)
    policy_a1 = await factories.policy(client, acme, product_a)
    policy_a2 = await factories.policy(client, acme, product_a, name="A2")
    product_b = await factories.product(client, acme)
    policy_b = await factories.policy(client, acme, product_b)
    a1 = await factories.license(client, acme, policy_a1)
    a2 = await factories.license(client, acme, policy_a2)
    b = await factories.license(client, acme, policy_b)

    assert await _ids(client, acme, f"policies/{policy_a1}/licenses") == [a1["id"]]
    assert await _ids(client, acme, f"policies/{policy_b}/licenses") == [b["id"]]
    assert sorted(await _ids(client, acme, f"products/{product_a}/licenses")) == sorted([a1["id"], a2["id"]])
    assert await _ids(client, acme, f"products/{product_b}/licenses") == [b["id"]]
    for path in (f"policies/{uuid.uuid4()}/licenses", f"products/{uuid.uuid4()}/licenses"):
        response = await client.get(f"{acme.base}/{path}", headers=bearer(acme.key))
        jsonapi_error(response, 404, "NOT_FOUND")


async def test_deleting_a_policy_deletes_its_licenses(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    doomed_policy = await factories.policy(client, acme, product_id)
    kept_policy = await factories.policy(client, acme, product_id, name="Kept")
    doomed = [await factories.license(client, acme, doomed_policy) for _ in range(2)]
    kept = await factories.license(client, acme, kept_policy)
    deleted = await client.delete(f"{acme.base}/policies/{doomed_policy}", headers=bearer(acme.key))
    assert deleted.status_code == 204
    for license in doomed:
        gone = await client.get(f"{acme.base}/licenses/{license['id']}", headers=bearer(acme.key))
        assert gone.status_code == 404
    assert await _ids(client, acme) == [kept["id"]]


async def test_deleting_the_owner_keeps_the_license(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    owner = await factories.user(app, acme)
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id, owner=str(owner))
    deleted = await client.delete(f"{acme.base}/users/{owner}", headers=bearer(acme.key))
    assert deleted.status_code == 204
    response = await client.get(f"{acme.base}/licenses/{data['id']}", headers=bearer(acme.key))
    assert response.status_code == 200
    assert response.json()["data"]["relationships"]["owner"]["data"] is None
    assert response.json()["data"]["attributes"]["key"] == data["attributes"]["key"]
    owner_link = await client.get(f"{acme.base}/licenses/{data['id']}/owner", headers=bearer(acme.key))
    assert owner_link.json() == {"data": None}
    by_owner = await client.get(f"{acme.base}/licenses?owner={owner}", headers=bearer(acme.key))
    assert by_owner.json()["data"] == []


async def test_change_policy_to_a_node_locked_one_keeps_the_one_machine_rule(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme)
    floating = await factories.policy(client, acme, product_id, floating=True)
    node_locked = await factories.policy(client, acme, product_id, name="Node-locked")
    three = await factories.license(client, acme, floating, maxMachines=3)
    inherited = await factories.license(client, acme, floating)

    refused = await client.put(
        f"{acme.base}/licenses/{three['id']}/policy",
        json=ref("policies", node_locked),
        headers=bearer(acme.key),
    )
    moved = await client.put(
        f"{acme.base}/licenses/{inherited['id']}/policy",
        json=ref("policies", node_locked),
        headers=bearer(acme.key),
    )

    _error(refused, 422, "MAX_MACHINES_INVALID", "/data/attributes/maxMachines")
    current = await client.get(f"{acme.base}/licenses/{three['id']}", headers=bearer(acme.key))
    assert current.json()["data"]["relationships"]["policy"]["data"]["id"] == floating
    assert moved.status_code == 200, moved.text
    assert moved.json()["data"]["attributes"]["maxMachines"] == 1
