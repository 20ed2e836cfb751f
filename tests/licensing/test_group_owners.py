"""A group's owners and the ``group`` list filter, on SQLite and PostgreSQL.

Keygen's files: app/controllers/api/v1/groups/relationships/group_owners_controller.rb,
app/policies/groups/group_owner_policy.rb, app/models/group_owner.rb,
app/serializers/group_owner_serializer.rb, app/policies/group_policy.rb (``bearer.group_ids``),
app/policies/groups/{license,machine,user}_policy.rb (``for_group_owner``),
features/api/v1/groups/relationships/owners.feature; the ``group`` filter:
``has_scope(:group)`` in app/controllers/api/v1/{licenses,machines,users}_controller.rb."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.events.support import logged
from tests.factories import Tenant, bearer


def _users(*ids: object) -> dict[str, Any]:
    return {"data": [{"type": "users", "id": str(user_id)} for user_id in ids]}


async def _group_id(client: httpx.AsyncClient, acme: Tenant) -> str:
    body = {"data": {"type": "groups", "attributes": {"name": "ACME Corp"}}}
    response = await client.post(f"{acme.base}/groups", json=body, headers=bearer(acme.key))
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def _attach(
    client: httpx.AsyncClient, acme: Tenant, group_id: str, *ids: object, key: str | None = None
) -> httpx.Response:
    return await client.post(
        f"{acme.base}/groups/{group_id}/owners", json=_users(*ids), headers=bearer(key or acme.key)
    )


async def _detach(
    client: httpx.AsyncClient, acme: Tenant, group_id: str, *ids: object, key: str | None = None
) -> httpx.Response:
    return await client.request(
        "DELETE", f"{acme.base}/groups/{group_id}/owners", json=_users(*ids), headers=bearer(key or acme.key)
    )


async def _owner_ids(
    client: httpx.AsyncClient, acme: Tenant, group_id: str, key: str | None = None
) -> list[str]:
    response = await client.get(f"{acme.base}/groups/{group_id}/owners", headers=bearer(key or acme.key))
    assert response.status_code == 200, response.text
    return [item["relationships"]["user"]["data"]["id"] for item in response.json()["data"]]


async def _join(client: httpx.AsyncClient, acme: Tenant, path: str, group_id: str) -> None:
    body = {"data": {"type": "groups", "id": group_id}}
    response = await client.put(f"{acme.base}/{path}/group", json=body, headers=bearer(acme.key))
    assert response.status_code == 200, response.text


async def test_admin_attaches_lists_and_detaches_owners(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """owners.feature "Admin attaches owners to a group": 200 with one ``group-owners`` per
    user; "Admin retrieves the owners of a group" and "... an owner of a group"; "Admin
    detaches owners from a group": 204. The group links to its owners; one event each."""
    group_id = await _group_id(client, acme)
    first, second = await factories.user(app, acme), await factories.user(app, acme)
    response = await _attach(client, acme, group_id, first, second)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [item["type"] for item in data] == ["group-owners", "group-owners"]
    assert [item["relationships"]["user"]["data"] for item in data] == [
        {"type": "users", "id": str(first)},
        {"type": "users", "id": str(second)},
    ]
    assert data[0]["relationships"]["group"]["data"] == {"type": "groups", "id": group_id}
    assert data[0]["links"]["self"] == f"/v1/accounts/{acme.id}/groups/{group_id}/owners/{data[0]['id']}"
    assert sorted(await _owner_ids(client, acme, group_id)) == sorted([str(first), str(second)])
    one = await client.get(f"{acme.base}/groups/{group_id}/owners/{data[1]['id']}", headers=bearer(acme.key))
    assert one.json()["data"]["relationships"]["user"]["data"]["id"] == str(second)
    missing = await client.get(f"{acme.base}/groups/{group_id}/owners/{first}", headers=bearer(acme.key))
    jsonapi_error(missing, 404, "NOT_FOUND")
    group = await client.get(f"{acme.base}/groups/{group_id}", headers=bearer(acme.key))
    assert group.json()["data"]["relationships"]["owners"]["links"]["related"] == (
        f"/v1/accounts/{acme.id}/groups/{group_id}/owners"
    )
    [attached] = await logged(app, client, acme, "group.owners.attached")
    assert attached["attributes"]["metadata"]["users"] == [str(first), str(second)]

    assert (await _detach(client, acme, group_id, first)).status_code == 204
    assert await _owner_ids(client, acme, group_id) == [str(second)]
    [detached] = await logged(app, client, acme, "group.owners.detached")
    assert detached["relationships"]["resource"]["data"] == {"type": "groups", "id": group_id}


