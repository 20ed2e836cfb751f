"""Entitlements attached to policies and licenses: listing, attaching, detaching, who may.

Keygen's behaviour comes from ``app/controllers/api/v1/{policies,licenses}/relationships/
entitlements_controller.rb``, ``app/models/{policy,license}_entitlement.rb``,
``app/policies/{policies,licenses}/entitlement_policy.rb``, ``app/models/license.rb``
(``License#entitlements``: its own and its policy's) and the features
``features/api/v1/{policies,licenses}/relationships/entitlements.feature``.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.entitlements.schemas import (
    AttachedDocument,
    EntitlementResource,
    LicenseEntitlementResource,
    PolicyEntitlementResource,
)
from keyplane.kit.documents import Document, ListDocument
from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer
from tests.factories.entitlements import identifiers
from tests.licensing import files
from tests.licensing.test_signatures import _public_key as public_key


async def _codes(
    client: httpx.AsyncClient, account: Tenant, owner: str, headers: dict[str, str] | None = None
) -> list[str]:
    listed = await client.get(
        f"{account.base}/{owner}/entitlements?limit=100", headers=headers or bearer(account.key)
    )
    assert listed.status_code == 200, listed.text
    ListDocument[EntitlementResource].model_validate(listed.json())
    return sorted(item["attributes"]["code"] for item in listed.json()["data"])


async def _several(client: httpx.AsyncClient, account: Tenant, *codes: str) -> list[str]:
    return [(await factories.entitlement(client, account, code))["id"] for code in codes]


async def _events(
    client: httpx.AsyncClient, account: Tenant, resource: str, id_: str
) -> list[dict[str, Any]]:
    logged = await client.get(
        f"{account.base}/event-logs",
        params={"resource[type]": resource, "resource[id]": id_},
        headers=bearer(account.key),
    )
    assert logged.status_code == 200, logged.text
    entries: list[dict[str, Any]] = logged.json()["data"]
    return entries


# -- policies --------------------------------------------------------------------------------


async def test_attach_to_a_policy_answers_the_attachments(client: httpx.AsyncClient, acme: Tenant) -> None:
    """policies/relationships/entitlements.feature "Admin attaches entitlements to a policy":
    200 with 3 ``policy-entitlements`` (policy_entitlement_serializer.rb), and the policy
    lists them; the singular type is accepted."""
    ids = await _several(client, acme, "A", "B", "C")
    policy_id = await factories.policy(client, acme)
    response = await client.post(
        f"{acme.base}/policies/{policy_id}/entitlements",
        json={"data": [{"type": "entitlement", "id": id_} for id_ in ids]},
        headers=bearer(acme.key),
    )
    assert response.status_code == 200, response.text
    AttachedDocument[PolicyEntitlementResource].model_validate(response.json())
    data = response.json()["data"]
    assert [item["type"] for item in data] == ["policy-entitlements"] * 3
    assert [item["relationships"]["entitlement"]["data"]["id"] for item in data] == ids
    base = f"/v1/accounts/{acme.id}"
    assert data[0]["relationships"]["policy"] == {
        "links": {"related": f"{base}/policies/{policy_id}"},
        "data": {"type": "policies", "id": policy_id},
    }
    assert data[0]["links"] == {"related": f"{base}/policies/{policy_id}/entitlements/{ids[0]}"}
    assert await _codes(client, acme, f"policies/{policy_id}") == ["A", "B", "C"]

    # Keygen's policy serializer links the relationship.
    policy = await client.get(f"{acme.base}/policies/{policy_id}", headers=bearer(acme.key))
    assert policy.json()["data"]["relationships"]["entitlements"] == {
        "links": {"related": f"{base}/policies/{policy_id}/entitlements"}
    }
    one = await client.get(
        f"{acme.base}/policies/{policy_id}/entitlements/{ids[1]}", headers=bearer(acme.key)
    )
    assert one.status_code == 200
    Document[EntitlementResource].model_validate(one.json())
    assert one.json()["data"]["attributes"]["code"] == "B"
    other = (await factories.entitlement(client, acme, "NOT_ATTACHED"))["id"]
    for missing in (other, str(uuid.uuid4()), "NOT_ATTACHED"):
        answer = await client.get(
            f"{acme.base}/policies/{policy_id}/entitlements/{missing}", headers=bearer(acme.key)
        )
        jsonapi_error(answer, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("attached", "sent", "code", "detail"),
    [
        # policies/relationships/entitlements.feature: "that already exists", "invalid entitlement ID"
        (["A"], ["A"], "ENTITLEMENT_TAKEN", "already exists"),
        ([], ["A", "MISSING", "C"], "ENTITLEMENT_NOT_FOUND", "must exist"),
        ([], ["A", "A"], "ENTITLEMENT_TAKEN", "already exists"),
        ([], ["A", "ELSEWHERE"], "ENTITLEMENT_NOT_FOUND", "must exist"),
    ],
)
async def test_a_refused_policy_attach_attaches_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    acme: Tenant,
    attached: list[str],
    sent: list[str],
    code: str,
    detail: str,
) -> None:
    """policy_entitlement.rb validations: ``belongs_to :entitlement`` (must exist, in the
    account), uniqueness per policy; the whole request is one transaction."""
    ids = dict(zip(("A", "C"), await _several(client, acme, "A", "C"), strict=True))
    beta = await factories.tenant(app, "beta")
    ids["ELSEWHERE"] = (await factories.entitlement(client, beta, "A"))["id"]
    ids["MISSING"] = str(uuid.uuid4())
    policy_id = await factories.policy(client, acme)
    if attached:
        assert (
            await factories.attach(client, acme, f"policies/{policy_id}", [ids[c] for c in attached])
        ).status_code == 200
    response = await factories.attach(client, acme, f"policies/{policy_id}", [ids[c] for c in sent])
    body = jsonapi_error(response, 422, code)
    assert body["errors"][0] == {
        "title": "Unprocessable resource",
        "detail": detail,
        "code": code,
        "source": {"pointer": "/data/relationships/entitlement"},
    }
    assert await _codes(client, acme, f"policies/{policy_id}") == sorted(attached)


@pytest.mark.parametrize("owner", ["policies", "licenses"])
async def test_malformed_attach_and_detach_bodies_are_400(
    client: httpx.AsyncClient, acme: Tenant, owner: str
) -> None:
    """The features' "empty entitlements": ``{"data": []}`` is 400 "length must be between 1
    and 100 (inclusive)" at /data, as are 101 of them; an id that is no UUID is 400 (typed
    params ``type: :uuid``)."""
    license = await factories.license(client, acme)
    target = license["relationships"]["policy"]["data"]["id"] if owner == "policies" else license["id"]
    url = f"{acme.base}/{owner}/{target}/entitlements"
    for method in ("POST", "DELETE"):
        for ids in ([], [str(uuid.uuid4()) for _ in range(101)]):
            answer = await client.request(method, url, json=identifiers(ids), headers=bearer(acme.key))
            body = jsonapi_error(answer, 400, "DATA_INVALID")
            assert body["errors"][0] == {
                "title": "Bad request",
                "detail": "length must be between 1 and 100 (inclusive)",
                "code": "DATA_INVALID",
                "source": {"pointer": "/data"},
            }
        not_uuid = await client.request(
            method, url, json={"data": [{"type": "entitlements", "id": "A"}]}, headers=bearer(acme.key)
        )
        jsonapi_error(not_uuid, 400, "ID_INVALID")
        one = await client.request(
            method,
            url,
            json={"data": {"type": "entitlements", "id": str(uuid.uuid4())}},
            headers=bearer(acme.key),
        )
        jsonapi_error(one, 400, "DATA_INVALID")


async def test_detach_from_a_policy(client: httpx.AsyncClient, acme: Tenant) -> None:
    """policies/relationships/entitlements.feature: detaching is 204 and leaves the
    entitlements; one not attached is 422 "cannot detach entitlement '<id>' (entitlement is
    not attached)" at /data/<index>, and nothing is detached."""
    ids = await _several(client, acme, "A", "B", "C")
    policy_id = await factories.policy(client, acme)
    assert (await factories.attach(client, acme, f"policies/{policy_id}", ids)).status_code == 200
    stranger = str(uuid.uuid4())
    refused = await factories.detach(client, acme, f"policies/{policy_id}", [ids[0], stranger, ids[2]])
    body = jsonapi_error(refused, 422, "ENTITLEMENT_NOT_ATTACHED")
    assert body["errors"][0] == {
        "title": "Unprocessable entity",
        "detail": f"cannot detach entitlement '{stranger}' (entitlement is not attached)",
        "code": "ENTITLEMENT_NOT_ATTACHED",
        "source": {"pointer": "/data/1"},
    }
    assert await _codes(client, acme, f"policies/{policy_id}") == ["A", "B", "C"]

    detached = await factories.detach(client, acme, f"policies/{policy_id}", [ids[0], ids[2]])
    assert detached.status_code == 204, detached.text
    assert detached.content == b""
    assert await _codes(client, acme, f"policies/{policy_id}") == ["B"]
    assert len((await client.get(f"{acme.base}/entitlements", headers=bearer(acme.key))).json()["data"]) == 3
    # Detached already: not attached any more.
    again = await factories.detach(client, acme, f"policies/{policy_id}", [ids[0]])
    jsonapi_error(again, 422, "ENTITLEMENT_NOT_ATTACHED")


