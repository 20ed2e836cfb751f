"""Machine components (Keygen's ``components``): adding them on their own and with a
machine's activation, fingerprint uniqueness by the policy's strategy, reading, renaming,
removing, who may, and the ``components`` validation scope, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.events.support import logged
from tests.factories import Tenant, bearer

FLOATING: dict[str, Any] = {"floating": True, "maxMachines": 10}


def _component(fingerprint: str, name: str = "CPU", **attributes: Any) -> dict[str, Any]:
    return {"type": "components", "attributes": {"fingerprint": fingerprint, "name": name, **attributes}}


async def _add(
    client: httpx.AsyncClient,
    acme: Tenant,
    machine: str,
    fingerprint: str,
    name: str = "CPU",
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = {
        "data": {
            **_component(fingerprint, name),
            "relationships": {"machine": factories.ref("machines", machine)},
        }
    }
    return await client.post(f"{acme.base}/components", json=body, headers=headers or bearer(acme.key))


async def _fingerprints(client: httpx.AsyncClient, acme: Tenant, query: str = "") -> list[str]:
    response = await client.get(f"{acme.base}/components?limit=100{query}", headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    return [item["attributes"]["fingerprint"] for item in response.json()["data"]]


async def _activate(
    client: httpx.AsyncClient,
    acme: Tenant,
    license_id: str,
    fingerprint: str,
    components: list[dict[str, Any]],
) -> httpx.Response:
    body = factories.document("machines", {"fingerprint": fingerprint}, license=license_id)
    body["data"]["relationships"]["components"] = {"data": components}
    return await client.post(f"{acme.base}/machines", json=body, headers=bearer(acme.key))


async def _machine(client: httpx.AsyncClient, acme: Tenant, policy_id: str | None = None) -> tuple[str, str]:
    if policy_id is None:
        policy_id = await factories.policy(client, acme, **FLOATING)
    license_id = (await factories.license(client, acme, policy_id))["id"]
    return license_id, (await factories.machine(client, acme, license_id))["id"]


# -- adding ----------------------------------------------------------------------------------


async def test_admin_adds_a_component(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """features/api/v1/components/create.feature "Admin creates a component for their
    account": 201; app/serializers/machine_component_serializer.rb for the shape;
    ``component.created``."""
    license_id, machine = await _machine(client, acme)
    response = await _add(client, acme, machine, "E31EE496", "MOBO")
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["type"] == "components"
    assert response.headers["location"] == data["links"]["self"]
    assert set(data["attributes"]) == {"fingerprint", "name", "metadata", "created", "updated"}
    assert (data["attributes"]["fingerprint"], data["attributes"]["name"]) == ("E31EE496", "MOBO")
    assert data["relationships"]["machine"]["data"] == {"type": "machines", "id": machine}
    assert data["relationships"]["license"]["data"] == {"type": "licenses", "id": license_id}
    shown = await client.get(f"{acme.base}/components/{data['id']}", headers=bearer(acme.key))
    assert shown.json()["data"] == data
    listed = await client.get(f"{acme.base}/machines/{machine}/components", headers=bearer(acme.key))
    assert [item["id"] for item in listed.json()["data"]] == [data["id"]]
    machine_doc = await client.get(f"{acme.base}/machines/{machine}", headers=bearer(acme.key))
    assert machine_doc.json()["data"]["relationships"]["components"]["links"]["related"].endswith(
        f"/machines/{machine}/components"
    )
    [event] = await logged(app, client, acme, "component.created")
    assert event["relationships"]["resource"]["data"] == {"type": "components", "id": data["id"]}


@pytest.mark.parametrize(
    ("strategy", "where", "taken"),
    [
        ("UNIQUE_PER_MACHINE", "same machine", "has already been taken"),
        ("UNIQUE_PER_MACHINE", "same license", None),
        ("UNIQUE_PER_LICENSE", "same license", "has already been taken for this license"),
        ("UNIQUE_PER_LICENSE", "same policy", None),
        ("UNIQUE_PER_POLICY", "same policy", "has already been taken for this policy"),
        ("UNIQUE_PER_POLICY", "same product", None),
        ("UNIQUE_PER_PRODUCT", "same product", "has already been taken for this product"),
        ("UNIQUE_PER_PRODUCT", "same account", None),
        ("UNIQUE_PER_ACCOUNT", "same account", "has already been taken for this account"),
    ],
)
async def test_uniqueness_strategies(
    client: httpx.AsyncClient, acme: Tenant, strategy: str, where: str, taken: str | None
) -> None:
    """create.feature "...matching another component for the same/a different
    <machine|license|policy|product> (UNIQUE_PER_*)": 422 ``FINGERPRINT_TAKEN`` with the
    strategy's detail where it looks, 201 elsewhere."""
    product = await factories.product(client, acme)
    policy = await factories.policy(client, acme, product, componentUniquenessStrategy=strategy, **FLOATING)
    license_id, machine = await _machine(client, acme, policy)
    assert (await _add(client, acme, machine, "shared")).status_code == 201
    if where == "same machine":
        other = machine
    elif where == "same license":
        other = (await factories.machine(client, acme, license_id))["id"]
    elif where == "same policy":
        other = (await _machine(client, acme, policy))[1]
    elif where == "same product":
        sibling = await factories.policy(
            client, acme, product, componentUniquenessStrategy=strategy, **FLOATING
        )
        other = (await _machine(client, acme, sibling))[1]
    else:
        elsewhere = await factories.policy(client, acme, componentUniquenessStrategy=strategy, **FLOATING)
        other = (await _machine(client, acme, elsewhere))[1]
    response = await _add(client, acme, other, "shared")
    if taken is None:
        assert response.status_code == 201, response.text
        assert await _fingerprints(client, acme) == ["shared", "shared"]
        return
    error = jsonapi_error(response, 422, "FINGERPRINT_TAKEN")["errors"][0]
    assert error["detail"] == taken
    assert error["source"] == {"pointer": "/data/attributes/fingerprint"}
    assert await _fingerprints(client, acme) == ["shared"]


