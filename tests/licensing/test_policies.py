"""Policies: creation with Keygen's defaults and rules, create-only attributes, updates,
relationships, filters, permissions and tenant isolation."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import JSONAPI, jsonapi_error
from tests.factories import Tenant, bearer, ref

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

KEYGEN_DEFAULTS: dict[str, Any] = {
    "duration": None,
    "strict": False,
    "floating": False,
    "usePool": False,
    "scheme": None,
    "encrypted": False,
    "protected": False,
    "maxMachines": 1,
    "maxProcesses": None,
    "maxUsers": None,
    "maxCores": None,
    "maxMemory": None,
    "maxDisk": None,
    "maxUses": None,
    "poolLowThreshold": None,
    "authenticationStrategy": "TOKEN",
    "expirationStrategy": "RESTRICT_ACCESS",
    "expirationBasis": "FROM_CREATION",
    "renewalBasis": "FROM_EXPIRY",
    "transferStrategy": "KEEP_EXPIRY",
    "machineUniquenessStrategy": "UNIQUE_PER_LICENSE",
    "machineMatchingStrategy": "MATCH_ANY",
    # app/models/policy.rb: before_create component_uniqueness_strategy UNIQUE_PER_MACHINE,
    # component_matching_strategy MATCH_ANY.
    "componentUniquenessStrategy": "UNIQUE_PER_MACHINE",
    "componentMatchingStrategy": "MATCH_ANY",
    "machineLeasingStrategy": "PER_LICENSE",
    "processLeasingStrategy": "PER_MACHINE",
    "overageStrategy": "NO_OVERAGE",
    "heartbeatCullStrategy": "DEACTIVATE_DEAD",
    "heartbeatResurrectionStrategy": "NO_REVIVE",
    "requireHeartbeat": False,
    "heartbeatDuration": None,
    "heartbeatBasis": "FROM_FIRST_PING",
    "requireCheckIn": False,
    "checkInInterval": None,
    "checkInIntervalCount": None,
    "requireProductScope": False,
    "requirePolicyScope": False,
    "requireMachineScope": False,
    "requireFingerprintScope": False,
    "requireComponentsScope": False,
    "requireUserScope": False,
    "requireChecksumScope": False,
    "requireVersionScope": False,
    "metadata": {},
}


def _create(product_id: str | None, type_: str = "policies", **attributes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type_, "attributes": attributes}
    if product_id is not None:
        data["relationships"] = {"product": ref("products", product_id)}
    return {"data": data}


def _patch(**attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "policies", "attributes": attributes}}


async def _post(
    client: httpx.AsyncClient, account: Tenant, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    return await client.post(f"{account.base}/policies", json=body, headers=bearer(key or account.key))


async def _get(
    client: httpx.AsyncClient, account: Tenant, policy_id: str, key: str | None = None
) -> httpx.Response:
    return await client.get(f"{account.base}/policies/{policy_id}", headers=bearer(key or account.key))


async def _ids(
    client: httpx.AsyncClient, account: Tenant, path: str = "policies", key: str | None = None
) -> list[str]:
    response = await client.get(f"{account.base}/{path}", headers=bearer(key or account.key))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def _pointer(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["source"]["pointer"])


# -- create --------------------------------------------------------------------------------


async def test_create_gives_keygen_defaults_and_links(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    response = await _post(client, acme, _create(product_id, name="Standard"))
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith(JSONAPI)
    data = response.json()["data"]
    policy_id = data["id"]
    uuid.UUID(policy_id)
    base = f"/v1/accounts/{acme.id}"
    own = f"{base}/policies/{policy_id}"
    assert response.headers["location"] == own
    assert data["type"] == "policies"
    assert data["links"] == {"self": own}

    attributes = data["attributes"]
    assert set(attributes) == {"name", "created", "updated", *KEYGEN_DEFAULTS}
    assert attributes["name"] == "Standard"
    for name, value in KEYGEN_DEFAULTS.items():
        assert attributes[name] == value, name
    assert ISO_MS.match(attributes["created"])
    assert ISO_MS.match(attributes["updated"])

    relationships = data["relationships"]
    assert relationships["account"]["data"] == {"type": "accounts", "id": str(acme.id)}
    assert relationships["product"] == {
        "data": {"type": "products", "id": product_id},
        "links": {"related": f"{own}/product"},
    }
    assert relationships["pool"] == {"links": {"related": f"{own}/pool"}}
    assert relationships["licenses"] == {"links": {"related": f"{own}/licenses"}}

    # What the create answered is what a later read sees.
    assert (await _get(client, acme, policy_id)).json()["data"] == data


async def test_create_keeps_every_attribute_sent(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    sent = {
        "name": "Custom",
        "duration": 86400 * 30,
        "strict": True,
        "floating": True,
        "protected": True,
        "maxMachines": 5,
        "maxUses": 100,
        "maxUsers": 3,
        "authenticationStrategy": "LICENSE",
        "expirationStrategy": "REVOKE_ACCESS",
        "expirationBasis": "FROM_FIRST_ACTIVATION",
        "machineUniquenessStrategy": "UNIQUE_PER_PRODUCT",
        "machineMatchingStrategy": "MATCH_ALL",
        "overageStrategy": "ALLOW_2X_OVERAGE",
        "heartbeatCullStrategy": "KEEP_DEAD",
        "heartbeatResurrectionStrategy": "5_MINUTE_REVIVE",
        "requireHeartbeat": True,
        "heartbeatDuration": 600,
        "requireCheckIn": True,
        "checkInInterval": "week",
        "checkInIntervalCount": 2,
        "requireFingerprintScope": True,
        "metadata": {"plan": "pro"},
    }
    response = await _post(client, acme, _create(product_id, type_="policy", **sent))
    assert response.status_code == 201, response.text
    attributes = response.json()["data"]["attributes"]
    for name, value in sent.items():
        assert attributes[name] == value, name
    assert attributes["usePool"] is False


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (_create("P", floating=True), "/data/attributes/name"),
        ({"data": {"type": "policies", "attributes": {"name": "X"}}}, "/data/relationships"),
        (
            {"data": {"type": "policies", "attributes": {"name": "X"}, "relationships": {}}},
            "/data/relationships/product",
        ),
        (_create("P", name="X", colour="red"), "/data/attributes/colour"),
        (_create("P", name="X", strict="very"), "/data/attributes/strict"),
        (_create("P", name="X", maxMachines="many"), "/data/attributes/maxMachines"),
    ],
    ids=[
        "missing-name",
        "missing-relationships",
        "missing-product",
        "unknown-attribute",
        "strict-not-bool",
        "max-machines-not-int",
    ],
)
async def test_malformed_create_is_400_with_a_pointer(
    client: httpx.AsyncClient, acme: Tenant, body: dict[str, Any], pointer: str
) -> None:
    product_id = await factories.product(client, acme)
    relationships = body["data"].get("relationships")
    if relationships and "product" in relationships:
        relationships["product"]["data"]["id"] = product_id
    response = await _post(client, acme, body)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {"pointer": pointer}
    assert await _ids(client, acme) == []


@pytest.mark.parametrize("product_ref", ["missing", "not-a-uuid", "other-account"])
async def test_unknown_product_is_422_product_not_found(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, product_ref: str
) -> None:
    await factories.product(client, acme)
    if product_ref == "missing":
        product_id = str(uuid.uuid4())
    elif product_ref == "other-account":
        product_id = await factories.product(client, await factories.tenant(app, "globex"))
    else:
        product_id = product_ref
    response = await _post(client, acme, _create(product_id, name="Orphan"))
    body = jsonapi_error(response, 422, "PRODUCT_NOT_FOUND")
    assert _pointer(body) == "/data/relationships/product"
    assert await _ids(client, acme) == []


@pytest.mark.parametrize(
    ("attributes", "code", "pointer"),
    [
        ({"duration": 86399}, "DURATION_INVALID", "duration"),
        ({"duration": 0}, "DURATION_INVALID", "duration"),
        ({"expirationStrategy": "SOMETIMES"}, "EXPIRATION_STRATEGY_NOT_ALLOWED", "expirationStrategy"),
        (
            {"authenticationStrategy": "PASSWORD"},
            "AUTHENTICATION_STRATEGY_NOT_ALLOWED",
            "authenticationStrategy",
        ),
        (
            {"machineUniquenessStrategy": "UNIQUE"},
            "MACHINE_UNIQUENESS_STRATEGY_NOT_ALLOWED",
            "machineUniquenessStrategy",
        ),
        (
            {"machineMatchingStrategy": "MATCH_SOME"},
            "MACHINE_MATCHING_STRATEGY_NOT_ALLOWED",
            "machineMatchingStrategy",
        ),
        ({"overageStrategy": "ALLOW_3X_OVERAGE"}, "OVERAGE_STRATEGY_NOT_ALLOWED", "overageStrategy"),
        ({"expirationBasis": "FROM_NEVER"}, "EXPIRATION_BASIS_NOT_ALLOWED", "expirationBasis"),
        ({"heartbeatCullStrategy": "BURY"}, "HEARTBEAT_CULL_STRATEGY_NOT_ALLOWED", "heartbeatCullStrategy"),
        ({"scheme": "ROT13"}, "SCHEME_NOT_ALLOWED", "scheme"),
        ({"maxMachines": 5}, "MAX_MACHINES_INVALID", "maxMachines"),
        ({"floating": False, "maxMachines": 2}, "MAX_MACHINES_INVALID", "maxMachines"),
        ({"scheme": "RSA_2048_PKCS1_SIGN_V2"}, "SCHEME_NOT_SUPPORTED", "scheme"),
        ({"scheme": "ECDSA_P256_SIGN"}, "SCHEME_NOT_SUPPORTED", "scheme"),
        ({"usePool": True, "scheme": "ED25519_SIGN"}, "SCHEME_NOT_SUPPORTED", "scheme"),
        ({"usePool": True, "encrypted": True}, "ENCRYPTED_NOT_SUPPORTED", "encrypted"),
        ({"requireCheckIn": True}, "CHECK_IN_INTERVAL_MISSING", "checkInInterval"),
        (
            {"requireCheckIn": True, "checkInInterval": "DAY"},
            "CHECK_IN_INTERVAL_COUNT_MISSING",
            "checkInIntervalCount",
        ),
    ],
)
async def test_rule_breaking_create_is_422_and_creates_nothing(
    client: httpx.AsyncClient, acme: Tenant, attributes: dict[str, Any], code: str, pointer: str
) -> None:
    product_id = await factories.product(client, acme)
    response = await _post(client, acme, _create(product_id, name="Bad", **attributes))
    body = jsonapi_error(response, 422, code)
    assert _pointer(body) == f"/data/attributes/{pointer}"
    assert await _ids(client, acme) == []


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"duration": 86400}, {"duration": 86400}),
        ({"floating": True, "maxMachines": 5}, {"floating": True, "maxMachines": 5}),
        ({"floating": True}, {"floating": True, "maxMachines": None}),
        ({"maxMachines": 1}, {"floating": False, "maxMachines": 1}),
        ({"usePool": True}, {"usePool": True, "scheme": None}),
        (
            {"requireCheckIn": True, "checkInInterval": "DAY", "checkInIntervalCount": 7},
            {"checkInIntervalCount": 7},
        ),
    ],
    ids=["one-day", "floating-five", "floating-unlimited", "node-locked-one", "pooled", "check-in"],
)
async def test_rule_abiding_create_is_201(
    client: httpx.AsyncClient, acme: Tenant, attributes: dict[str, Any], expected: dict[str, Any]
) -> None:
    product_id = await factories.product(client, acme)
    response = await _post(client, acme, _create(product_id, name="Good", **attributes))
    assert response.status_code == 201, response.text
    got = response.json()["data"]["attributes"]
    assert {name: got[name] for name in expected} == expected


# -- update --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attributes",
    [{"usePool": True}, {"scheme": "ED25519_SIGN"}, {"scheme": None}, {"encrypted": False}],
    ids=["usePool", "scheme", "scheme-null", "encrypted"],
)
async def test_create_only_attributes_cannot_be_patched(
    client: httpx.AsyncClient, acme: Tenant, attributes: dict[str, Any]
) -> None:
    policy_id = await factories.policy(client, acme, name="Fixed")
    before = (await _get(client, acme, policy_id)).json()["data"]
    response = await client.patch(
        f"{acme.base}/policies/{policy_id}",
        json=_patch(name="Renamed", **attributes),
        headers=bearer(acme.key),
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {"pointer": f"/data/attributes/{next(iter(attributes))}"}
    assert (await _get(client, acme, policy_id)).json()["data"] == before


async def test_relationships_cannot_be_patched(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    other = await factories.product(client, acme, name="Other")
    policy_id = await factories.policy(client, acme, product_id)
    body = _patch(name="Moved")
    body["data"]["relationships"] = {"product": ref("products", other)}
    response = await client.patch(f"{acme.base}/policies/{policy_id}", json=body, headers=bearer(acme.key))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {"pointer": "/data/relationships"}
    data = (await _get(client, acme, policy_id)).json()["data"]
    assert data["relationships"]["product"]["data"]["id"] == product_id
    assert data["attributes"]["name"] == "Policy"


async def test_patch_changes_only_what_was_sent(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(
        client,
        acme,
        product_id,
        name="Before",
        duration=86400 * 7,
        floating=True,
        maxMachines=5,
        strict=True,
        usePool=True,
        expirationStrategy="MAINTAIN_ACCESS",
        metadata={"a": 1},
    )
    before = (await _get(client, acme, policy_id)).json()["data"]["attributes"]

    renamed = await client.patch(
        f"{acme.base}/policies/{policy_id}", json=_patch(name="After"), headers=bearer(acme.key)
    )
    assert renamed.status_code == 200, renamed.text
    after = renamed.json()["data"]["attributes"]
    assert after["name"] == "After"
    for name, value in before.items():
        if name not in ("name", "updated"):
            assert after[name] == value, name
    assert after["updated"] >= before["updated"]

    changed = await client.patch(
        f"{acme.base}/policies/{policy_id}",
        json=_patch(maxMachines=10, duration=None, metadata={"b": 2}),
        headers=bearer(acme.key),
    )
    assert changed.status_code == 200, changed.text
    seen = (await _get(client, acme, policy_id)).json()["data"]["attributes"]
    assert seen["maxMachines"] == 10
    assert seen["duration"] is None
    assert seen["metadata"] == {"b": 2}
    assert seen["name"] == "After"
    assert seen["strict"] is True
    assert seen["floating"] is True
    assert seen["usePool"] is True
    assert seen["expirationStrategy"] == "MAINTAIN_ACCESS"


async def test_patch_keeps_the_rules(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, name="Node-locked")
    before = (await _get(client, acme, policy_id)).json()["data"]
    url = f"{acme.base}/policies/{policy_id}"

    for body, code in (
        (_patch(maxMachines=5), "MAX_MACHINES_INVALID"),
        (_patch(duration=3600), "DURATION_INVALID"),
        (_patch(overageStrategy="SOMETIMES"), "OVERAGE_STRATEGY_NOT_ALLOWED"),
        (_patch(requireCheckIn=True), "CHECK_IN_INTERVAL_MISSING"),
        (_patch(name=None), "NAME_MISSING"),
    ):
        jsonapi_error(await client.patch(url, json=body, headers=bearer(acme.key)), 422, code)
    assert (await _get(client, acme, policy_id)).json()["data"] == before

    # Going floating makes a larger machine limit acceptable.
    floating = await client.patch(url, json=_patch(floating=True, maxMachines=5), headers=bearer(acme.key))
    assert floating.status_code == 200, floating.text
    assert floating.json()["data"]["attributes"]["maxMachines"] == 5

    # Back to node-locked only together with the one-machine limit, never silently.
    refused = await client.patch(url, json=_patch(floating=False), headers=bearer(acme.key))
    jsonapi_error(refused, 422, "MAX_MACHINES_INVALID")
    assert (await _get(client, acme, policy_id)).json()["data"]["attributes"]["floating"] is True
    locked = await client.patch(url, json=_patch(floating=False, maxMachines=1), headers=bearer(acme.key))
    assert locked.status_code == 200, locked.text
    assert locked.json()["data"]["attributes"]["maxMachines"] == 1


async def test_delete_is_204_then_the_policy_is_gone(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id)
    kept = await factories.policy(client, acme, product_id)
    deleted = await client.delete(f"{acme.base}/policies/{policy_id}", headers=bearer(acme.key))
    assert deleted.status_code == 204
    assert deleted.content == b""
    jsonapi_error(await _get(client, acme, policy_id), 404, "NOT_FOUND")
    again = await client.delete(f"{acme.base}/policies/{policy_id}", headers=bearer(acme.key))
    jsonapi_error(again, 404, "NOT_FOUND")
    assert await _ids(client, acme) == [kept]
    # The product stays.
    assert (
        await client.get(f"{acme.base}/products/{product_id}", headers=bearer(acme.key))
    ).status_code == 200


async def test_deleting_a_policy_takes_its_pool_and_licenses(client: httpx.AsyncClient, acme: Tenant) -> None:
    pooled = await factories.policy(client, acme, usePool=True)
    await factories.pool_key(client, acme, pooled, "POOL-KEY-00001")
    await factories.pool_key(client, acme, pooled, "POOL-KEY-00002")
    license = await factories.license(client, acme, pooled)
    assert (
        await client.delete(f"{acme.base}/policies/{pooled}", headers=bearer(acme.key))
    ).status_code == 204
    assert await _ids(client, acme, "keys") == []
    jsonapi_error(
        await client.get(f"{acme.base}/licenses/{license['id']}", headers=bearer(acme.key)), 404, "NOT_FOUND"
    )


# -- reading -------------------------------------------------------------------------------


async def test_list_filters_and_relationship_routes(client: httpx.AsyncClient, acme: Tenant) -> None:
    first = await factories.product(client, acme, name="First")
    second = await factories.product(client, acme, name="Second")
    a = await factories.policy(client, acme, first, name="A")
    b = await factories.policy(client, acme, second, name="B")
    c = await factories.policy(client, acme, first, name="C")

    assert await _ids(client, acme) == [c, b, a]
    assert await _ids(client, acme, f"policies?product={first}") == [c, a]
    assert await _ids(client, acme, f"policies?product={second}") == [b]
    assert await _ids(client, acme, f"policies?product={uuid.uuid4()}") == []
    # A product filter that is not an id is a bad value: 400 naming it, not an empty list.
    refused = await client.get(f"{acme.base}/policies?product=not-a-uuid", headers=bearer(acme.key))
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["source"] == {"parameter": "product"}
    assert await _ids(client, acme, f"products/{first}/policies") == [c, a]
    assert await _ids(client, acme, f"products/{second}/policies?order=asc") == [b]
    assert await _ids(client, acme, "policies?order=asc&limit=2") == [a, b]

    product = await client.get(f"{acme.base}/policies/{b}/product", headers=bearer(acme.key))
    assert product.status_code == 200, product.text
    assert product.json()["data"]["type"] == "products"
    assert product.json()["data"]["id"] == second
    assert product.json()["data"]["attributes"]["name"] == "Second"

    jsonapi_error(
        await client.get(f"{acme.base}/products/{uuid.uuid4()}/policies", headers=bearer(acme.key)),
        404,
        "NOT_FOUND",
    )
    jsonapi_error(
        await client.get(f"{acme.base}/policies/{uuid.uuid4()}/product", headers=bearer(acme.key)),
        404,
        "NOT_FOUND",
    )


async def test_policy_list_pages_by_number(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    ids = [await factories.policy(client, acme, product_id, name=f"P{i}") for i in range(7)]
    path = f"{acme.base}/policies"
    response = await client.get(
        f"{path}?product={product_id}&page[number]=2&page[size]=3", headers=bearer(acme.key)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["data"]] == [ids[3], ids[2], ids[1]]
    assert body["links"]["meta"] == {"pages": 3, "count": 7}
    assert body["links"]["next"] == f"{path}?page%5Bnumber%5D=3&page%5Bsize%5D=3&product={product_id}"
    jsonapi_error(
        await client.get(f"{path}?page[size]=101&page[number]=1", headers=bearer(acme.key)),
        400,
        "PARAMETERS_INVALID",
    )


# -- permissions ---------------------------------------------------------------------------


async def test_developer_manages_policies(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    _, key = await factories.role_key(app, client, acme, "developer")
    policy_id = await factories.policy(client, acme, product_id, credential=key)
    patched = await client.patch(
        f"{acme.base}/policies/{policy_id}", json=_patch(name="Dev"), headers=bearer(key)
    )
    assert patched.status_code == 200
    assert (await client.delete(f"{acme.base}/policies/{policy_id}", headers=bearer(key))).status_code == 204
    assert await _ids(client, acme) == []


@pytest.mark.parametrize("role", ["read-only", "support-agent", "sales-agent"])
async def test_other_staff_read_policies_but_cannot_change_them(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str
) -> None:
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id, name="Shelf")
    _, key = await factories.role_key(app, client, acme, role)
    assert await _ids(client, acme, key=key) == [policy_id]
    assert (await _get(client, acme, policy_id, key=key)).status_code == 200
    assert await _ids(client, acme, f"products/{product_id}/policies", key=key) == [policy_id]

    created = await _post(client, acme, _create(product_id, name="New"), key=key)
    assert created.status_code == 403, created.text
    patched = await client.patch(
        f"{acme.base}/policies/{policy_id}", json=_patch(name="Hack"), headers=bearer(key)
    )
    assert patched.status_code == 403
    assert (await client.delete(f"{acme.base}/policies/{policy_id}", headers=bearer(key))).status_code == 403
    assert await _ids(client, acme) == [policy_id]
    assert (await _get(client, acme, policy_id)).json()["data"]["attributes"]["name"] == "Shelf"


async def test_users_see_only_the_policies_of_their_licenses(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme)
    mine = await factories.policy(client, acme, product_id, name="Mine")
    theirs = await factories.policy(client, acme, product_id, name="Theirs")
    await factories.policy(client, acme, product_id, name="Unlicensed")
    user_id, key = await factories.role_key(app, client, acme, "user")
    other_id = await factories.user(app, acme)
    await factories.license(client, acme, mine, owner=user_id)
    await factories.license(client, acme, mine, owner=user_id)
    await factories.license(client, acme, theirs, owner=str(other_id))

    assert await _ids(client, acme, key=key) == [mine]
    assert await _ids(client, acme, f"products/{product_id}/policies", key=key) == [mine]
    assert (await _get(client, acme, mine, key=key)).status_code == 200
    jsonapi_error(await _get(client, acme, theirs, key=key), 404, "NOT_FOUND")
    product = await client.get(f"{acme.base}/policies/{mine}/product", headers=bearer(key))
    assert product.json()["data"]["id"] == product_id

    created = await _post(client, acme, _create(product_id, name="Mine too"), key=key)
    assert created.status_code == 403, created.text
    patched = await client.patch(f"{acme.base}/policies/{mine}", json=_patch(name="X"), headers=bearer(key))
    assert patched.status_code == 403
    assert (await client.delete(f"{acme.base}/policies/{mine}", headers=bearer(key))).status_code == 403
    assert (await client.delete(f"{acme.base}/policies/{theirs}", headers=bearer(key))).status_code == 404
    assert len(await _ids(client, acme)) == 3


async def test_product_token_manages_only_its_own_products_policies(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    mine = await factories.product(client, acme, name="Mine")
    other = await factories.product(client, acme, name="Other")
    own_policy = await factories.policy(client, acme, mine)
    other_policy = await factories.policy(client, acme, other)
    token = await factories.product_token(client, acme, mine)

    assert await _ids(client, acme, key=token) == [own_policy]
    assert await _ids(client, acme, f"policies?product={other}", key=token) == []
    jsonapi_error(await _get(client, acme, other_policy, key=token), 404, "NOT_FOUND")
    listed = await client.get(f"{acme.base}/products/{other}/policies", headers=bearer(token))
    jsonapi_error(listed, 404, "NOT_FOUND")

    created = await _post(client, acme, _create(mine, name="By token"), key=token)
    assert created.status_code == 201, created.text
    new_policy = created.json()["data"]["id"]
    assert created.json()["data"]["relationships"]["product"]["data"]["id"] == mine
    refused = await _post(client, acme, _create(other, name="Not mine"), key=token)
    assert refused.status_code == 403, refused.text
    unknown = await _post(client, acme, _create(str(uuid.uuid4()), name="Nowhere"), key=token)
    assert unknown.status_code == 403, unknown.text

    patched = await client.patch(
        f"{acme.base}/policies/{own_policy}", json=_patch(name="Tuned"), headers=bearer(token)
    )
    assert patched.status_code == 200, patched.text
    hijack = await client.patch(
        f"{acme.base}/policies/{other_policy}", json=_patch(name="X"), headers=bearer(token)
    )
    jsonapi_error(hijack, 404, "NOT_FOUND")
    assert (
        await client.delete(f"{acme.base}/policies/{new_policy}", headers=bearer(token))
    ).status_code == 204
    assert (
        await client.delete(f"{acme.base}/policies/{other_policy}", headers=bearer(token))
    ).status_code == 404
    assert sorted(await _ids(client, acme)) == sorted([own_policy, other_policy])
    assert (await _get(client, acme, other_policy)).json()["data"]["attributes"]["name"] == "Policy"


async def test_policies_are_isolated_between_accounts(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id)
    globex = await factories.tenant(app, "globex")

    jsonapi_error(await _get(client, globex, policy_id), 404, "NOT_FOUND")
    patched = await client.patch(
        f"{globex.base}/policies/{policy_id}", json=_patch(name="X"), headers=bearer(globex.key)
    )
    jsonapi_error(patched, 404, "NOT_FOUND")
    jsonapi_error(
        await client.delete(f"{globex.base}/policies/{policy_id}", headers=bearer(globex.key)),
        404,
        "NOT_FOUND",
    )
    jsonapi_error(
        await client.get(f"{globex.base}/policies/{policy_id}/product", headers=bearer(globex.key)),
        404,
        "NOT_FOUND",
    )
    assert await _ids(client, globex) == []
    assert await _ids(client, globex, f"policies?product={product_id}") == []

    jsonapi_error(await _get(client, globex, policy_id, key=acme.key), 401, "TOKEN_INVALID")
    jsonapi_error(await client.get(f"{globex.base}/policies", headers=bearer(acme.key)), 401, "TOKEN_INVALID")
    assert await _ids(client, acme) == [policy_id]