# -- licenses --------------------------------------------------------------------------------


async def test_a_license_has_its_own_entitlements_and_its_policys(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """license.rb ``License#entitlements`` (policy's or own); licenses/relationships/
    entitlements.feature "for a license key": 2 of the policy and 5 of its own make 7, found
    by the license's key too. Another license of the policy has the policy's alone."""
    policy_ids = await _several(client, acme, "P1", "P2")
    own_ids = await _several(client, acme, "L1", "L2", "L3", "L4", "L5")
    policy_id = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy_id, key="example-license-key")
    sibling = await factories.license(client, acme, policy_id)
    assert (await factories.attach(client, acme, f"policies/{policy_id}", policy_ids)).status_code == 200
    attached = await factories.attach(client, acme, f"licenses/{license['id']}", own_ids)
    assert attached.status_code == 200, attached.text
    AttachedDocument[LicenseEntitlementResource].model_validate(attached.json())
    assert [item["type"] for item in attached.json()["data"]] == ["license-entitlements"] * 5
    assert attached.json()["data"][0]["relationships"]["license"]["data"] == {
        "type": "licenses",
        "id": license["id"],
    }

    everything = ["L1", "L2", "L3", "L4", "L5", "P1", "P2"]
    assert await _codes(client, acme, f"licenses/{license['id']}") == everything
    assert await _codes(client, acme, "licenses/example-license-key") == everything
    assert await _codes(client, acme, f"licenses/{sibling['id']}") == ["P1", "P2"]
    for entitlement_id in (policy_ids[0], own_ids[0]):
        one = await client.get(
            f"{acme.base}/licenses/{license['id']}/entitlements/{entitlement_id}", headers=bearer(acme.key)
        )
        assert one.status_code == 200
    not_sibling = await client.get(
        f"{acme.base}/licenses/{sibling['id']}/entitlements/{own_ids[0]}", headers=bearer(acme.key)
    )
    jsonapi_error(not_sibling, 404, "NOT_FOUND")
    base = f"/v1/accounts/{acme.id}"
    shown = await client.get(f"{acme.base}/licenses/{license['id']}", headers=bearer(acme.key))
    assert shown.json()["data"]["relationships"]["entitlements"] == {
        "links": {"related": f"{base}/licenses/{license['id']}/entitlements"}
    }
    # Paged like every list.
    paged = await client.get(
        f"{acme.base}/licenses/{license['id']}/entitlements?page[number]=2&page[size]=5",
        headers=bearer(acme.key),
    )
    assert len(paged.json()["data"]) == 2
    assert paged.json()["links"]["meta"] == {"pages": 2, "count": 7}

    # Detaching from the policy takes them from every license of it.
    assert (await factories.detach(client, acme, f"policies/{policy_id}", policy_ids[:1])).status_code == 204
    assert await _codes(client, acme, f"licenses/{sibling['id']}") == ["P2"]


