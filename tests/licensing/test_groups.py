"""Groups: CRUD, who may, licenses, machines and users joining one, and the group limits,
under concurrency too (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer

FLOATING = {"floating": True, "maxMachines": 100}


async def _group(
    client: httpx.AsyncClient, acme: Tenant, key: str | None = None, **attributes: Any
) -> httpx.Response:
    body = {"data": {"type": "groups", "attributes": {"name": "ACME Corp", **attributes}}}
    return await client.post(f"{acme.base}/groups", json=body, headers=bearer(key or acme.key))


async def _group_id(client: httpx.AsyncClient, acme: Tenant, **attributes: Any) -> str:
    response = await _group(client, acme, **attributes)
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def _join(group_id: str | None) -> dict[str, Any]:
    return {"data": None if group_id is None else {"type": "groups", "id": group_id}}


def _with_group(body: dict[str, Any], group_id: str) -> dict[str, Any]:
    body["data"]["relationships"]["group"] = _join(group_id)
    return body


async def test_group_crud(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (app/serializers/group_serializer.rb; features/api/v1/groups/*.feature): name,
    maxUsers, maxLicenses, maxMachines, metadata; 201 on create, PATCH changes what is sent,
    DELETE 204 leaves the members without a group."""
    created = await _group(client, acme, maxLicenses=2, metadata={"tier": "gold"})
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["type"] == "groups"
    assert {
        k: data["attributes"][k] for k in ("name", "maxUsers", "maxLicenses", "maxMachines", "metadata")
    } == {
        "name": "ACME Corp",
        "maxUsers": None,
        "maxLicenses": 2,
        "maxMachines": None,
        "metadata": {"tier": "gold"},
    }
    assert set(data["relationships"]) == {"account", "owners", "users", "licenses", "machines"}
    url = f"{acme.base}/groups/{data['id']}"
    patched = await client.patch(
        url, json={"data": {"type": "groups", "attributes": {"maxMachines": 3}}}, headers=bearer(acme.key)
    )
    assert patched.status_code == 200, patched.text
    assert (
        patched.json()["data"]["attributes"]["maxMachines"],
        patched.json()["data"]["attributes"]["maxLicenses"],
    ) == (3, 2)
    listed = await client.get(f"{acme.base}/groups", headers=bearer(acme.key))
    assert [g["id"] for g in listed.json()["data"]] == [data["id"]]
    license = await factories.license(client, acme)
    moved = await client.put(
        f"{acme.base}/licenses/{license['id']}/group", json=_join(data["id"]), headers=bearer(acme.key)
    )
    assert moved.status_code == 200
    assert (await client.delete(url, headers=bearer(acme.key))).status_code == 204
    jsonapi_error(await client.get(url, headers=bearer(acme.key)), 404, "NOT_FOUND")
    shown = await client.get(f"{acme.base}/licenses/{license['id']}", headers=bearer(acme.key))
    assert shown.json()["data"]["relationships"]["group"]["data"] is None
    jsonapi_error(
        await client.get(f"{acme.base}/licenses/{license['id']}/group", headers=bearer(acme.key)),
        404,
        "NOT_FOUND",
    )


async def test_bad_group_input(client: httpx.AsyncClient, acme: Tenant) -> None:
    """A group needs a name (400 when missing); a negative limit is refused; nothing is made."""
    missing = await client.post(
        f"{acme.base}/groups", json={"data": {"type": "groups", "attributes": {}}}, headers=bearer(acme.key)
    )
    assert missing.status_code in (400, 422), missing.text
    negative = await _group(client, acme, maxLicenses=-1)
    assert negative.status_code == 422, negative.text
    assert (await client.get(f"{acme.base}/groups", headers=bearer(acme.key))).json()["data"] == []


