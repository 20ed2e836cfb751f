"""Users as licensees (Keygen 1.8's ``license-users``): attaching and detaching users,
``maxUsers`` with the overage strategies and under concurrency, listing a license's users,
and what an attached user may see, on SQLite and PostgreSQL.

Keygen's files: app/controllers/api/v1/licenses/relationships/users_controller.rb,
app/models/license_user.rb, app/policies/licenses/user_policy.rb,
features/api/v1/licenses/relationships/users.feature."""

from __future__ import annotations

import asyncio
import uuid
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


async def _attach(
    client: httpx.AsyncClient, acme: Tenant, license_id: str, *ids: object, key: str | None = None
) -> httpx.Response:
    return await client.post(
        f"{acme.base}/licenses/{license_id}/users", json=_users(*ids), headers=bearer(key or acme.key)
    )


async def _detach(
    client: httpx.AsyncClient, acme: Tenant, license_id: str, *ids: object, key: str | None = None
) -> httpx.Response:
    return await client.request(
        "DELETE",
        f"{acme.base}/licenses/{license_id}/users",
        json=_users(*ids),
        headers=bearer(key or acme.key),
    )


async def _listed(
    client: httpx.AsyncClient, acme: Tenant, license_id: str, key: str | None = None
) -> set[str]:
    response = await client.get(
        f"{acme.base}/licenses/{license_id}/users?limit=100", headers=bearer(key or acme.key)
    )
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["data"]}


async def _people(app: FastAPI, acme: Tenant, count: int) -> list[uuid.UUID]:
    return [await factories.user(app, acme) for _ in range(count)]