@pytest.mark.parametrize(
    ("sent", "code", "detail"),
    [
        (["POLICY"], "ENTITLEMENT_CONFLICT", "already exists (entitlement is attached through policy)"),
        (["OWN"], "ENTITLEMENT_TAKEN", "already exists"),
        (["FREE", "MISSING"], "ENTITLEMENT_NOT_FOUND", "must exist"),
    ],
)
async def test_a_refused_license_attach_attaches_nothing(
    client: httpx.AsyncClient, acme: Tenant, sent: list[str], code: str, detail: str
) -> None:
    """license_entitlement.rb: uniqueness per license, ``belongs_to :entitlement``, and on
    create "already exists (entitlement is attached through policy)" (ENTITLEMENT_CONFLICT)."""
    ids = dict(
        zip(("POLICY", "OWN", "FREE"), await _several(client, acme, "POLICY", "OWN", "FREE"), strict=True)
    )
    ids["MISSING"] = str(uuid.uuid4())
    policy_id = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy_id)
    assert (await factories.attach(client, acme, f"policies/{policy_id}", [ids["POLICY"]])).status_code == 200
    assert (
        await factories.attach(client, acme, f"licenses/{license['id']}", [ids["OWN"]])
    ).status_code == 200
    response = await factories.attach(client, acme, f"licenses/{license['id']}", [ids[c] for c in sent])
    body = jsonapi_error(response, 422, code)
    assert body["errors"][0] == {
        "title": "Unprocessable resource",
        "detail": detail,
        "code": code,
        "source": {"pointer": "/data/relationships/entitlement"},
    }
    assert await _codes(client, acme, f"licenses/{license['id']}") == ["OWN", "POLICY"]