async def test_refusals(client: httpx.AsyncClient, acme: Tenant) -> None:
    """create.feature: a reserved fingerprint is 422 ``FINGERPRINT_NOT_ALLOWED`` ("is
    reserved"); a blank fingerprint or name 400 "cannot be blank"; a missing member 400; an
    unknown machine 422 ``MACHINE_NOT_FOUND`` ("must exist"). Nothing is made."""
    _, machine = await _machine(client, acme)
    error = jsonapi_error(await _add(client, acme, machine, "actions"), 422, "FINGERPRINT_NOT_ALLOWED")[
        "errors"
    ][0]
    assert error["detail"] == "is reserved"
    for fingerprint, name, pointer in (("", "CPU", "fingerprint"), ("fp", " ", "name")):
        response = await _add(client, acme, machine, fingerprint, name)
        error = jsonapi_error(response, 400, f"{pointer.upper()}_MISSING")["errors"][0]
        assert (error["detail"], error["source"]) == (
            "cannot be blank",
            {"pointer": f"/data/attributes/{pointer}"},
        )
    related = {"machine": factories.ref("machines", machine)}
    for data in (
        {"type": "components", "attributes": {"name": "CPU"}, "relationships": related},
        {"type": "components", "attributes": {"fingerprint": "fp"}, "relationships": related},
        {"type": "components", "attributes": {"fingerprint": "fp", "name": "CPU"}},
        {"type": "components", "relationships": related},
    ):
        response = await client.post(f"{acme.base}/components", json={"data": data}, headers=bearer(acme.key))
        assert response.status_code == 400, response.text
    unknown = await _add(client, acme, "16896379-73ae-4d92-a458-6e7841c9ad08", "fp")
    error = jsonapi_error(unknown, 422, "MACHINE_NOT_FOUND")["errors"][0]
    assert (error["detail"], error["source"]) == ("must exist", {"pointer": "/data/relationships/machine"})
    assert await _fingerprints(client, acme) == []