async def test_admin_attaches_users(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """users.feature "Admin attaches users to a license": 200 with one ``license-users`` per
    user, each relating the user; one event; "Admin retrieves the users for a license": the
    owner and the attached users."""
    owner, *others = await _people(app, acme, 4)
    license_id = (await factories.license(client, acme, owner=str(owner)))["id"]
    response = await _attach(client, acme, license_id, *others)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [item["type"] for item in data] == ["license-users"] * 3
    assert [item["relationships"]["user"]["data"] for item in data] == [
        {"type": "users", "id": str(user_id)} for user_id in others
    ]
    assert data[0]["relationships"]["user"]["links"]["related"] == f"/v1/accounts/{acme.id}/users/{others[0]}"
    assert data[0]["links"]["related"] == f"/v1/accounts/{acme.id}/licenses/{license_id}/users/{others[0]}"
    assert await _listed(client, acme, license_id) == {str(owner), *map(str, others)}
    one = await client.get(f"{acme.base}/licenses/{license_id}/users/{others[0]!s}", headers=bearer(acme.key))
    assert one.json()["data"]["id"] == str(others[0])
    [event] = await logged(app, client, acme, "license.users.attached")
    assert event["relationships"]["resource"]["data"] == {"type": "licenses", "id": license_id}
    assert event["attributes"]["metadata"]["users"] == [str(user_id) for user_id in others]


async def test_attach_refusals(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """users.feature: the owner is 422 ``USER_CONFLICT`` ("already exists (user is attached
    through owner)"); an attached user ``USER_TAKEN`` ("already exists"); an unknown user
    ``USER_NOT_FOUND`` ("must exist"), all at ``/data/relationships/user``; 0 or 101 users 400
    "length must be between 1 and 100 (inclusive)". Nothing changes."""
    owner, other = await _people(app, acme, 2)
    license_id = (await factories.license(client, acme, owner=str(owner)))["id"]
    assert (await _attach(client, acme, license_id, other)).status_code == 200
    for ids, code, detail in (
        ((owner,), "USER_CONFLICT", "already exists (user is attached through owner)"),
        ((other,), "USER_TAKEN", "already exists"),
        ((uuid.uuid4(),), "USER_NOT_FOUND", "must exist"),
    ):
        error = jsonapi_error(await _attach(client, acme, license_id, *ids), 422, code)["errors"][0]
        assert (error["detail"], error["source"]) == (detail, {"pointer": "/data/relationships/user"})
    sizes: tuple[tuple[uuid.UUID, ...], ...] = ((), tuple(uuid.uuid4() for _ in range(101)))
    for size in sizes:
        error = jsonapi_error(await _attach(client, acme, license_id, *size), 400, "DATA_INVALID")["errors"][
            0
        ]
        assert (error["detail"], error["source"]) == (
            "length must be between 1 and 100 (inclusive)",
            {"pointer": "/data"},
        )
    not_a_uuid = {"data": [{"type": "users", "id": "x"}]}
    url = f"{acme.base}/licenses/{license_id}/users"
    assert (await client.post(url, json=not_a_uuid, headers=bearer(acme.key))).status_code == 400
    assert await _listed(client, acme, license_id) == {str(owner), str(other)}


@pytest.mark.parametrize(
    ("overage", "maximum", "fits"),
    [
        ("NO_OVERAGE", 5, 5),
        ("ALLOW_1_25X_OVERAGE", 4, 5),
        ("ALLOW_1_5X_OVERAGE", 4, 6),
        ("ALLOW_2X_OVERAGE", 5, 10),
    ],
)
async def test_max_users_with_overage(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, overage: str, maximum: int, fits: int
) -> None:
    """users.feature "...with a max users limit (<overage>, within/exceeds limit)": the owner
    counts; past ``maxUsers`` times the overage 422 ``USER_LIMIT_EXCEEDED`` ("user count has
    exceeded maximum allowed for license (N)", pointer ``/data/relationships/users``)."""
    owner, *others = await _people(app, acme, fits + 1)
    policy = {"maxUsers": maximum, "overageStrategy": overage}
    license_id = (await factories.license(client, acme, policy=policy, owner=str(owner)))["id"]
    over = await _attach(client, acme, license_id, *others)
    error = jsonapi_error(over, 422, "USER_LIMIT_EXCEEDED")["errors"][0]
    assert error["detail"] == f"user count has exceeded maximum allowed for license ({maximum})"
    assert error["source"] == {"pointer": "/data/relationships/users"}
    assert error["title"] == "Unprocessable resource"
    assert await _listed(client, acme, license_id) == {str(owner)}
    assert (await _attach(client, acme, license_id, *others[:-1])).status_code == 200
    assert len(await _listed(client, acme, license_id)) == fits


async def test_always_allow_overage_has_no_bound(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    people = await _people(app, acme, 4)
    policy = {"maxUsers": 1, "overageStrategy": "ALWAYS_ALLOW_OVERAGE"}
    license_id = (await factories.license(client, acme, policy=policy))["id"]
    assert (await _attach(client, acme, license_id, *people)).status_code == 200


async def test_concurrent_attaches_never_exceed_max_users(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Limits hold under concurrency: of many simultaneous single attaches, exactly
    ``maxUsers`` succeed."""
    people = await _people(app, acme, 12)
    license_id = (await factories.license(client, acme, policy={"maxUsers": 4}))["id"]
    responses = await asyncio.gather(*(_attach(client, acme, license_id, person) for person in people))
    assert sorted(response.status_code for response in responses) == [200] * 4 + [422] * 8
    assert len(await _listed(client, acme, license_id)) == 4


async def test_detach(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """users_controller.rb ``detach``: 204; the owner is 403 ("cannot detach user '<id>' (user
    is attached through owner)", pointer ``/data/<index>``); a user not attached 422
    ("...(user is not attached)"); one event."""
    owner, first, second, stranger = await _people(app, acme, 4)
    license_id = (await factories.license(client, acme, owner=str(owner)))["id"]
    assert (await _attach(client, acme, license_id, first, second)).status_code == 200
    denied = await _detach(client, acme, license_id, first, owner)
    assert denied.status_code == 403
    assert (
        denied.json()["errors"][0]["detail"]
        == f"cannot detach user '{owner}' (user is attached through owner)"
    )
    assert denied.json()["errors"][0]["source"] == {"pointer": "/data/1"}
    missing = jsonapi_error(await _detach(client, acme, license_id, stranger), 422, "USER_NOT_ATTACHED")
    assert missing["errors"][0]["detail"] == f"cannot detach user '{stranger}' (user is not attached)"
    assert missing["errors"][0]["source"] == {"pointer": "/data/0"}
    done = await _detach(client, acme, license_id, first)
    assert done.status_code == 204
    assert await _listed(client, acme, license_id) == {str(owner), str(second)}
    [event] = await logged(app, client, acme, "license.users.detached")
    assert event["attributes"]["metadata"]["users"] == [str(first)]


async def test_who_may(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """user_policy.rb: staff attach; the owner of an unprotected license attaches, of a
    protected one may not (403); a licensee sees the license and its users but may not
    attach; a license key may not list its users ("License retrieves their users (without
    permission)": 403); a stranger does not see the license (404)."""
    owner_id, owner_key = await factories.role_key(app, client, acme, "user")
    licensee_id, licensee_key = await factories.role_key(app, client, acme, "user")
    _, stranger_key = await factories.role_key(app, client, acme, "user")
    extra = await factories.user(app, acme)
    policy = {"authenticationStrategy": "MIXED"}
    license = await factories.license(client, acme, policy=policy, owner=owner_id)
    license_id = license["id"]
    assert (await _attach(client, acme, license_id, licensee_id, key=owner_key)).status_code == 200
    assert await _listed(client, acme, license_id, licensee_key) == {owner_id, licensee_id}
    seen = await client.get(f"{acme.base}/licenses/{license_id}", headers=bearer(licensee_key))
    assert seen.status_code == 200
    listed = await client.get(f"{acme.base}/licenses", headers=bearer(licensee_key))
    assert [item["id"] for item in listed.json()["data"]] == [license_id]
    assert (await _attach(client, acme, license_id, extra, key=licensee_key)).status_code == 403
    assert (await _detach(client, acme, license_id, licensee_id, key=licensee_key)).status_code == 403
    jsonapi_error(
        await client.get(f"{acme.base}/licenses/{license_id}/users", headers=bearer(stranger_key)),
        404,
        "NOT_FOUND",
    )
    as_license = {"Authorization": f"License {license['attributes']['key']}"}
    assert (
        await client.get(f"{acme.base}/licenses/{license_id}/users", headers=as_license)
    ).status_code == 403

    guarded = (await factories.license(client, acme, policy={"protected": True}, owner=owner_id))["id"]
    assert (await _attach(client, acme, guarded, extra, key=owner_key)).status_code == 403
    _, support_key = await factories.role_key(app, client, acme, "support-agent")
    assert (await _attach(client, acme, guarded, extra, key=support_key)).status_code == 200
    _, read_key = await factories.role_key(app, client, acme, "read-only")
    assert (await _detach(client, acme, guarded, extra, key=read_key)).status_code == 403
    assert await _listed(client, acme, guarded) == {owner_id, str(extra)}


async def test_every_read_of_a_license_shows_its_users(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """The users count (the licensees and the owner) is the same in every answer that shows a
    license: read, listed, validated (by id, by key, as the license itself) and reached from
    its machine; reads that authenticate by the license's key first load it without it."""
    owner, *licensees = await _people(app, acme, 3)
    policy = {"authenticationStrategy": "LICENSE"}
    license = await factories.license(client, acme, policy=policy, owner=owner)
    license_id, key = license["id"], license["attributes"]["key"]
    assert license["relationships"]["users"]["meta"]["count"] == 1
    assert (await _attach(client, acme, license_id, *licensees)).status_code == 200
    machine = await factories.machine(client, acme, license_id)
    as_license = {"Authorization": f"License {key}"}
    validate = f"{acme.base}/licenses/{license_id}/actions/validate"
    answers = [
        await client.get(f"{acme.base}/licenses/{license_id}", headers=bearer(acme.key)),
        await client.get(f"{acme.base}/licenses/{license_id}", headers=as_license),
        await client.post(validate, json={}, headers=bearer(acme.key)),
        await client.post(validate, json={}, headers=as_license),
        await client.post(f"{acme.base}/licenses/actions/validate-key", json={"meta": {"key": key}}),
        await client.get(f"{acme.base}/machines/{machine['id']}/license", headers=bearer(acme.key)),
        await client.get(f"{acme.base}/machines/{machine['id']}/license", headers=as_license),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["relationships"]["users"]["meta"]["count"] == 3, answer.request.url
    listed = await client.get(f"{acme.base}/licenses", headers=bearer(acme.key))
    assert [item["relationships"]["users"]["meta"]["count"] for item in listed.json()["data"]] == [3]