async def test_detach_from_a_license(client: httpx.AsyncClient, acme: Tenant) -> None:
    """licenses/relationships/entitlements.feature: 204; one that comes through the policy is
    403 "cannot detach entitlement '<id>' (entitlement is attached through policy)" (checked
    first), one not attached 422; nothing is detached by a refused request."""
    own = await _several(client, acme, "OWN_1", "OWN_2")
    [inherited] = await _several(client, acme, "INHERITED")
    policy_id = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy_id)
    owner = f"licenses/{license['id']}"
    assert (await factories.attach(client, acme, f"policies/{policy_id}", [inherited])).status_code == 200
    assert (await factories.attach(client, acme, owner, own)).status_code == 200

    stranger = str(uuid.uuid4())
    forbidden = await factories.detach(client, acme, owner, [stranger, own[0], inherited])
    body = jsonapi_error(forbidden, 403, "ENTITLEMENT_ATTACHED_TO_POLICY")
    assert body["errors"][0] == {
        "title": "Access denied",
        "detail": f"cannot detach entitlement '{inherited}' (entitlement is attached through policy)",
        "code": "ENTITLEMENT_ATTACHED_TO_POLICY",
        "source": {"pointer": "/data/2"},
    }
    unknown = await factories.detach(client, acme, owner, [stranger, own[0]])
    body = jsonapi_error(unknown, 422, "ENTITLEMENT_NOT_ATTACHED")
    assert body["errors"][0]["source"] == {"pointer": "/data/0"}
    assert await _codes(client, acme, owner) == ["INHERITED", "OWN_1", "OWN_2"]

    assert (await factories.detach(client, acme, owner, own)).status_code == 204
    assert await _codes(client, acme, owner) == ["INHERITED"]


