"""Entitlements: CRUD with Keygen's shapes, code rules and permissions.

Keygen's behaviour comes from ``app/controllers/api/v1/entitlements_controller.rb``,
``app/models/entitlement.rb``, ``app/serializers/entitlement_serializer.rb``,
``app/policies/entitlement_policy.rb`` and ``features/api/v1/entitlements/*.feature``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.entitlements.schemas import EntitlementResource
from keyplane.kit.documents import Document, ListDocument
from tests import factories
from tests.auth.support import JSONAPI, jsonapi_error
from tests.factories import Tenant, bearer

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _body(type_: str = "entitlements", **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": type_, "attributes": attributes}}


async def _post(
    client: httpx.AsyncClient, account: Tenant, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    return await client.post(f"{account.base}/entitlements", json=body, headers=bearer(key or account.key))


async def _patch(
    client: httpx.AsyncClient, account: Tenant, ref: str, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    return await client.patch(
        f"{account.base}/entitlements/{ref}", json=body, headers=bearer(key or account.key)
    )


async def _codes(client: httpx.AsyncClient, account: Tenant, key: str | None = None) -> list[str]:
    listed = await client.get(f"{account.base}/entitlements?limit=100", headers=bearer(key or account.key))
    assert listed.status_code == 200, listed.text
    return [item["attributes"]["code"] for item in listed.json()["data"]]


# -- create, read, update, delete ------------------------------------------------------------


async def test_create_answers_keygens_shape(client: httpx.AsyncClient, acme: Tenant) -> None:
    """features/api/v1/entitlements/create.feature "Admin creates an entitlement": 201 with
    name, code, metadata; the serializer's created/updated and account relationship."""
    response = await _post(
        client, acme, _body(name="Test Entitlement", code="TEST_ENTITLEMENT", metadata={"foo": "bar"})
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith(JSONAPI)
    data = response.json()["data"]
    Document[EntitlementResource].model_validate(response.json())
    assert data["type"] == "entitlements"
    attributes = data["attributes"]
    assert {k: attributes[k] for k in ("name", "code", "metadata")} == {
        "name": "Test Entitlement",
        "code": "TEST_ENTITLEMENT",
        "metadata": {"foo": "bar"},
    }
    assert ISO_MS.match(attributes["created"])
    assert ISO_MS.match(attributes["updated"])
    base = f"/v1/accounts/{acme.id}"
    assert data["relationships"] == {
        "account": {"links": {"related": base}, "data": {"type": "accounts", "id": str(acme.id)}}
    }
    assert data["links"] == {"self": f"{base}/entitlements/{data['id']}"}
    assert response.headers["location"] == data["links"]["self"]

    # A second request sees it, by id and by code (Keygen's FindByAliasService on :code).
    for ref in (data["id"], "TEST_ENTITLEMENT"):
        shown = await client.get(f"{acme.base}/entitlements/{ref}", headers=bearer(acme.key))
        assert shown.status_code == 200, shown.text
        assert shown.json()["data"] == data
    # The singular type is accepted too.
    assert (await _post(client, acme, _body("entitlement", name="B", code="B"))).status_code == 201


async def test_list_is_newest_first_and_paged(client: httpx.AsyncClient, acme: Tenant) -> None:
    """features/api/v1/entitlements/index.feature: limit, page[number]/page[size] with links
    and meta, keyset page[cursor]; a page size out of range is 400."""
    made = [await factories.entitlement(client, acme, f"F{i}") for i in range(7)]
    assert await _codes(client, acme) == [f"F{i}" for i in reversed(range(7))]
    paged = await client.get(
        f"{acme.base}/entitlements?page[number]=1&page[size]=5", headers=bearer(acme.key)
    )
    assert paged.status_code == 200
    ListDocument[EntitlementResource].model_validate(paged.json())
    assert len(paged.json()["data"]) == 5
    assert paged.json()["links"]["meta"] == {"pages": 2, "count": 7}
    cursor = await client.get(
        f"{acme.base}/entitlements?page[size]=5&page[cursor]={made[2]['id']}", headers=bearer(acme.key)
    )
    assert [item["attributes"]["code"] for item in cursor.json()["data"]] == ["F1", "F0"]
    for bad in ("page[number]=1&page[size]=250", "page[number]=1&page[size]=-10", "limit=0"):
        answer = await client.get(f"{acme.base}/entitlements?{bad}", headers=bearer(acme.key))
        jsonapi_error(answer, 400, "PARAMETERS_INVALID")


async def test_update_changes_only_what_is_sent(client: httpx.AsyncClient, acme: Tenant) -> None:
    """features/api/v1/entitlements/update.feature: a PATCH may carry data.id; name, code and
    metadata change when sent."""
    made = await factories.entitlement(client, acme, "OLD_FEATURE", metadata={"tier": 1})
    response = await _patch(
        client,
        acme,
        made["id"],
        {"data": {"type": "entitlements", "id": made["id"], "attributes": {"code": "NEW_FEATURE"}}},
    )
    assert response.status_code == 200, response.text
    attributes = response.json()["data"]["attributes"]
    assert (attributes["code"], attributes["name"], attributes["metadata"]) == (
        "NEW_FEATURE",
        made["attributes"]["name"],
        {"tier": 1},
    )
    renamed = await _patch(client, acme, "NEW_FEATURE", _body(name="Updated Feature", metadata={}))
    assert renamed.status_code == 200
    shown = await client.get(f"{acme.base}/entitlements/{made['id']}", headers=bearer(acme.key))
    assert shown.json()["data"]["attributes"]["name"] == "Updated Feature"
    assert shown.json()["data"]["attributes"]["metadata"] == {}
    # The old code no longer names it.
    gone = await client.get(f"{acme.base}/entitlements/OLD_FEATURE", headers=bearer(acme.key))
    jsonapi_error(gone, 404, "NOT_FOUND")


async def test_delete_detaches_it_everywhere(client: httpx.AsyncClient, acme: Tenant) -> None:
    """features/api/v1/entitlements/destroy.feature: 204, and the account has one fewer;
    Entitlement ``has_many :policy_entitlements, :license_entitlements, dependent: :delete_all``."""
    kept = await factories.entitlement(client, acme, "KEPT")
    gone = await factories.entitlement(client, acme, "GONE")
    policy_id = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy_id)
    assert (await factories.attach(client, acme, f"policies/{policy_id}", [gone["id"]])).status_code == 200
    attached = await factories.attach(client, acme, f"licenses/{license['id']}", [gone["id"], kept["id"]])
    assert attached.status_code == 422  # GONE comes through the policy already
    assert (
        await factories.attach(client, acme, f"licenses/{license['id']}", [kept["id"]])
    ).status_code == 200

    deleted = await client.delete(f"{acme.base}/entitlements/{gone['id']}", headers=bearer(acme.key))
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert await _codes(client, acme) == ["KEPT"]
    again = await client.get(f"{acme.base}/entitlements/{gone['id']}", headers=bearer(acme.key))
    jsonapi_error(again, 404, "NOT_FOUND")
    of_policy = await client.get(f"{acme.base}/policies/{policy_id}/entitlements", headers=bearer(acme.key))
    assert of_policy.json()["data"] == []
    of_license = await client.get(
        f"{acme.base}/licenses/{license['id']}/entitlements", headers=bearer(acme.key)
    )
    assert [item["id"] for item in of_license.json()["data"]] == [kept["id"]]