async def test_who_may_write_and_read_groups(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (app/policies/group_policy.rb): admins, developers and products create, update
    and delete; every staff role and products read all; a user sees only their own group."""
    for role, status in (
        ("developer", 201),
        ("sales-agent", 403),
        ("support-agent", 403),
        ("read-only", 403),
    ):
        _, key = await factories.role_key(app, client, acme, role)
        assert (await _group(client, acme, key)).status_code == status, role
        assert (await client.get(f"{acme.base}/groups", headers=bearer(key))).status_code == 200
    product = await factories.product(client, acme)
    assert (
        await _group(client, acme, await factories.product_token(client, acme, product))
    ).status_code == 201
    user_id, user_key = await factories.role_key(app, client, acme, "user")
    jsonapi_error(await _group(client, acme, user_key), 403, "ACCESS_DENIED")
    assert (await client.get(f"{acme.base}/groups", headers=bearer(user_key))).json()["data"] == []
    mine = await _group_id(client, acme)
    put = await client.put(f"{acme.base}/users/{user_id}/group", json=_join(mine), headers=bearer(acme.key))
    assert put.status_code == 200, put.text
    assert put.json()["data"]["relationships"]["group"]["data"] == {"type": "groups", "id": mine}
    seen = await client.get(f"{acme.base}/groups", headers=bearer(user_key))
    assert [g["id"] for g in seen.json()["data"]] == [mine]
    own = await client.get(f"{acme.base}/users/{user_id}/group", headers=bearer(user_key))
    assert own.json()["data"]["id"] == mine


async def test_license_joins_and_leaves_a_group(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (features/api/v1/licenses/relationships/group.feature): PUT .../group answers
    the license with its ``group`` linkage; ``data: null`` removes it; an unknown group is
    422 ``GROUP_NOT_FOUND`` "must exist" on ``/data/relationships/group``."""
    group_id = await _group_id(client, acme)
    license = await factories.license(client, acme)
    url = f"{acme.base}/licenses/{license['id']}/group"
    moved = await client.put(url, json=_join(group_id), headers=bearer(acme.key))
    assert moved.status_code == 200, moved.text
    group = moved.json()["data"]["relationships"]["group"]
    assert group["data"] == {"type": "groups", "id": group_id}
    assert group["links"]["related"].endswith(f"/licenses/{license['id']}/group")
    assert (await client.get(url, headers=bearer(acme.key))).json()["data"]["id"] == group_id
    unknown = await client.put(
        url, json=_join("0193b1e2-0000-7000-8000-00000000dead"), headers=bearer(acme.key)
    )
    error = jsonapi_error(unknown, 422, "GROUP_NOT_FOUND")["errors"][0]
    assert (error["detail"], error["source"]) == ("must exist", {"pointer": "/data/relationships/group"})
    left = await client.put(url, json=_join(None), headers=bearer(acme.key))
    assert left.json()["data"]["relationships"]["group"]["data"] is None


async def test_license_create_with_group_and_its_limit(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen (features/api/v1/licenses/create.feature, "...grouped license ... limit
    exceeded"): 422 ``GROUP_LICENSE_LIMIT_EXCEEDED`` "license count has exceeded maximum
    allowed by current group (1)" on ``/data/relationships/group``; a license without a
    group joins its owner's (app/models/license.rb), within the same limit."""
    group_id = await _group_id(client, acme, maxLicenses=1)
    policy_id = await factories.policy(client, acme)
    body = factories.document("licenses", {}, policy=policy_id)
    first = await client.post(
        f"{acme.base}/licenses", json=_with_group(body, group_id), headers=bearer(acme.key)
    )
    assert first.status_code == 201, first.text
    assert first.json()["data"]["relationships"]["group"]["data"]["id"] == group_id
    over = await client.post(
        f"{acme.base}/licenses", json=_with_group(body, group_id), headers=bearer(acme.key)
    )
    error = jsonapi_error(over, 422, "GROUP_LICENSE_LIMIT_EXCEEDED")["errors"][0]
    assert error["detail"] == "license count has exceeded maximum allowed by current group (1)"
    assert error["source"] == {"pointer": "/data/relationships/group"}
    # Inherited from the owner.
    roomy = await _group_id(client, acme, maxLicenses=5)
    user_id, user_key = await factories.role_key(app, client, acme, "user")
    await client.put(f"{acme.base}/users/{user_id}/group", json=_join(roomy), headers=bearer(acme.key))
    owned = await factories.license(client, acme, policy_id, owner=user_id)
    assert owned["relationships"]["group"]["data"]["id"] == roomy
    # End customers may not name a group.
    open_policy = await factories.policy(client, acme)
    theirs = factories.document("licenses", {}, policy=open_policy, owner=user_id)
    refused = await client.post(
        f"{acme.base}/licenses", json=_with_group(theirs, roomy), headers=bearer(user_key)
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["source"] == {"pointer": "/data/relationships/group"}


async def test_machine_joins_its_license_group_within_limit(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (app/models/machine.rb): a machine joins its license's group; past the group's
    maxMachines 422 ``GROUP_MACHINE_LIMIT_EXCEEDED``; PUT /machines/{id}/group moves it."""
    group_id = await _group_id(client, acme, maxMachines=1)
    license = await factories.license(client, acme, policy=FLOATING)
    await client.put(
        f"{acme.base}/licenses/{license['id']}/group", json=_join(group_id), headers=bearer(acme.key)
    )
    machine = await factories.machine(client, acme, license["id"], "one")
    assert machine["relationships"]["group"]["data"]["id"] == group_id
    over = await factories.activate(client, acme, license["id"], "two")
    error = jsonapi_error(over, 422, "GROUP_MACHINE_LIMIT_EXCEEDED")["errors"][0]
    assert error["detail"] == "machine count has exceeded maximum allowed by current group (1)"
    other = await _group_id(client, acme)
    moved = await client.put(
        f"{acme.base}/machines/{machine['id']}/group", json=_join(other), headers=bearer(acme.key)
    )
    assert moved.status_code == 200
    assert moved.json()["data"]["relationships"]["group"]["data"]["id"] == other
    assert (await factories.activate(client, acme, license["id"], "two")).status_code == 201


async def test_user_group_limit(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (app/models/user.rb): 422 ``GROUP_USER_LIMIT_EXCEEDED`` past maxUsers."""
    group_id = await _group_id(client, acme, maxUsers=1)
    first = await factories.user(app, acme)
    second = await factories.user(app, acme)
    ok = await client.put(f"{acme.base}/users/{first}/group", json=_join(group_id), headers=bearer(acme.key))
    assert ok.status_code == 200
    # Putting a member into the group it is in changes nothing and counts nothing.
    again = await client.put(
        f"{acme.base}/users/{first}/group", json=_join(group_id), headers=bearer(acme.key)
    )
    assert again.status_code == 200
    full = await client.put(
        f"{acme.base}/users/{second}/group", json=_join(group_id), headers=bearer(acme.key)
    )
    error = jsonapi_error(full, 422, "GROUP_USER_LIMIT_EXCEEDED")["errors"][0]
    assert error["detail"] == "user count has exceeded maximum allowed by current group (1)"


@pytest.mark.parametrize("maximum", [1, 4])
async def test_concurrent_joins_stop_at_the_limit(
    client: httpx.AsyncClient, acme: Tenant, maximum: int
) -> None:
    """Exactly ``maxLicenses`` of many concurrent creations naming the group get in."""
    group_id = await _group_id(client, acme, maxLicenses=maximum)
    policy_id = await factories.policy(client, acme)
    body = _with_group(factories.document("licenses", {}, policy=policy_id), group_id)
    responses = await asyncio.gather(
        *(client.post(f"{acme.base}/licenses", json=body, headers=bearer(acme.key)) for _ in range(12))
    )
    assert sorted(r.status_code for r in responses) == [201] * maximum + [422] * (12 - maximum)
    for response in responses:
        if response.status_code == 422:
            jsonapi_error(response, 422, "GROUP_LICENSE_LIMIT_EXCEEDED")


async def test_concurrent_machine_joins_across_licenses(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Machines of several licenses in one group: exactly ``maxMachines`` of concurrent
    activations get in."""
    group_id = await _group_id(client, acme, maxMachines=3)
    licenses = [await factories.license(client, acme, policy=FLOATING) for _ in range(4)]
    for license in licenses:
        await client.put(
            f"{acme.base}/licenses/{license['id']}/group", json=_join(group_id), headers=bearer(acme.key)
        )
    responses = await asyncio.gather(
        *(factories.activate(client, acme, license["id"]) for license in licenses for _ in range(3))
    )
    assert sorted(r.status_code for r in responses) == [201] * 3 + [422] * 9


async def test_group_members_are_listed(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (app/controllers/api/v1/groups/relationships/*_controller.rb): a group's
    licenses, machines and users, newest first; a product token sees its product's; an end
    customer may not list them."""
    group_id = await _group_id(client, acme)
    product = await factories.product(client, acme)
    mine = await factories.license(
        client, acme, await factories.policy(client, acme, product, floating=True, maxMachines=100)
    )
    other = await factories.license(client, acme, policy=FLOATING)
    outside = await factories.license(client, acme)
    for license in (mine, other):
        await client.put(
            f"{acme.base}/licenses/{license['id']}/group", json=_join(group_id), headers=bearer(acme.key)
        )
    machine = await factories.machine(client, acme, mine["id"])
    user_id, user_key = await factories.role_key(app, client, acme, "user")
    await client.put(f"{acme.base}/users/{user_id}/group", json=_join(group_id), headers=bearer(acme.key))
    url = f"{acme.base}/groups/{group_id}"
    listed = await client.get(f"{url}/licenses", headers=bearer(acme.key))
    assert [item["id"] for item in listed.json()["data"]] == [other["id"], mine["id"]]
    assert outside["id"] not in [item["id"] for item in listed.json()["data"]]
    assert [
        m["id"] for m in (await client.get(f"{url}/machines", headers=bearer(acme.key))).json()["data"]
    ] == [machine["id"]]
    assert [u["id"] for u in (await client.get(f"{url}/users", headers=bearer(acme.key))).json()["data"]] == [
        user_id
    ]
    token = await factories.product_token(client, acme, product)
    theirs = await client.get(f"{url}/licenses", headers=bearer(token))
    assert [item["id"] for item in theirs.json()["data"]] == [mine["id"]]
    jsonapi_error(await client.get(f"{url}/licenses", headers=bearer(user_key)), 403, "ACCESS_DENIED")