async def test_deleting_a_policy_or_license_deletes_its_attachments(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """policy.rb and license.rb: ``has_many :policy_entitlements`` / ``:license_entitlements,
    dependent: :delete_all``; the entitlements themselves stay."""
    ids = await _several(client, acme, "A", "B")
    policy_id = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy_id)
    assert (await factories.attach(client, acme, f"policies/{policy_id}", ids[:1])).status_code == 200
    assert (await factories.attach(client, acme, f"licenses/{license['id']}", ids[1:])).status_code == 200
    assert (
        await client.delete(f"{acme.base}/licenses/{license['id']}", headers=bearer(acme.key))
    ).status_code == 204
    assert (
        await client.delete(f"{acme.base}/policies/{policy_id}", headers=bearer(acme.key))
    ).status_code == 204
    listed = await client.get(f"{acme.base}/entitlements", headers=bearer(acme.key))
    assert len(listed.json()["data"]) == 2
    # Each may be attached again elsewhere, and deleted, with nothing left behind.
    fresh = await factories.policy(client, acme)
    assert (await factories.attach(client, acme, f"policies/{fresh}", ids)).status_code == 200
    for id_ in ids:
        assert (
            await client.delete(f"{acme.base}/entitlements/{id_}", headers=bearer(acme.key))
        ).status_code == 204
    assert await _codes(client, acme, f"policies/{fresh}") == []


async def test_attach_and_detach_record_keygens_events(client: httpx.AsyncClient, acme: Tenant) -> None:
    """The controllers broadcast policy.entitlements.attached/detached and
    license.entitlements.attached/detached; broadcast_event_service.rb records their
    ``codes``."""
    ids = await _several(client, acme, "FIRST", "SECOND")
    policy_id = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy_id)
    await factories.attach(client, acme, f"policies/{policy_id}", ids[:1])
    await factories.detach(client, acme, f"policies/{policy_id}", ids[:1])
    await factories.attach(client, acme, f"licenses/{license['id']}", [ids[1], ids[0]])
    await factories.detach(client, acme, f"licenses/{license['id']}", [ids[1]])
    on_policy = await _events(client, acme, "policies", policy_id)
    assert [(e["attributes"]["event"], e["attributes"]["metadata"]) for e in on_policy[:2]] == [
        ("policy.entitlements.detached", {"codes": ["FIRST"]}),
        ("policy.entitlements.attached", {"codes": ["FIRST"]}),
    ]
    on_license = await _events(client, acme, "licenses", license["id"])
    assert [(e["attributes"]["event"], e["attributes"]["metadata"]) for e in on_license[:2]] == [
        ("license.entitlements.detached", {"codes": ["SECOND"]}),
        ("license.entitlements.attached", {"codes": ["SECOND", "FIRST"]}),
    ]
    # A refused request records nothing.
    await factories.attach(client, acme, f"licenses/{license['id']}", [ids[0]])
    assert len(await _events(client, acme, "licenses", license["id"])) == len(on_license)


# -- who may do what -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "attach"),
    [
        ("admin", True),
        ("developer", True),
        ("sales-agent", True),
        ("support-agent", False),
        ("read-only", False),
    ],
)
async def test_staff_roles(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str, attach: bool
) -> None:
    """policies/ and licenses/entitlement_policy.rb: every staff role reads a policy's and a
    license's entitlements; admins, developers and sales agents attach and detach."""
    _, key = await factories.role_key(app, client, acme, role)
    [entitlement_id] = await _several(client, acme, "STAFF")
    policy_id = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy_id)
    for owner in (f"policies/{policy_id}", f"licenses/{license['id']}"):
        assert await _codes(client, acme, owner, bearer(key)) == []
        attached = await factories.attach(client, acme, owner, [entitlement_id], credential=key)
        if attach:
            assert attached.status_code == 200, attached.text
            assert await _codes(client, acme, owner, bearer(key)) == ["STAFF"]
            detached = await factories.detach(client, acme, owner, [entitlement_id], credential=key)
            assert detached.status_code == 204
        else:
            assert attached.status_code == 403, attached.text
            assert await _codes(client, acme, owner) == []
            assert (await factories.attach(client, acme, owner, [entitlement_id])).status_code == 200
            detached = await factories.detach(client, acme, owner, [entitlement_id], credential=key)
            assert detached.status_code == 403
            assert await _codes(client, acme, owner) == ["STAFF"]
            assert (await factories.detach(client, acme, owner, [entitlement_id])).status_code == 204