# -- the rules of a code ---------------------------------------------------------------------


async def test_codes_are_unique_per_account_whatever_their_case(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """app/models/entitlement.rb: ``uniqueness: { case_sensitive: false, scope: :account_id }``
    is 422 CODE_TAKEN "has already been taken"; another account may use the code."""
    first = await factories.entitlement(client, acme, "Pro_Feature")
    for code in ("Pro_Feature", "PRO_FEATURE", "pro_feature"):
        body = jsonapi_error(await _post(client, acme, _body(name="X", code=code)), 422, "CODE_TAKEN")
        assert body["errors"][0] == {
            "title": "Unprocessable resource",
            "detail": "has already been taken",
            "code": "CODE_TAKEN",
            "source": {"pointer": "/data/attributes/code"},
        }
    other = await factories.entitlement(client, acme, "OTHER")
    jsonapi_error(await _patch(client, acme, other["id"], _body(code="pro_FEATURE")), 422, "CODE_TAKEN")
    # Its own code in another case is not taken.
    recased = await _patch(client, acme, first["id"], _body(code="PRO_FEATURE"))
    assert recased.status_code == 200, recased.text
    assert sorted(await _codes(client, acme)) == ["OTHER", "PRO_FEATURE"]

    beta = await factories.tenant(app, "beta")
    assert (await _post(client, beta, _body(name="Pro", code="PRO_FEATURE"))).status_code == 201


@pytest.mark.parametrize(
    ("code", "status", "error", "detail"),
    [
        ("actions", 422, "CODE_NOT_ALLOWED", "is reserved"),
        ("action", 422, "CODE_NOT_ALLOWED", "is reserved"),
        ("0193b1e2-5c1d-7a2b-9c3d-4e5f60718293", 422, "CODE_INVALID", "is invalid"),
        ("0193B1E25C1D7A2B9C3D4E5F60718293", 422, "CODE_INVALID", "is invalid"),
        ("x" * 256, 422, "CODE_TOO_LONG", None),
        ("", 400, "CODE_MISSING", "cannot be blank"),
        ("   ", 400, "CODE_MISSING", "cannot be blank"),
        (None, 400, "CODE_INVALID", "cannot be null"),
    ],
)
async def test_bad_codes_are_refused_and_nothing_is_made(
    client: httpx.AsyncClient, acme: Tenant, code: str | None, status: int, error: str, detail: str | None
) -> None:
    """app/models/entitlement.rb: ``exclusion: EXCLUDED_ALIASES`` ("is reserved"), ``format:
    { without: UUID_RE }``, ``length: 1..255``; typed params answer 400 "cannot be blank"
    (features/api/v1/entitlements/update.feature) and "cannot be null"."""
    made = await factories.entitlement(client, acme, "FINE")
    body = jsonapi_error(await _post(client, acme, _body(name="N", code=code)), status, error)
    assert body["errors"][0]["source"] == {"pointer": "/data/attributes/code"}
    if detail is not None:
        assert body["errors"][0]["detail"] == detail
    jsonapi_error(await _patch(client, acme, made["id"], _body(code=code)), status, error)
    assert await _codes(client, acme) == ["FINE"]


async def test_name_and_code_are_required(client: httpx.AsyncClient, acme: Tenant) -> None:
    """features/api/v1/entitlements/create.feature "incomplete entitlement": 400 without code;
    a blank name is 400 too. Unknown attributes are refused."""
    jsonapi_error(await _post(client, acme, _body(name="V1 Updates")), 400, "CODE_MISSING")
    jsonapi_error(await _post(client, acme, _body(code="V1")), 400, "NAME_MISSING")
    blank = await _post(client, acme, _body(name=" ", code="V1"))
    assert jsonapi_error(blank, 400, "NAME_MISSING")["errors"][0]["detail"] == "cannot be blank"
    jsonapi_error(
        await _post(client, acme, _body(name="A", code="A", color="red")), 400, "COLOR_NOT_PERMITTED"
    )
    jsonapi_error(await _post(client, acme, _body("licenses", name="A", code="A")), 422, "TYPE_INVALID")
    assert await _codes(client, acme) == []


# -- who may do what -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "write"),
    [
        ("admin", True),
        ("developer", True),
        ("sales-agent", False),
        ("support-agent", False),
        ("read-only", False),
    ],
)
async def test_staff_roles(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str, write: bool
) -> None:
    """app/policies/entitlement_policy.rb: every staff role reads; only admins and developers
    create, update and delete (the create/update/destroy features' 403s)."""
    _, key = await factories.role_key(app, client, acme, role)
    existing = await factories.entitlement(client, acme, "EXISTING")
    assert await _codes(client, acme, key) == ["EXISTING"]
    shown = await client.get(f"{acme.base}/entitlements/{existing['id']}", headers=bearer(key))
    assert shown.status_code == 200

    created = await _post(client, acme, _body(name="Role", code="ROLE_FEATURE"), key)
    updated = await _patch(client, acme, existing["id"], _body(name="Renamed"), key)
    deleted = await client.delete(f"{acme.base}/entitlements/{existing['id']}", headers=bearer(key))
    if write:
        assert [created.status_code, updated.status_code, deleted.status_code] == [201, 200, 204]
        assert await _codes(client, acme) == ["ROLE_FEATURE"]
    else:
        for answer in (created, updated, deleted):
            # The role's rules, or (support agents, read-only) the scopes the role may have.
            code = answer.json()["errors"][0]["code"]
            assert code in ("ACCESS_DENIED", "INSUFFICIENT_SCOPE"), answer.text
            jsonapi_error(answer, 403, code)
        assert await _codes(client, acme) == ["EXISTING"]
        shown = await client.get(f"{acme.base}/entitlements/{existing['id']}", headers=bearer(acme.key))
        assert shown.json()["data"]["attributes"]["name"] == existing["attributes"]["name"]


