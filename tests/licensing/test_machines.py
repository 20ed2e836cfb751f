"""Machines: the document, activation input, reading, changing, deactivating, listing, and
what deleting a license does to them. Limits and uniqueness live in
``test_machines_limits.py``, heartbeats in ``test_machines_heartbeat.py``, who may do what
in ``test_machines_access.py``."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error, timestamp
from tests.factories import Tenant, bearer, ref

ATTRIBUTES = {
    "fingerprint",
    "cores",
    "memory",
    "disk",
    "ip",
    "hostname",
    "platform",
    "name",
    "requireHeartbeat",
    "heartbeatStatus",
    "heartbeatDuration",
    "maxProcesses",
    "lastHeartbeat",
    "nextHeartbeat",
    "lastCheckOut",
    "metadata",
    "created",
    "updated",
}


def _body(
    license_id: str | None, fingerprint: str | None = "fp-1", owner: str | None = None, **attributes: Any
) -> dict[str, Any]:
    if fingerprint is not None:
        attributes["fingerprint"] = fingerprint
    relationships: dict[str, Any] = {} if license_id is None else {"license": ref("licenses", license_id)}
    if owner is not None:
        relationships["owner"] = ref("users", owner)
    return {"data": {"type": "machines", "attributes": attributes, "relationships": relationships}}


async def _ids(client: httpx.AsyncClient, account: Tenant, query: str = "") -> list[str]:
    response = await client.get(f"{account.base}/machines?limit=100{query}", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def _error(response: httpx.Response, status: int, code: str, pointer: str) -> dict[str, Any]:
    body = jsonapi_error(response, status, code)
    assert body["errors"][0]["source"] == {"pointer": pointer}, body
    return body


# -- the document --------------------------------------------------------------------------


async def test_activation_returns_keygens_machine_document(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    owner = await factories.user(app, acme)
    policy_id = await factories.policy(client, acme, floating=True, maxMachines=3)
    license = await factories.license(client, acme, policy_id, owner=str(owner))
    product_id = license["relationships"]["product"]["data"]["id"]
    body = _body(
        license["id"],
        "4f:a1:9c:00:de:ad",
        owner=str(owner),
        name="Build box",
        platform="linux/amd64",
        hostname="build-01",
        ip="192.0.2.10",
        cores=16,
        memory=68_719_476_736,
        disk=1_000_000_000_000,
        metadata={"rack": "b2", "slot": 7},
    )
    response = await client.post(f"{acme.base}/machines", json=body, headers=bearer(acme.key))

    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/vnd.api+json")
    data = response.json()["data"]
    machine_id = data["id"]
    uuid.UUID(machine_id)
    assert data["type"] == "machines"
    attributes = data["attributes"]
    assert set(attributes) >= ATTRIBUTES, ATTRIBUTES - set(attributes)
    assert attributes["fingerprint"] == "4f:a1:9c:00:de:ad"
    assert attributes["name"] == "Build box"
    assert attributes["platform"] == "linux/amd64"
    assert attributes["hostname"] == "build-01"
    assert attributes["ip"] == "192.0.2.10"
    assert attributes["cores"] == 16
    assert attributes["memory"] == 68_719_476_736
    assert attributes["disk"] == 1_000_000_000_000
    assert attributes["metadata"] == {"rack": "b2", "slot": 7}
    # What keygen-sdk and keygen-py read: a bool, a string, an int, timestamps.
    assert attributes["requireHeartbeat"] is False
    assert attributes["heartbeatStatus"] == "NOT_STARTED"
    assert attributes["heartbeatDuration"] == 600  # Keygen's default when the policy names none
    assert attributes["lastHeartbeat"] is None
    assert attributes["nextHeartbeat"] is None
    created = timestamp(attributes["created"])
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", attributes["created"])
    timestamp(attributes["updated"])

    base = f"/v1/accounts/{acme.id}"
    own = f"{base}/machines/{machine_id}"
    assert data["links"] == {"self": own}
    assert response.headers["location"] == own
    relationships = data["relationships"]
    assert relationships["account"]["data"] == {"type": "accounts", "id": str(acme.id)}
    assert relationships["product"]["data"] == {"type": "products", "id": product_id}
    assert relationships["license"] == {
        "data": {"type": "licenses", "id": license["id"]},
        "links": {"related": f"{own}/license"},
    }
    assert relationships["owner"]["data"] == {"type": "users", "id": str(owner)}

    # A second request sees the same machine, and every link leads somewhere real.
    again = await client.get(own, headers=bearer(acme.key))
    assert again.status_code == 200
    assert again.json()["data"] == data
    for name, type_ in (("account", "accounts"), ("product", "products"), ("license", "licenses")):
        related = await client.get(relationships[name]["links"]["related"], headers=bearer(acme.key))
        assert related.status_code == 200, (name, related.text)
        assert related.json()["data"]["type"] == type_
        assert related.json()["data"]["id"] == relationships[name]["data"]["id"]


async def test_a_machine_shows_its_licenses_max_processes(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen's app/serializers/machine_serializer.rb shows ``max_processes``, which
    app/models/machine.rb takes from the license (``license_max_processes``: the license's
    own, else its policy's) when the machine has no override of its own (Keygen's API sets
    none); null when neither names a limit."""
    policy_id = await factories.policy(client, acme, floating=True, maxMachines=5, maxProcesses=4)
    license = await factories.license(client, acme, policy_id)
    machine = await factories.machine(client, acme, license["id"])
    assert machine["attributes"]["maxProcesses"] == 4
    response = await client.patch(
        f"{acme.base}/licenses/{license['id']}",
        json={"data": {"type": "licenses", "attributes": {"maxProcesses": 2}}},
        headers=bearer(acme.key),
    )
    assert response.status_code == 200, response.text
    for path in (f"machines/{machine['id']}", f"machines/{machine['id']}/actions/ping"):
        method = client.post if path.endswith("ping") else client.get
        shown = await method(f"{acme.base}/{path}", headers=bearer(acme.key))
        assert shown.status_code == 200, shown.text
        assert shown.json()["data"]["attributes"]["maxProcesses"] == 2, path
    unlimited = await factories.license(client, acme, policy={"floating": True, "maxMachines": 5})
    other = await factories.machine(client, acme, unlimited["id"])
    assert other["attributes"]["maxProcesses"] is None
    listed = await client.get(f"{acme.base}/machines?limit=100", headers=bearer(acme.key))
    shown_by_id = {item["id"]: item["attributes"]["maxProcesses"] for item in listed.json()["data"]}
    assert shown_by_id == {machine["id"]: 2, other["id"]: None}