async def test_product_token_manages_only_its_products(client: httpx.AsyncClient, acme: Tenant) -> None:
    """The features' "Product attaches/detaches entitlements" (200, 204) and "...it doesn't
    own" (404)."""
    ids = await _several(client, acme, "A", "B")
    mine = await factories.product(client, acme)
    theirs = await factories.product(client, acme)
    token = await factories.product_token(client, acme, mine)
    own_policy = await factories.policy(client, acme, mine)
    other_policy = await factories.policy(client, acme, theirs)
    own_license = await factories.license(client, acme, await factories.policy(client, acme, mine))
    other_license = await factories.license(client, acme, other_policy)
    for owner in (f"policies/{own_policy}", f"licenses/{own_license['id']}"):
        assert (await factories.attach(client, acme, owner, ids, credential=token)).status_code == 200
        assert await _codes(client, acme, owner, bearer(token)) == ["A", "B"]
        assert (await factories.detach(client, acme, owner, ids[:1], credential=token)).status_code == 204
    for owner in (f"policies/{other_policy}", f"licenses/{other_license['id']}"):
        listed = await client.get(f"{acme.base}/{owner}/entitlements", headers=bearer(token))
        jsonapi_error(listed, 404, "NOT_FOUND")
        jsonapi_error(await factories.attach(client, acme, owner, ids, credential=token), 404, "NOT_FOUND")
        jsonapi_error(await factories.detach(client, acme, owner, ids, credential=token), 404, "NOT_FOUND")
        assert await _codes(client, acme, owner) == []


async def test_users_and_licenses_read_their_own_and_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """licenses/entitlement_policy.rb: a license's owner and the license itself read its
    entitlements (403 to attach or detach); a license they do not hold is 404. A policy's
    entitlements are not theirs to read (policies/entitlement_policy.rb: 403 where the policy
    is in view, 404 where it is not)."""
    user_id, user_key = await factories.role_key(app, client, acme, "user")
    ids = await _several(client, acme, "OWN", "POLICY")
    policy_id = await factories.policy(client, acme, authenticationStrategy="LICENSE")
    license = await factories.license(client, acme, policy_id, owner=user_id)
    other = await factories.license(client, acme, await factories.policy(client, acme))
    assert (await factories.attach(client, acme, f"licenses/{license['id']}", ids[:1])).status_code == 200
    assert (await factories.attach(client, acme, f"policies/{policy_id}", ids[1:])).status_code == 200
    as_license = {"Authorization": f"License {license['attributes']['key']}"}
    other_policy = other["relationships"]["policy"]["data"]["id"]

    for headers in (bearer(user_key), as_license):
        assert await _codes(client, acme, f"licenses/{license['id']}", headers) == ["OWN", "POLICY"]
        one = await client.get(f"{acme.base}/licenses/{license['id']}/entitlements/{ids[1]}", headers=headers)
        assert one.status_code == 200
        for method in ("POST", "DELETE"):
            answer = await client.request(
                method,
                f"{acme.base}/licenses/{license['id']}/entitlements",
                json=identifiers(ids[:1]),
                headers=headers,
            )
            jsonapi_error(answer, 403, "ACCESS_DENIED")
        hidden = await client.get(f"{acme.base}/licenses/{other['id']}/entitlements", headers=headers)
        jsonapi_error(hidden, 404, "NOT_FOUND")
        in_view = await client.get(f"{acme.base}/policies/{policy_id}/entitlements", headers=headers)
        jsonapi_error(in_view, 403, "ACCESS_DENIED")
        out_of_view = await client.get(f"{acme.base}/policies/{other_policy}/entitlements", headers=headers)
        jsonapi_error(out_of_view, 404, "NOT_FOUND")
        attach = await client.post(
            f"{acme.base}/policies/{policy_id}/entitlements",
            json=identifiers(ids[:1]),
            headers=headers,
        )
        jsonapi_error(attach, 403, "ACCESS_DENIED")
    assert await _codes(client, acme, f"licenses/{license['id']}") == ["OWN", "POLICY"]