async def test_product_token_reads_every_entitlement_and_writes_none(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """entitlement.rb ``accessible_by`` (product: all) and entitlement_policy.rb (product may
    read, not create, update or delete)."""
    product_id = await factories.product(client, acme)
    token = await factories.product_token(client, acme, product_id)
    existing = await factories.entitlement(client, acme, "ANY")
    assert await _codes(client, acme, token) == ["ANY"]
    assert (await client.get(f"{acme.base}/entitlements/ANY", headers=bearer(token))).status_code == 200
    jsonapi_error(await _post(client, acme, _body(name="P", code="P"), token), 403, "ACCESS_DENIED")
    jsonapi_error(await _patch(client, acme, existing["id"], _body(name="P"), token), 403, "ACCESS_DENIED")
    deleted = await client.delete(f"{acme.base}/entitlements/{existing['id']}", headers=bearer(token))
    jsonapi_error(deleted, 403, "ACCESS_DENIED")


async def test_users_and_licenses_see_only_the_entitlements_they_have(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """entitlement.rb ``accessible_by`` (user, license: ``accessor.entitlements``), the show and
    destroy features: an entitlement they do not have is 404; one they have is readable, and
    changing it is 403."""
    user_id, user_key = await factories.role_key(app, client, acme, "user")
    policy_id = await factories.policy(client, acme, authenticationStrategy="LICENSE")
    from_policy = await factories.entitlement(client, acme, "FROM_POLICY")
    own = await factories.entitlement(client, acme, "OWN")
    elsewhere = await factories.entitlement(client, acme, "ELSEWHERE")
    license = await factories.license(client, acme, policy_id, owner=user_id)
    other = await factories.license(client, acme, policy_id)
    assert (
        await factories.attach(client, acme, f"policies/{policy_id}", [from_policy["id"]])
    ).status_code == 200
    assert (await factories.attach(client, acme, f"licenses/{license['id']}", [own["id"]])).status_code == 200
    assert (
        await factories.attach(client, acme, f"licenses/{other['id']}", [elsewhere["id"]])
    ).status_code == 200
    as_license = {"Authorization": f"License {license['attributes']['key']}"}

    for headers in (bearer(user_key), as_license):
        listed = await client.get(f"{acme.base}/entitlements", headers=headers)
        assert listed.status_code == 200, listed.text
        assert sorted(item["attributes"]["code"] for item in listed.json()["data"]) == ["FROM_POLICY", "OWN"]
        for seen in (from_policy, own):
            assert (
                await client.get(f"{acme.base}/entitlements/{seen['id']}", headers=headers)
            ).status_code == 200
        hidden = await client.get(f"{acme.base}/entitlements/{elsewhere['id']}", headers=headers)
        jsonapi_error(hidden, 404, "NOT_FOUND")
        jsonapi_error(
            await client.delete(f"{acme.base}/entitlements/{elsewhere['id']}", headers=headers),
            404,
            "NOT_FOUND",
        )
        jsonapi_error(
            await client.delete(f"{acme.base}/entitlements/{own['id']}", headers=headers),
            403,
            "ACCESS_DENIED",
        )
        created = await client.post(
            f"{acme.base}/entitlements", json=_body(name="U", code="U"), headers=headers
        )
        jsonapi_error(created, 403, "ACCESS_DENIED")
    # A user without licenses has none.
    _, lonely = await factories.role_key(app, client, acme, "user")
    assert await _codes(client, acme, lonely) == []
    assert len(await _codes(client, acme)) == 3


async def test_entitlements_are_isolated_between_accounts(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """features/api/v1/entitlements/*.feature "another account": a credential of another
    account is 401; the same code in two accounts names two records."""
    beta = await factories.tenant(app, "beta")
    mine = await factories.entitlement(client, acme, "SHARED")
    theirs = await factories.entitlement(client, beta, "SHARED")
    assert mine["id"] != theirs["id"]
    url = f"{acme.base}/entitlements/{mine['id']}"
    jsonapi_error(await client.get(url, headers=bearer(beta.key)), 401, "TOKEN_INVALID")
    jsonapi_error(await client.delete(url, headers=bearer(beta.key)), 401, "TOKEN_INVALID")
    jsonapi_error(await client.get(url), 401, "TOKEN_MISSING")
    # By code, each account finds its own.
    shown = await client.get(f"{beta.base}/entitlements/SHARED", headers=bearer(beta.key))
    assert shown.json()["data"]["id"] == theirs["id"]
    jsonapi_error(
        await client.get(f"{beta.base}/entitlements/{mine['id']}", headers=bearer(beta.key)), 404, "NOT_FOUND"
    )


async def test_events_of_entitlements(client: httpx.AsyncClient, acme: Tenant) -> None:
    """entitlements_controller.rb broadcasts entitlement.created, .updated (with the diff,
    broadcast_event_service.rb) and .deleted."""
    made = await factories.entitlement(client, acme, "EVENTFUL")
    await _patch(client, acme, made["id"], _body(code="EVENTFUL_2"))
    await client.delete(f"{acme.base}/entitlements/{made['id']}", headers=bearer(acme.key))
    logged = await client.get(
        f"{acme.base}/event-logs",
        params={"resource[type]": "entitlements", "resource[id]": made["id"]},
        headers=bearer(acme.key),
    )
    assert logged.status_code == 200, logged.text
    entries = logged.json()["data"]
    assert [e["attributes"]["event"] for e in entries] == [
        "entitlement.deleted",
        "entitlement.updated",
        "entitlement.created",
    ]
    assert entries[1]["attributes"]["metadata"] == {"diff": {"code": ["EVENTFUL", "EVENTFUL_2"]}}


async def test_concurrent_creations_take_a_code_once_whatever_its_case(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """entitlement.rb: ``uniqueness: { case_sensitive: false }``, held by the database."""
    codes = ["RACE", "race", "Race", "rACE"] * 4
    answers = await asyncio.gather(
        *(
            client.post(
                f"{acme.base}/entitlements",
                json={"data": {"type": "entitlements", "attributes": {"name": "Race", "code": code}}},
                headers=bearer(acme.key),
            )
            for code in codes
        )
    )
    assert sorted(answer.status_code for answer in answers) == [201] + [422] * 15
    listed = await client.get(f"{acme.base}/entitlements", headers=bearer(acme.key))
    assert len(listed.json()["data"]) == 1