async def test_concurrent_adds_of_one_fingerprint_make_one(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Uniqueness holds under concurrency: one of many simultaneous adds wins."""
    _, machine = await _machine(client, acme)
    responses = await asyncio.gather(*(_add(client, acme, machine, "racer") for _ in range(12)))
    assert sorted(response.status_code for response in responses) == [201] + [422] * 11
    assert await _fingerprints(client, acme) == ["racer"]


# -- with a machine's activation -----------------------------------------------------------


async def test_activation_with_nested_components(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """features/api/v1/machines/create.feature "Admin creates a machine with nested hardware
    components": 201, the machine and its 3 components, one event (``machine.created``)."""
    license_id = (await factories.license(client, acme, policy=FLOATING))["id"]
    components = [
        _component("E31EE496", "MOBO", metadata={"make": "ASUS"}),
        _component("3EE6404F", "CPU"),
        _component("1D595FD0", "GPU"),
    ]
    response = await _activate(client, acme, license_id, "B841C9C6", components)
    assert response.status_code == 201, response.text
    machine = response.json()["data"]["id"]
    assert sorted(await _fingerprints(client, acme, f"&machine={machine}")) == [
        "1D595FD0",
        "3EE6404F",
        "E31EE496",
    ]
    listed = await client.get(f"{acme.base}/machines/{machine}/components", headers=bearer(acme.key))
    mobo = next(item for item in listed.json()["data"] if item["attributes"]["name"] == "MOBO")
    assert mobo["attributes"]["metadata"] == {"make": "ASUS"}
    assert [
        e["attributes"]["event"]
        for e in await logged(app, client, acme, "machine.created", "component.created")
    ] == ["machine.created"]


async def test_activation_with_too_many_components_makes_nothing(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """create.feature "...with too many hardware components" (21): 422 "too many records"."""
    license_id = (await factories.license(client, acme, policy=FLOATING))["id"]
    components = [_component(f"{index:02d}", f"{index:02d}") for index in range(21)]
    response = await _activate(client, acme, license_id, "A527640D", components)
    error = jsonapi_error(response, 422, "COMPONENTS_LIMIT_EXCEEDED")["errors"][0]
    assert (error["title"], error["detail"]) == ("Unprocessable entity", "too many records")
    machines = await client.get(f"{acme.base}/machines", headers=bearer(acme.key))
    assert machines.json()["data"] == []
    assert await _fingerprints(client, acme) == []


async def test_activation_with_duplicate_components_names_each(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """create.feature "...with duplicate hardware components": 422, one
    ``COMPONENTS_FINGERPRINT_CONFLICT`` ("is duplicated") per duplicate, each pointing at its
    item; nothing made."""
    license_id = (await factories.license(client, acme, policy=FLOATING))["id"]
    response = await _activate(client, acme, license_id, "B841C9C6", [_component("E31E", "MOBO")] * 2)
    errors = jsonapi_error(response, 422, "COMPONENTS_FINGERPRINT_CONFLICT")["errors"]
    assert [(e["code"], e["detail"], e["source"]["pointer"]) for e in errors] == [
        (
            "COMPONENTS_FINGERPRINT_CONFLICT",
            "is duplicated",
            f"/data/relationships/components/data/{i}/attributes/fingerprint",
        )
        for i in (0, 1)
    ]
    assert (await client.get(f"{acme.base}/machines", headers=bearer(acme.key))).json()["data"] == []


async def test_activation_with_a_taken_component_makes_nothing(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """create.feature "...with conflicting hardware components (UNIQUE_PER_ACCOUNT)": 422
    ``COMPONENTS_FINGERPRINT_TAKEN`` at the item's fingerprint; no machine is activated."""
    policy = await factories.policy(
        client, acme, componentUniquenessStrategy="UNIQUE_PER_ACCOUNT", **FLOATING
    )
    _, machine = await _machine(client, acme, policy)
    assert (await _add(client, acme, machine, "taken")).status_code == 201
    license_id = (await factories.license(client, acme, policy))["id"]
    response = await _activate(client, acme, license_id, "new-box", [_component("taken")])
    error = jsonapi_error(response, 422, "COMPONENTS_FINGERPRINT_TAKEN")["errors"][0]
    assert error["detail"] == "has already been taken for this account"
    assert error["source"] == {"pointer": "/data/relationships/components/data/0/attributes/fingerprint"}
    listed = await client.get(f"{acme.base}/licenses/{license_id}/machines", headers=bearer(acme.key))
    assert listed.json()["data"] == []
    blank = await _activate(client, acme, license_id, "new-box", [_component("ok"), _component("", "X")])
    error = jsonapi_error(blank, 400, "COMPONENTS_FINGERPRINT_MISSING")["errors"][0]
    assert error["source"] == {"pointer": "/data/relationships/components/data/1/attributes/fingerprint"}


# -- changing and removing -----------------------------------------------------------------


async def test_rename_and_remove(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """features/api/v1/components/update.feature and destroy.feature: 200 with the change,
    204 and gone; ``component.updated``, ``component.deleted``; deleting the machine takes
    its components with it."""
    _, machine = await _machine(client, acme)
    added = (await _add(client, acme, machine, "fp")).json()["data"]
    url = f"{acme.base}/components/{added['id']}"
    patch = {"data": {"type": "components", "attributes": {"name": "GPU", "metadata": {"vram": 24}}}}
    changed = await client.patch(url, json=patch, headers=bearer(acme.key))
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["attributes"]["name"] == "GPU"
    assert (await client.get(url, headers=bearer(acme.key))).json()["data"]["attributes"]["metadata"] == {
        "vram": 24
    }
    fingerprint = {"data": {"type": "components", "attributes": {"fingerprint": "other"}}}
    assert (await client.patch(url, json=fingerprint, headers=bearer(acme.key))).status_code == 400
    assert (await client.delete(url, headers=bearer(acme.key))).status_code == 204
    jsonapi_error(await client.get(url, headers=bearer(acme.key)), 404, "NOT_FOUND")
    assert [
        e["attributes"]["event"]
        for e in await logged(app, client, acme, "component.updated", "component.deleted")
    ] == [
        "component.deleted",
        "component.updated",
    ]
    again = (await _add(client, acme, machine, "fp")).json()["data"]
    assert (
        await client.delete(f"{acme.base}/machines/{machine}", headers=bearer(acme.key))
    ).status_code == 204
    jsonapi_error(
        await client.get(f"{acme.base}/components/{again['id']}", headers=bearer(acme.key)), 404, "NOT_FOUND"
    )


# -- who may -------------------------------------------------------------------------------


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
    """app/policies/machine_component_policy.rb; create.feature "Support attempts to create a
    component" and "Read-only attempts...": 403."""
    _, key = await factories.role_key(app, client, acme, role)
    _, machine = await _machine(client, acme)
    existing = (await _add(client, acme, machine, "existing")).json()["data"]["id"]
    url = f"{acme.base}/components/{existing}"
    assert (await client.get(url, headers=bearer(key))).status_code == 200
    assert (await _add(client, acme, machine, "new", headers=bearer(key))).status_code == create
    rename = {"data": {"type": "components", "attributes": {"name": "Renamed"}}}
    assert (await client.patch(url, json=rename, headers=bearer(key))).status_code == update
    assert (await client.delete(url, headers=bearer(key))).status_code == delete


async def test_owners_products_and_licenses(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """machine_component_policy.rb: a user adds components to machines of licenses they own
    unless protected ("User creates a component for their machine with a protected policy":
    403); a license to its own machines even protected ("License creates a component for a
    protected machine": 201) but not another's (403); a product token to its product's
    machines, another product's are 403 to add to and 404 to read."""
    user_id, key = await factories.role_key(app, client, acme, "user")
    mine = (await factories.license(client, acme, policy=FLOATING, owner=user_id))["id"]
    my_machine = (await factories.machine(client, acme, mine))["id"]
    assert (await _add(client, acme, my_machine, "u1", headers=bearer(key))).status_code == 201
    guarded = (await factories.license(client, acme, policy={**FLOATING, "protected": True}, owner=user_id))[
        "id"
    ]
    guarded_machine = (await factories.machine(client, acme, guarded))["id"]
    assert (await _add(client, acme, guarded_machine, "u2", headers=bearer(key))).status_code == 403

    policy = {**FLOATING, "authenticationStrategy": "LICENSE", "protected": True}
    license = await factories.license(client, acme, policy=policy)
    as_license = {"Authorization": f"License {license['attributes']['key']}"}
    own_machine = (await factories.machine(client, acme, license["id"]))["id"]
    assert (await _add(client, acme, own_machine, "l1", headers=as_license)).status_code == 201
    assert (await _add(client, acme, my_machine, "l2", headers=as_license)).status_code == 403

    product = await factories.product(client, acme)
    token = await factories.product_token(client, acme, product)
    product_policy = await factories.policy(client, acme, product, **FLOATING)
    _, product_machine = await _machine(client, acme, product_policy)
    assert (await _add(client, acme, product_machine, "p1", headers=bearer(token))).status_code == 201
    assert (await _add(client, acme, my_machine, "p2", headers=bearer(token))).status_code == 403
    seen = await client.get(f"{acme.base}/components", headers=bearer(token))
    assert [item["attributes"]["fingerprint"] for item in seen.json()["data"]] == ["p1"]
    assert sorted(await _fingerprints(client, acme)) == ["l1", "p1", "u1"]


# -- the components validation scope -------------------------------------------------------


async def _validate(
    client: httpx.AsyncClient, acme: Tenant, key: str, scope: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        f"{acme.base}/licenses/actions/validate-key", json={"meta": {"key": key, "scope": scope}}
    )
    assert response.status_code == 200, response.text
    meta: dict[str, Any] = response.json()["meta"]
    return meta


@pytest.mark.parametrize(
    ("strategy", "sent", "code", "detail"),
    [
        ("MATCH_ANY", ["a", "x"], "VALID", "is valid"),
        ("MATCH_ANY", ["x", "y"], "COMPONENTS_SCOPE_MISMATCH", "does not match any associated components"),
        (
            "MATCH_TWO",
            ["a", "x"],
            "COMPONENTS_SCOPE_MISMATCH",
            "does not match at least 2 associated components",
        ),
        ("MATCH_TWO", ["a", "b", "x"], "VALID", "is valid"),
        (
            "MATCH_MOST",
            ["a", "x", "y"],
            "COMPONENTS_SCOPE_MISMATCH",
            "does not match enough associated components",
        ),
        ("MATCH_MOST", ["a", "b", "x"], "VALID", "is valid"),
        (
            "MATCH_ALL",
            ["a", "b", "x"],
            "COMPONENTS_SCOPE_MISMATCH",
            "does not match all associated components",
        ),
        ("MATCH_ALL", ["a", "b", "c"], "VALID", "is valid"),
    ],
)
async def test_components_scope_matching(
    client: httpx.AsyncClient, acme: Tenant, strategy: str, sent: list[str], code: str, detail: str
) -> None:
    """app/services/license_validation_service.rb: the components sent are matched against
    the components of the machine named by ``fingerprint``, by the policy's
    ``componentMatchingStrategy``; the mismatch detail names the strategy's rule."""
    policy = await factories.policy(client, acme, componentMatchingStrategy=strategy, **FLOATING)
    license = await factories.license(client, acme, policy)
    components = [_component(fingerprint) for fingerprint in ("a", "b", "c")]
    assert (await _activate(client, acme, license["id"], "box", components)).status_code == 201
    meta = await _validate(
        client, acme, license["attributes"]["key"], {"fingerprint": "box", "components": sent}
    )
    assert (meta["code"], meta["valid"]) == (code, code == "VALID")
    expected = detail if code == "VALID" else f"one or more component is not activated ({detail})"
    assert meta["detail"] == expected
    assert meta["scope"] == {"fingerprint": "box", "components": sent}
    by_id = await client.post(
        f"{acme.base}/licenses/{license['id']}/actions/validate",
        json={"meta": {"scope": {"fingerprint": "box", "components": sent}}},
        headers=bearer(acme.key),
    )
    assert by_id.json()["meta"]["code"] == code


async def test_components_scope_rules(client: httpx.AsyncClient, acme: Tenant) -> None:
    """license_validation_service.rb: components without a ``fingerprint`` scope are
    FINGERPRINT_SCOPE_REQUIRED ("...when using the components scope"); an empty list is
    COMPONENTS_SCOPE_EMPTY; ``requireComponentsScope`` without one is
    COMPONENTS_SCOPE_REQUIRED; a machine matched by fingerprint with no components matches none."""
    policy = await factories.policy(client, acme, requireComponentsScope=True, **FLOATING)
    license = await factories.license(client, acme, policy)
    key = license["attributes"]["key"]
    assert (await _activate(client, acme, license["id"], "box", [_component("a")])).status_code == 201
    await factories.machine(client, acme, license["id"], "bare")
    needs = await _validate(client, acme, key, {"components": ["a"]})
    assert (needs["code"], needs["detail"]) == (
        "FINGERPRINT_SCOPE_REQUIRED",
        "fingerprint scope is required when using the components scope",
    )
    empty = await _validate(client, acme, key, {"fingerprint": "box", "components": []})
    assert (empty["code"], empty["detail"]) == ("COMPONENTS_SCOPE_EMPTY", "components scope is empty")
    required = await _validate(client, acme, key, {"fingerprint": "box"})
    assert (required["code"], required["detail"]) == (
        "COMPONENTS_SCOPE_REQUIRED",
        "components scope is required",
    )
    assert (await _validate(client, acme, key, {"fingerprint": "bare", "components": ["a"]}))["code"] == (
        "COMPONENTS_SCOPE_MISMATCH"
    )
    assert (await _validate(client, acme, key, {"fingerprint": "box", "components": ["a"]}))[
        "code"
    ] == "VALID"
    # A component added later is matched at once (the answer is never stale).
    machine = (await client.get(f"{acme.base}/machines/box", headers=bearer(acme.key))).json()["data"]["id"]
    assert (await _add(client, acme, machine, "late")).status_code == 201
    assert (await _validate(client, acme, key, {"fingerprint": "box", "components": ["late"]}))[
        "code"
    ] == "VALID"


async def test_scope_wordings_never_mix_in_the_cached_path(client: httpx.AsyncClient, acme: Tenant) -> None:
    """One code, two of Keygen's wordings (license_validation_service.rb): the cached
    ``validate-key`` answers each with its own, whichever came first."""
    loose = (await factories.license(client, acme, policy=FLOATING))["attributes"]["key"]
    strict = await factories.policy(client, acme, requireFingerprintScope=True, **FLOATING)
    required = (await factories.license(client, acme, strict))["attributes"]["key"]
    for _ in range(2):
        with_components = await _validate(client, acme, loose, {"components": ["a"]})
        assert (with_components["code"], with_components["detail"]) == (
            "FINGERPRINT_SCOPE_REQUIRED",
            "fingerprint scope is required when using the components scope",
        )
        plain = await _validate(client, acme, required, {})
        assert (plain["code"], plain["detail"]) == (
            "FINGERPRINT_SCOPE_REQUIRED",
            "fingerprint scope is required",
        )