async def test_minimal_activation_defaults(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, requireHeartbeat=True, heartbeatDuration=120)
    license = await factories.license(client, acme, policy_id)
    data = await factories.machine(client, acme, license["id"], "only-a-fingerprint")
    attributes = data["attributes"]
    for name in ("name", "platform", "hostname", "ip", "cores", "memory", "disk"):
        assert attributes[name] is None, name
    assert attributes["metadata"] == {}
    assert attributes["requireHeartbeat"] is True
    assert attributes["heartbeatDuration"] == 120
    # A policy that requires heartbeats counts them from activation (heartbeatBasis
    # FROM_CREATION by default): the machine is alive from the start.
    assert attributes["heartbeatStatus"] == "ALIVE"
    assert data["relationships"]["owner"]["data"] is None


async def test_a_machine_has_no_owner_unless_one_is_sent(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen's app/models/machine.rb: ``owner`` is optional and never taken from the license
    (its owner may be named, and is then the machine's)."""
    owner = await factories.user(app, acme)
    policy_id = await factories.policy(client, acme, floating=True, maxMachines=2)
    license = await factories.license(client, acme, policy_id, owner=str(owner))
    data = await factories.machine(client, acme, license["id"], "fp")
    assert data["relationships"]["owner"]["data"] is None
    stored = await client.get(f"{acme.base}/machines/{data['id']}", headers=bearer(acme.key))
    assert stored.json()["data"]["relationships"]["owner"]["data"] is None
    named = await factories.machine(client, acme, license["id"], "fp-2", owner=str(owner))
    assert named["relationships"]["owner"]["data"] == {"type": "users", "id": str(owner)}


async def test_singular_type_and_license_key_reference_are_accepted(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await factories.license(client, acme)
    body = _body(license["id"], "singular")
    body["data"]["type"] = "machine"
    body["data"]["relationships"]["license"]["data"]["type"] = "license"
    response = await client.post(f"{acme.base}/machines", json=body, headers=bearer(acme.key))
    assert response.status_code == 201, response.text
    assert response.json()["data"]["type"] == "machines"


async def test_bare_v1_and_account_slug_routes_serve_the_same_machine(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await factories.license(client, acme)
    data = await factories.machine(client, acme, license["id"], "fp-routes")
    by_id = await client.get(f"/v1/accounts/{acme.id}/machines/{data['id']}", headers=bearer(acme.key))
    assert by_id.status_code == 200
    assert by_id.json()["data"]["id"] == data["id"]


# -- activation input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (lambda body: body["data"]["attributes"].pop("fingerprint"), "/data/attributes/fingerprint"),
        (lambda body: body["data"]["attributes"].update(fingerprint=None), "/data/attributes/fingerprint"),
        (lambda body: body["data"]["relationships"].pop("license"), "/data/relationships/license"),
        (lambda body: body["data"]["attributes"].update(cores="eight"), "/data/attributes/cores"),
        (lambda body: body["data"]["attributes"].update(metadata=[1]), "/data/attributes/metadata"),
        (lambda body: body["data"]["attributes"].update(heartbeatStatus="ALIVE"), None),
        (lambda body: body["data"]["attributes"].update(unknown=1), None),
    ],
    ids=[
        "no-fingerprint",
        "null-fingerprint",
        "no-license",
        "string-cores",
        "metadata-array",
        "read-only-attribute",
        "unknown-attribute",
    ],
)
async def test_malformed_activation_is_400(
    client: httpx.AsyncClient, acme: Tenant, mutate: Any, pointer: str | None
) -> None:
    license = await factories.license(client, acme)
    body = _body(license["id"], "fp")
    mutate(body)
    response = await client.post(f"{acme.base}/machines", json=body, headers=bearer(acme.key))
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert "pointer" in error["source"], error
    if pointer is not None:
        assert error["source"]["pointer"].startswith(pointer), error
    assert await _ids(client, acme) == []


async def test_wrong_resource_type_is_refused(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    body = _body(license["id"], "fp")
    body["data"]["type"] = "licenses"
    response = await client.post(f"{acme.base}/machines", json=body, headers=bearer(acme.key))
    # Keygen says 400 (a schema failure); Keyplane reports a pattern mismatch as 422.
    assert response.status_code in (400, 422), response.text
    assert response.json()["errors"][0]["source"] == {"pointer": "/data/type"}
    assert await _ids(client, acme) == []


@pytest.mark.parametrize(
    ("attributes", "code", "pointer"),
    [
        ({"fingerprint": ""}, "FINGERPRINT_TOO_SHORT", "/data/attributes/fingerprint"),
        ({"fingerprint": "f" * 256}, "FINGERPRINT_TOO_LONG", "/data/attributes/fingerprint"),
        ({"cores": -1}, "CORES_INVALID", "/data/attributes/cores"),
        ({"memory": -1}, "MEMORY_INVALID", "/data/attributes/memory"),
    ],
    ids=["empty-fingerprint", "long-fingerprint", "negative-cores", "negative-memory"],
)
async def test_out_of_range_activation_is_422(
    client: httpx.AsyncClient, acme: Tenant, attributes: dict[str, Any], code: str, pointer: str
) -> None:
    license = await factories.license(client, acme)
    body = _body(license["id"], "fp")
    body["data"]["attributes"].update(attributes)
    response = await client.post(f"{acme.base}/machines", json=body, headers=bearer(acme.key))
    _error(response, 422, code, pointer)
    assert await _ids(client, acme) == []


async def test_unknown_license_is_422_license_not_found(client: httpx.AsyncClient, acme: Tenant) -> None:
    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        response = await client.post(f"{acme.base}/machines", json=_body(missing), headers=bearer(acme.key))
        body = _error(response, 422, "LICENSE_NOT_FOUND", "/data/relationships/license")
        assert body["errors"][0]["detail"] == "must exist"
    assert await _ids(client, acme) == []


async def test_unknown_owner_is_422_owner_not_found(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    response = await client.post(
        f"{acme.base}/machines", json=_body(license["id"], owner=str(uuid.uuid4())), headers=bearer(acme.key)
    )
    _error(response, 422, "OWNER_NOT_FOUND", "/data/relationships/owner")
    assert await _ids(client, acme) == []


async def test_owner_of_another_account_is_422(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    globex = await factories.tenant(app, "globex")
    stranger = await factories.user(app, globex)
    license = await factories.license(client, acme)
    response = await client.post(
        f"{acme.base}/machines", json=_body(license["id"], owner=str(stranger)), headers=bearer(acme.key)
    )
    _error(response, 422, "OWNER_NOT_FOUND", "/data/relationships/owner")


async def test_owner_may_be_named_by_email(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    owner = await factories.user(app, acme, email="ops@acme.test")
    license = await factories.license(client, acme, owner=str(owner))
    response = await client.post(
        f"{acme.base}/machines", json=_body(license["id"], owner="ops@acme.test"), headers=bearer(acme.key)
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["relationships"]["owner"]["data"]["id"] == str(owner)


async def test_owner_must_be_the_licenses_user(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    owner = await factories.user(app, acme)
    someone_else = await factories.user(app, acme)
    owned = await factories.license(client, acme, owner=str(owner))
    unowned = await factories.license(client, acme)
    for license_id in (owned["id"], unowned["id"]):
        response = await client.post(
            f"{acme.base}/machines", json=_body(license_id, owner=str(someone_else)), headers=bearer(acme.key)
        )
        _error(response, 422, "OWNER_INVALID", "/data/relationships/owner")
    assert await _ids(client, acme) == []


# -- reading -------------------------------------------------------------------------------


async def test_machine_by_id_or_fingerprint(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme, policy={"floating": True, "maxMachines": 5})
    first = await factories.machine(client, acme, license["id"], "alpha")
    await factories.machine(client, acme, license["id"], "beta")
    by_id = await client.get(f"{acme.base}/machines/{first['id']}", headers=bearer(acme.key))
    by_fingerprint = await client.get(f"{acme.base}/machines/alpha", headers=bearer(acme.key))
    assert by_id.status_code == by_fingerprint.status_code == 200
    assert by_id.json()["data"] == by_fingerprint.json()["data"] == first

    for missing in (str(uuid.uuid4()), "gamma"):
        response = await client.get(f"{acme.base}/machines/{missing}", headers=bearer(acme.key))
        jsonapi_error(response, 404, "NOT_FOUND")
        assert missing not in response.text  # a fingerprint is not repeated back


async def test_machine_license_relationship(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    machine = await factories.machine(client, acme, license["id"], "fp")
    for ref_ in (machine["id"], "fp"):
        response = await client.get(f"{acme.base}/machines/{ref_}/license", headers=bearer(acme.key))
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["type"] == "licenses"
        assert data["id"] == license["id"]
        assert data["attributes"]["key"] == license["attributes"]["key"]
    missing = await client.get(f"{acme.base}/machines/{uuid.uuid4()}/license", headers=bearer(acme.key))
    jsonapi_error(missing, 404, "NOT_FOUND")


# -- changing ------------------------------------------------------------------------------


async def test_patch_changes_name_and_metadata(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    machine = await factories.machine(
        client, acme, license["id"], "fp", name="Old", platform="linux", metadata={"a": 1}
    )
    url = f"{acme.base}/machines/{machine['id']}"
    body = {"data": {"type": "machines", "attributes": {"name": "New", "metadata": {"b": 2}}}}
    response = await client.patch(url, json=body, headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    attributes = response.json()["data"]["attributes"]
    assert attributes["name"] == "New"
    assert attributes["metadata"] == {"b": 2}
    assert attributes["platform"] == "linux"  # untouched
    assert attributes["fingerprint"] == "fp"
    assert timestamp(attributes["updated"]) >= timestamp(machine["attributes"]["updated"])

    again = (await client.get(url, headers=bearer(acme.key))).json()["data"]["attributes"]
    assert again["name"] == "New"
    assert again["metadata"] == {"b": 2}
    assert again["platform"] == "linux"

    # By fingerprint too; null clears an attribute.
    cleared = await client.patch(
        f"{acme.base}/machines/fp",
        json={"data": {"type": "machines", "attributes": {"name": None}}},
        headers=bearer(acme.key),
    )
    assert cleared.status_code == 200, cleared.text
    assert (await client.get(url, headers=bearer(acme.key))).json()["data"]["attributes"]["name"] is None


@pytest.mark.parametrize(
    ("attributes", "status"),
    [({"fingerprint": "other"}, 400), ({"heartbeatStatus": "ALIVE"}, 400), ({"cores": -2}, 422)],
    ids=["fingerprint", "read-only", "negative-cores"],
)
async def test_patch_refuses_immutable_or_invalid_attributes(
    client: httpx.AsyncClient, acme: Tenant, attributes: dict[str, Any], status: int
) -> None:
    license = await factories.license(client, acme)
    machine = await factories.machine(client, acme, license["id"], "fp", cores=4)
    url = f"{acme.base}/machines/{machine['id']}"
    response = await client.patch(
        url, json={"data": {"type": "machines", "attributes": attributes}}, headers=bearer(acme.key)
    )
    assert response.status_code == status, response.text
    name = next(iter(attributes))
    assert response.json()["errors"][0]["source"]["pointer"] == f"/data/attributes/{name}"
    assert (await client.get(url, headers=bearer(acme.key))).json()["data"] == machine


async def test_patch_cannot_move_a_machine_to_another_license(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await factories.license(client, acme)
    other = await factories.license(client, acme)
    machine = await factories.machine(client, acme, license["id"], "fp")
    body = {
        "data": {
            "type": "machines",
            "attributes": {},
            "relationships": {"license": ref("licenses", other["id"])},
        }
    }
    response = await client.patch(
        f"{acme.base}/machines/{machine['id']}", json=body, headers=bearer(acme.key)
    )
    assert response.status_code == 400, response.text
    shown = await client.get(f"{acme.base}/machines/{machine['id']}", headers=bearer(acme.key))
    assert shown.json()["data"]["relationships"]["license"]["data"]["id"] == license["id"]


async def test_patch_unknown_machine_is_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    body = {"data": {"type": "machines", "attributes": {"name": "x"}}}
    response = await client.patch(f"{acme.base}/machines/{uuid.uuid4()}", json=body, headers=bearer(acme.key))
    jsonapi_error(response, 404, "NOT_FOUND")


# -- deactivating --------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["id", "fingerprint"])
async def test_deactivate_is_204_then_404(client: httpx.AsyncClient, acme: Tenant, by: str) -> None:
    license = await factories.license(client, acme, policy={"floating": True, "maxMachines": 3})
    machine = await factories.machine(client, acme, license["id"], "doomed")
    kept = await factories.machine(client, acme, license["id"], "kept")
    ref_ = machine["id"] if by == "id" else "doomed"

    response = await client.delete(f"{acme.base}/machines/{ref_}", headers=bearer(acme.key))
    assert response.status_code == 204, response.text
    assert response.content == b""

    for lookup in (machine["id"], "doomed"):
        jsonapi_error(
            await client.get(f"{acme.base}/machines/{lookup}", headers=bearer(acme.key)), 404, "NOT_FOUND"
        )
    again = await client.delete(f"{acme.base}/machines/{ref_}", headers=bearer(acme.key))
    jsonapi_error(again, 404, "NOT_FOUND")
    assert await _ids(client, acme) == [kept["id"]]

    # The fingerprint is free again on that license.
    back = await factories.machine(client, acme, license["id"], "doomed")
    assert back["id"] != machine["id"]


# -- listing -------------------------------------------------------------------------------


async def test_list_is_newest_first_and_filters_by_license_and_fingerprint(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    first = await factories.license(client, acme, policy={"floating": True, "maxMachines": 10})
    second = await factories.license(client, acme, policy={"floating": True, "maxMachines": 10})
    a1 = await factories.machine(client, acme, first["id"], "shared")
    a2 = await factories.machine(client, acme, first["id"], "only-first")
    b1 = await factories.machine(client, acme, second["id"], "shared")

    assert await _ids(client, acme) == [b1["id"], a2["id"], a1["id"]]
    assert await _ids(client, acme, f"&license={first['id']}") == [a2["id"], a1["id"]]
    assert await _ids(client, acme, f"&license={first['attributes']['key']}") == [a2["id"], a1["id"]]
    assert await _ids(client, acme, f"&license={second['id']}") == [b1["id"]]
    assert await _ids(client, acme, "&fingerprint=shared") == [b1["id"], a1["id"]]
    assert await _ids(client, acme, f"&fingerprint=shared&license={first['id']}") == [a1["id"]]
    assert await _ids(client, acme, "&fingerprint=nothing") == []
    assert await _ids(client, acme, f"&license={uuid.uuid4()}") == []
    assert await _ids(client, acme, "&license=NO-SUCH-KEY") == []
    product_id = first["relationships"]["product"]["data"]["id"]
    assert await _ids(client, acme, f"&product={product_id}") == [a2["id"], a1["id"]]

    listed = await client.get(f"{acme.base}/machines", headers=bearer(acme.key))
    assert [item["type"] for item in listed.json()["data"]] == ["machines"] * 3
    assert listed.json()["data"][2] == a1


async def test_license_machines_relationship(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme, policy={"floating": True, "maxMachines": 5})
    other = await factories.license(client, acme)
    mine = [await factories.machine(client, acme, license["id"], f"fp-{index}") for index in range(3)]
    await factories.machine(client, acme, other["id"], "elsewhere")
    for ref_ in (license["id"], license["attributes"]["key"]):
        response = await client.get(f"{acme.base}/licenses/{ref_}/machines", headers=bearer(acme.key))
        assert response.status_code == 200, response.text
        assert [item["id"] for item in response.json()["data"]] == [m["id"] for m in reversed(mine)]
    limited = await client.get(
        f"{acme.base}/licenses/{license['id']}/machines?limit=2", headers=bearer(acme.key)
    )
    assert len(limited.json()["data"]) == 2
    missing = await client.get(f"{acme.base}/licenses/{uuid.uuid4()}/machines", headers=bearer(acme.key))
    jsonapi_error(missing, 404, "NOT_FOUND")


async def test_machines_are_paged(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme, policy={"floating": True, "maxMachines": 20})
    made = [await factories.machine(client, acme, license["id"], f"fp-{index:02d}") for index in range(12)]
    newest_first = [m["id"] for m in reversed(made)]

    default = await client.get(f"{acme.base}/machines", headers=bearer(acme.key))
    assert [item["id"] for item in default.json()["data"]] == newest_first[:10]

    path = f"{acme.base}/machines"
    first = await client.get(f"{path}?page[number]=1&page[size]=5", headers=bearer(acme.key))
    assert first.status_code == 200
    body = first.json()
    assert [item["id"] for item in body["data"]] == newest_first[:5]
    assert body["links"]["meta"] == {"pages": 3, "count": 12}
    assert body["links"]["next"] == f"{path}?page%5Bnumber%5D=2&page%5Bsize%5D=5"
    last = await client.get(f"{path}?page[number]=3&page[size]=5", headers=bearer(acme.key))
    assert [item["id"] for item in last.json()["data"]] == newest_first[10:]
    assert last.json()["links"]["next"] is None

    filtered = await client.get(
        f"{path}?license={license['id']}&page[number]=2&page[size]=5", headers=bearer(acme.key)
    )
    assert [item["id"] for item in filtered.json()["data"]] == newest_first[5:10]

    oldest = await client.get(f"{path}?order=asc&limit=3", headers=bearer(acme.key))
    assert [item["id"] for item in oldest.json()["data"]] == [m["id"] for m in made[:3]]

    for bad in ("limit=0", "limit=101", "page[size]=0&page[number]=1", "order=sideways"):
        response = await client.get(f"{path}?{bad}", headers=bearer(acme.key))
        assert response.status_code == 400, (bad, response.text)


# -- deleting the license ------------------------------------------------------------------


async def test_deleting_a_license_deletes_its_machines(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme, policy={"floating": True, "maxMachines": 5})
    other = await factories.license(client, acme)
    gone = [await factories.machine(client, acme, license["id"], f"fp-{index}") for index in range(3)]
    kept = await factories.machine(client, acme, other["id"], "fp-0")

    response = await client.delete(f"{acme.base}/licenses/{license['id']}", headers=bearer(acme.key))
    assert response.status_code == 204, response.text

    assert await _ids(client, acme) == [kept["id"]]
    for machine in gone:
        shown = await client.get(f"{acme.base}/machines/{machine['id']}", headers=bearer(acme.key))
        jsonapi_error(shown, 404, "NOT_FOUND")
    assert (await client.get(f"{acme.base}/machines/fp-0", headers=bearer(acme.key))).json()["data"] == kept