async def test_another_accounts_credential_is_401(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """The features' "for another account": 401, and nothing attached."""
    beta = await factories.tenant(app, "beta")
    ids = await _several(client, acme, "A")
    policy_id = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy_id)
    for owner in (f"policies/{policy_id}", f"licenses/{license['id']}"):
        jsonapi_error(
            await factories.attach(client, acme, owner, ids, credential=beta.key), 401, "TOKEN_INVALID"
        )
        listed = await client.get(f"{acme.base}/{owner}/entitlements", headers=bearer(beta.key))
        jsonapi_error(listed, 401, "TOKEN_INVALID")
        assert await _codes(client, acme, owner) == []


# -- under concurrency -----------------------------------------------------------------------


async def test_concurrent_attaches_attach_once(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Uniqueness per license (license_entitlement.rb) holds when requests race: the unique
    index decides, the losers are 422 ENTITLEMENT_TAKEN."""
    [entitlement_id] = await _several(client, acme, "RACED")
    license = await factories.license(client, acme)
    owner = f"licenses/{license['id']}"
    answers = await asyncio.gather(
        *(factories.attach(client, acme, owner, [entitlement_id]) for _ in range(16))
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [422] * 15, [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 422:
            jsonapi_error(answer, 422, "ENTITLEMENT_TAKEN")
    assert await _codes(client, acme, owner) == ["RACED"]
    assert len(await _events(client, acme, "licenses", license["id"])) == 2  # created, attached once


# -- in license and machine files ------------------------------------------------------------


async def test_files_include_the_licenses_entitlements(client: httpx.AsyncClient, acme: Tenant) -> None:
    """license_checkout_service.rb ``ALLOWED_INCLUDES`` ``entitlements`` and
    machine_checkout_service.rb ``license.entitlements`` embed ``license.entitlements`` (its
    own and its policy's), read here with a verifier written from Keygen's steps."""
    [from_policy, own, _] = await _several(client, acme, "FROM_POLICY", "OWN", "UNRELATED")
    policy_id = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy_id)
    assert (await factories.attach(client, acme, f"policies/{policy_id}", [from_policy])).status_code == 200
    assert (await factories.attach(client, acme, f"licenses/{license['id']}", [own])).status_code == 200
    machine = await factories.machine(client, acme, license["id"])
    public = await public_key(client, acme)

    async def included(kind: str, ref: str, include: str) -> list[tuple[str, str]]:
        response = await client.post(
            f"{acme.base}/{kind}s/{ref}/actions/check-out",
            params={"include": include},
            headers=bearer(acme.key),
        )
        assert response.status_code == 200, response.text
        document = files.read(response.json()["data"]["attributes"]["certificate"], kind, public)
        return [
            (item["type"], item["attributes"].get("code", item["id"]))
            for item in document.get("included", [])
        ]

    entitled = [("entitlements", "FROM_POLICY"), ("entitlements", "OWN")]
    assert await included("license", license["id"], "entitlements") == entitled
    assert await included("machine", machine["id"], "license.entitlements") == [
        ("licenses", license["id"]),
        *entitled,
    ]
    # A license without entitlements embeds none.
    bare = await factories.license(client, acme, await factories.policy(client, acme))
    assert await included("license", bare["id"], "entitlements") == []