async def test_owner_refusals(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """owners.feature: an owner already is 422 ``USER_TAKEN`` ("already exists"), an unknown
    user ``USER_NOT_FOUND`` ("must exist"), both at ``/data/relationships/user``; detaching a
    user who is not an owner is 422 "owner relationship for user '<id>' not found" at
    ``/data/<index>``. Nothing changes."""
    group_id = await _group_id(client, acme)
    owner, stranger = await factories.user(app, acme), await factories.user(app, acme)
    assert (await _attach(client, acme, group_id, owner)).status_code == 200
    taken = jsonapi_error(await _attach(client, acme, group_id, owner), 422, "USER_TAKEN")["errors"][0]
    assert (taken["detail"], taken["source"]) == ("already exists", {"pointer": "/data/relationships/user"})
    other_account = await factories.tenant(app, "elsewhere")
    foreign = await factories.user(app, other_account)
    unknown = jsonapi_error(await _attach(client, acme, group_id, foreign), 422, "USER_NOT_FOUND")["errors"][
        0
    ]
    assert (unknown["detail"], unknown["source"]) == ("must exist", {"pointer": "/data/relationships/user"})
    refused = await _detach(client, acme, group_id, owner, stranger)
    error = jsonapi_error(refused, 422, "USER_NOT_ATTACHED")["errors"][0]
    assert (error["detail"], error["source"]) == (
        f"owner relationship for user '{stranger}' not found",
        {"pointer": "/data/1"},
    )
    assert await _owner_ids(client, acme, group_id) == [str(owner)]
    assert (await _attach(client, acme, group_id)).status_code == 400


@pytest.mark.parametrize(("role", "status"), [("developer", 200), ("sales-agent", 403), ("read-only", 403)])
async def test_staff_who_may_attach(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str, status: int
) -> None:
    """group_owner_policy.rb ``attach?``/``detach?``: admins, developers and products; every
    other staff role reads the owners but may not change them."""
    group_id = await _group_id(client, acme)
    _, key = await factories.role_key(app, client, acme, role)
    user = await factories.user(app, acme)
    assert (await _attach(client, acme, group_id, user, key=key)).status_code == status
    assert (await _detach(client, acme, group_id, user, key=key)).status_code == (
        204 if status == 200 else 403
    )
    assert await _owner_ids(client, acme, group_id, key) == []


async def test_users_licenses_and_products(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """owners.feature: "User attempts to retrieve the owners of a group (is owner / is member
    / is not member)": 200, 200, 404; users and licenses may not attach (403 when they see
    the group, 404 otherwise); "License ... (is member)" 200; "Product attaches owners" 200.
    group_policy.rb: an owner sees the group; groups/*_policy.rb: an owner lists its members."""
    group_id = await _group_id(client, acme)
    owner_id, owner_key = await factories.role_key(app, client, acme, "user")
    member_id, member_key = await factories.role_key(app, client, acme, "user")
    _, stranger_key = await factories.role_key(app, client, acme, "user")
    assert (await _attach(client, acme, group_id, owner_id)).status_code == 200
    await _join(client, acme, f"users/{member_id}", group_id)
    policy = {"authenticationStrategy": "MIXED", "floating": True, "maxMachines": 5}
    member = await factories.license(client, acme, policy=policy)
    await _join(client, acme, f"licenses/{member['id']}", group_id)
    machine = await factories.machine(client, acme, member["id"])
    await _join(client, acme, f"machines/{machine['id']}", group_id)
    outsider = await factories.license(client, acme, policy=policy)

    assert await _owner_ids(client, acme, group_id, owner_key) == [owner_id]
    assert await _owner_ids(client, acme, group_id, member_key) == [owner_id]
    url = f"{acme.base}/groups/{group_id}/owners"
    jsonapi_error(await client.get(url, headers=bearer(stranger_key)), 404, "NOT_FOUND")
    as_member = {"Authorization": f"License {member['attributes']['key']}"}
    assert (await client.get(url, headers=as_member)).status_code == 200
    as_outsider = {"Authorization": f"License {outsider['attributes']['key']}"}
    jsonapi_error(await client.get(url, headers=as_outsider), 404, "NOT_FOUND")

    jsonapi_error(await _attach(client, acme, group_id, member_id, key=owner_key), 403, "ACCESS_DENIED")
    jsonapi_error(await _attach(client, acme, group_id, member_id, key=stranger_key), 404, "NOT_FOUND")
    jsonapi_error(await client.post(url, json=_users(member_id), headers=as_member), 403, "ACCESS_DENIED")

    groups = await client.get(f"{acme.base}/groups", headers=bearer(owner_key))
    assert [item["id"] for item in groups.json()["data"]] == [group_id]
    for kind, expected in (("licenses", member["id"]), ("machines", machine["id"]), ("users", member_id)):
        listed = await client.get(f"{acme.base}/groups/{group_id}/{kind}", headers=bearer(owner_key))
        assert [item["id"] for item in listed.json()["data"]] == [expected], kind
        denied = await client.get(f"{acme.base}/groups/{group_id}/{kind}", headers=bearer(member_key))
        jsonapi_error(denied, 403, "ACCESS_DENIED")

    product = member["relationships"]["product"]["data"]["id"]
    token = await factories.product_token(client, acme, product)
    assert (await _attach(client, acme, group_id, member_id, key=token)).status_code == 200


async def test_group_filter(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """``?group=<id>`` on /licenses, /machines and /users (Keygen's ``for_group``: ``where(group:
    id)``) lists the group's members only; a group with none lists none."""
    group_id, empty_id = await _group_id(client, acme), await _group_id(client, acme)
    policy = {"floating": True, "maxMachines": 5}
    inside = await factories.license(client, acme, policy=policy)
    outside = await factories.license(client, acme, policy=policy)
    await _join(client, acme, f"licenses/{inside['id']}", group_id)
    joined = await factories.machine(client, acme, inside["id"])
    await _join(client, acme, f"machines/{joined['id']}", group_id)
    await factories.machine(client, acme, outside["id"])
    member, _ = await factories.user(app, acme), await factories.user(app, acme)
    await _join(client, acme, f"users/{member}", group_id)
    for path, expected in (("licenses", inside["id"]), ("machines", joined["id"]), ("users", str(member))):
        for group, ids in ((group_id, [expected]), (empty_id, [])):
            response = await client.get(
                f"{acme.base}/{path}", params={"group": group}, headers=bearer(acme.key)
            )
            assert response.status_code == 200, response.text
            assert [item["id"] for item in response.json()["data"]] == ids, (path, group)
        everyone = await client.get(f"{acme.base}/{path}", headers=bearer(acme.key))
        assert len(everyone.json()["data"]) > 1
        bad = await client.get(f"{acme.base}/{path}", params={"group": "g"}, headers=bearer(acme.key))
        assert jsonapi_error(bad, 400, "PARAMETERS_INVALID")["errors"][0]["source"] == {"parameter": "group"}
