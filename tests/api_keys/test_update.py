"""PUT and PATCH /api-keys/{id}: only the fields sent change, and status takes effect at once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from tests import factories
from tests.api_keys.helpers import (
    CURRENT,
    PREVIOUS,
    Json,
    assert_error,
    fetch,
    key_url,
    keys_url,
    parse_time,
    update,
)
from tests.factories import Tenant, bearer

METHODS = pytest.mark.parametrize("method", ["PUT", "PATCH"])


async def _send(
    client: httpx.AsyncClient, acme: Tenant, method: str, key_id: object, body: object, key: str | None = None
) -> httpx.Response:
    return await client.request(method, key_url(acme, key_id), json=body, headers=bearer(key or acme.key))


def _unchanged_except(before: Json, after: Json, *fields: str) -> None:
    skip = {"updatedAt", *fields}
    assert {k: v for k, v in after.items() if k not in skip} == {
        k: v for k, v in before.items() if k not in skip
    }


_FIELD_CHANGES = [
    ("name", {"name": "renamed"}, "name", "renamed"),
    ("name-null", {"name": None}, "name", None),
    ("description", {"description": "new words"}, "description", "new words"),
    ("description-null", {"description": None}, "description", None),
    ("scopes", {"scopes": ["READ", "UPDATE"]}, "scopes", ["READ", "UPDATE"]),
    ("scopes-string", {"scopes": "DELETE,READ"}, "scopes", ["READ", "DELETE"]),
    ("ips", {"whitelistedIPs": ["198.51.100.0/24"]}, "whitelistedIPs", ["198.51.100.0/24"]),
    ("ips-null", {"whitelistedIPs": None}, "whitelistedIPs", None),
    ("ips-empty", {"whitelistedIPs": []}, "whitelistedIPs", None),
    ("status", {"status": "inactive"}, "status", "inactive"),
]
# PATCH tries every field; PUT (the same rules, seed 003's verb) a representative few.
_PUT_CASES = {"name", "description-null", "ips", "status"}


@pytest.mark.parametrize(
    ("method", "body", "field", "value"),
    [
        pytest.param("PATCH", body, field, value, id=f"PATCH-{name}")
        for name, body, field, value in _FIELD_CHANGES
    ]
    + [
        pytest.param("PUT", body, field, value, id=f"PUT-{name}")
        for name, body, field, value in _FIELD_CHANGES
        if name in _PUT_CASES
    ],
)
async def test_only_the_sent_field_changes(
    client: httpx.AsyncClient, acme: Tenant, method: str, body: Json, field: str, value: object
) -> None:
    created = await factories.api_key(
        client,
        acme,
        name="original",
        description="original words",
        scopes=["READ", "CREATE"],
        whitelistedIPs=["203.0.113.0/24"],
    )
    before = await fetch(client, acme, created["id"])
    clock.advance(timedelta(minutes=5))

    response = await _send(client, acme, method, created["id"], body)

    assert response.status_code == 200, response.text
    assert response.json()[field] == value
    _unchanged_except(before, response.json(), field)
    stored = await fetch(client, acme, created["id"])
    assert stored == response.json()
    assert parse_time(stored["updatedAt"]) >= parse_time(before["updatedAt"]) + timedelta(minutes=5)


@METHODS
async def test_several_fields_change_together(client: httpx.AsyncClient, acme: Tenant, method: str) -> None:
    created = await factories.api_key(client, acme, name="original")

    response = await _send(
        client, acme, method, created["id"], {"name": "both", "description": "changed", "scopes": ["READ"]}
    )

    assert response.status_code == 200, response.text
    stored = await fetch(client, acme, created["id"])
    assert (stored["name"], stored["description"], stored["scopes"]) == ("both", "changed", ["READ"])


@METHODS
async def test_empty_body_changes_nothing_but_updated_at(
    client: httpx.AsyncClient, acme: Tenant, method: str
) -> None:
    created = await factories.api_key(client, acme, name="same")
    before = await fetch(client, acme, created["id"])

    response = await _send(client, acme, method, created["id"], {})

    assert response.status_code == 200, response.text
    _unchanged_except(before, await fetch(client, acme, created["id"]))


async def test_deactivated_key_is_refused_and_reactivation_restores_it(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    created = await factories.api_key(client, acme)

    deactivated = await update(client, acme, created["id"], status="inactive")

    assert deactivated["status"] == "inactive"
    refused = await client.get(keys_url(acme), headers=bearer(created["key"]))
    assert_error(refused, 401, "TOKEN_INACTIVE")
    reactivated = await update(client, acme, created["id"], status="active")
    assert reactivated["status"] == "active"
    response = await client.get(keys_url(acme), headers=bearer(created["key"]))
    assert response.status_code == 200, response.text


async def test_narrowed_scopes_take_effect_on_the_next_request(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    created = await factories.api_key(client, acme)

    await update(client, acme, created["id"], scopes=["READ"])

    refused = await client.post(keys_url(acme), json={}, headers=bearer(created["key"]))
    assert_error(refused, 403, "INSUFFICIENT_SCOPE")
    allowed = await client.get(keys_url(acme), headers=bearer(created["key"]))
    assert allowed.status_code == 200, allowed.text


async def test_whitelist_takes_effect_on_the_next_request(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await factories.api_key(client, acme)

    await update(client, acme, created["id"], whitelistedIPs=["10.0.0.0/8"])

    refused = await client.get(keys_url(acme), headers=bearer(created["key"]))
    assert_error(refused, 403, "IP_NOT_ALLOWED")
    await update(client, acme, created["id"], whitelistedIPs=None)
    allowed = await client.get(keys_url(acme), headers=bearer(created["key"]))
    assert allowed.status_code == 200, allowed.text


@METHODS
async def test_updating_a_deleted_key_is_422(client: httpx.AsyncClient, acme: Tenant, method: str) -> None:
    created = await factories.api_key(client, acme, name="gone")
    assert (await client.delete(key_url(acme, created["id"]), headers=bearer(acme.key))).status_code == 204

    response = await _send(client, acme, method, created["id"], {"status": "active"})

    assert_error(response, 422, "API_KEY_DELETED")
    stored = await fetch(client, acme, created["id"])
    assert (stored["status"], stored["name"]) == ("inactive", "gone")
    assert stored["deletedAt"] is not None
    assert_error(await client.get(keys_url(acme), headers=bearer(created["key"])), 401, "TOKEN_REVOKED")


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"nmae": "typo"}, 400, "NMAE_NOT_PERMITTED", "nmae"),
        ({"name": 5}, 400, "NAME_INVALID", "name"),
        ({"userId": str(uuid.uuid4())}, 400, "USER_ID_NOT_PERMITTED", "userId"),
        ({"name": ""}, 422, "NAME_TOO_SHORT", "name"),
        ({"description": ""}, 422, "DESCRIPTION_TOO_SHORT", "description"),
        ({"description": "d" * 201}, 422, "DESCRIPTION_TOO_LONG", "description"),
        ({"scopes": ["ROOT"]}, 422, "SCOPES_INVALID", "scopes.0"),
        ({"scopes": []}, 422, "SCOPES_MISSING", "scopes"),
        ({"scopes": None}, 422, "SCOPES_MISSING", "scopes"),
        ({"whitelistedIPs": ["10.0.0.1/8"]}, 422, "WHITELISTED_IPS_INVALID", "whitelistedIPs"),
        ({"status": "paused"}, 422, "STATUS_INVALID", "status"),
        ({"apiVersion": "2023-01-01"}, 422, "API_VERSION_INVALID", "apiVersion"),
        ({"name": "new", "apiVersion": PREVIOUS}, 422, "API_VERSION_DOWNGRADE_NOT_ALLOWED", "apiVersion"),
    ],
    ids=[
        "unknown-field",
        "name-number",
        "owner-not-changeable",
        "name-empty",
        "description-empty",
        "description-201",
        "scope-unknown",
        "scopes-empty",
        "scopes-null",
        "cidr-host-bits",
        "status-unknown",
        "version-unknown",
        "downgrade-with-rename",
    ],
)
async def test_refused_updates_change_nothing(
    client: httpx.AsyncClient, acme: Tenant, body: Json, status: int, code: str, field: str
) -> None:
    created = await factories.api_key(client, acme, name="kept", description="kept words")
    before = await fetch(client, acme, created["id"])
    assert before["apiVersion"] == CURRENT

    response = await client.patch(key_url(acme, created["id"]), json=body, headers=bearer(acme.key))

    assert_error(response, status, code, field)
    assert await fetch(client, acme, created["id"]) == before


async def test_scopes_beyond_the_owners_role_are_422(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, customer_key = await factories.owned_key(app, client, acme, "user")

    response = await client.patch(
        key_url(acme, customer_key["id"]), json={"scopes": ["READ", "MANAGE"]}, headers=bearer(acme.key)
    )

    assert_error(response, 422, "SCOPES_NOT_ALLOWED", "scopes")
    assert (await fetch(client, acme, customer_key["id"]))["scopes"] == customer_key["scopes"]


async def test_unknown_id_is_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.patch(key_url(acme, uuid.uuid4()), json={"name": "x"}, headers=bearer(acme.key))

    assert_error(response, 404, "NOT_FOUND")


async def test_non_uuid_id_is_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.put(key_url(acme, "12"), json={"name": "x"}, headers=bearer(acme.key))

    assert_error(response, 400, "KEY_ID_INVALID", "keyId")


async def test_another_users_key_is_404_without_manage(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, developer_key = await factories.owned_key(app, client, acme, "developer")
    _, other_key = await factories.owned_key(app, client, acme, "developer", name="theirs")

    response = await client.patch(
        key_url(acme, other_key["id"]), json={"name": "mine now"}, headers=bearer(developer_key["key"])
    )

    assert_error(response, 404, "NOT_FOUND")
    assert (await fetch(client, acme, other_key["id"]))["name"] == "theirs"


async def test_owner_updates_own_key_without_manage(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, developer_key = await factories.owned_key(app, client, acme, "developer")

    updated = await update(client, acme, developer_key["id"], key=developer_key["key"], name="mine")

    assert updated["name"] == "mine"
    assert (await fetch(client, acme, developer_key["id"]))["name"] == "mine"


async def test_manage_updates_another_users_key(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, developer_key = await factories.owned_key(app, client, acme, "developer")

    updated = await update(client, acme, developer_key["id"], name="by admin", scopes=["READ"])

    assert (updated["name"], updated["scopes"]) == ("by admin", ["READ"])
    stored = await fetch(client, acme, developer_key["id"], key=developer_key["key"])
    assert (stored["name"], stored["scopes"]) == ("by admin", ["READ"])


async def test_an_admins_deactivation_sticks(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    _, owned = await factories.owned_key(app, client, acme, "user", scopes=["READ", "UPDATE"])
    await update(client, acme, owned["id"], status="inactive")  # by the admin
    # The owner's own key is now refused, so the owner tries with a second key of theirs.
    second = await client.post(
        keys_url(acme),
        json={"userId": owned["userId"], "scopes": ["READ", "UPDATE"]},
        headers=bearer(acme.key),
    )
    assert second.status_code == 201, second.text

    response = await client.patch(
        key_url(acme, owned["id"]), json={"status": "active"}, headers=bearer(second.json()["key"])
    )

    assert_error(response, 403, "REACTIVATION_NOT_ALLOWED", "status")
    assert (await fetch(client, acme, owned["id"]))["status"] == "inactive"
    assert (await update(client, acme, owned["id"], status="active"))["status"] == "active"


async def test_an_owner_may_undo_their_own_deactivation(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, owned = await factories.owned_key(app, client, acme, "user", scopes=["READ", "UPDATE"])
    spare = await client.post(
        keys_url(acme),
        json={"userId": owned["userId"], "scopes": ["READ", "UPDATE"]},
        headers=bearer(acme.key),
    )
    spare_key = spare.json()["key"]

    off = await client.patch(
        key_url(acme, owned["id"]), json={"status": "inactive"}, headers=bearer(spare_key)
    )
    assert off.status_code == 200, off.text
    on = await client.patch(key_url(acme, owned["id"]), json={"status": "active"}, headers=bearer(spare_key))

    assert on.status_code == 200, on.text
    assert on.json()["status"] == "active"
    assert (await client.get(keys_url(acme), headers=bearer(owned["key"]))).status_code == 200
