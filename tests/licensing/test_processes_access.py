"""Who may do what with processes (app/policies/machine_process_policy.rb and
app/policies/machine_processes/heartbeat_policy.rb), and tenant isolation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer

FLOATING: dict[str, Any] = {"floating": True, "maxMachines": 10}
_PATCH = {"data": {"type": "processes", "attributes": {"metadata": {"k": "v"}}}}


def _denied(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["title"] == "Access denied"


async def _pids(client: httpx.AsyncClient, acme: Tenant) -> set[str]:
    response = await client.get(f"{acme.base}/processes?limit=100", headers=bearer(acme.key))
    assert response.status_code == 200
    return {item["attributes"]["pid"] for item in response.json()["data"]}


@pytest.mark.parametrize(
    ("role", "create", "update", "ping", "delete"),
    [
        ("admin", 201, 200, 200, 204),
        ("developer", 201, 200, 200, 204),
        ("sales-agent", 201, 200, 403, 204),
        ("support-agent", 403, 200, 403, 403),
        ("read-only", 403, 403, 403, 403),
    ],
)
async def test_staff_roles(
    app: FastAPI,
    client: httpx.AsyncClient,
    acme: Tenant,
    role: str,
    create: int,
    update: int,
    ping: int,
    delete: int,
) -> None:
    """machine_process_policy.rb: every staff role reads; admin, developer and sales agent
    spawn and kill; support agents also update; heartbeat_policy.rb: only admins and
    developers ping. create.feature "Support attempts to spawn"/"Read-only attempts": 403."""
    _, key = await factories.role_key(app, client, acme, role)
    license_id = (await factories.license(client, acme, policy=FLOATING))["id"]
    machine = (await factories.machine(client, acme, license_id))["id"]
    existing = (await factories.process(client, acme, machine, "existing"))["id"]
    url = f"{acme.base}/processes/{existing}"
    assert (await client.get(url, headers=bearer(key))).status_code == 200
    listed = await client.get(f"{acme.base}/processes", headers=bearer(key))
    assert [item["id"] for item in listed.json()["data"]] == [existing]

    assert (await factories.spawn(client, acme, machine, "new", credential=key)).status_code == create
    assert (await client.patch(url, json=_PATCH, headers=bearer(key))).status_code == update
    assert (await client.post(f"{url}/actions/ping", headers=bearer(key))).status_code == ping
    assert (await client.delete(url, headers=bearer(key))).status_code == delete
    expected = ({"new"} if create == 201 else set()) | (set() if delete == 204 else {"existing"})
    assert await _pids(client, acme) == expected


async def test_product_token_manages_its_own_products_processes(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """machine_process_policy.rb: a product acts on its own product's processes; another
    product's are not found (404), and spawning on its machines is 403
    (create.feature "Product spawns a process for another product's machine")."""
    mine_product = await factories.product(client, acme)
    token = await factories.product_token(client, acme, mine_product)
    mine_policy = await factories.policy(client, acme, mine_product, **FLOATING)
    mine = (await factories.license(client, acme, mine_policy))["id"]
    my_machine = (await factories.machine(client, acme, mine))["id"]
    theirs = (await factories.license(client, acme, policy=FLOATING))["id"]
    their_machine = (await factories.machine(client, acme, theirs))["id"]
    their_process = (await factories.process(client, acme, their_machine, "theirs"))["id"]

    created = await factories.spawn(client, acme, my_machine, "mine", credential=token)
    assert created.status_code == 201, created.text
    url = f"{acme.base}/processes/{created.json()['data']['id']}"
    assert (await client.get(url, headers=bearer(token))).status_code == 200
    listed = await client.get(f"{acme.base}/processes", headers=bearer(token))
    assert [item["attributes"]["pid"] for item in listed.json()["data"]] == ["mine"]
    assert (await client.patch(url, json=_PATCH, headers=bearer(token))).status_code == 200
    assert (await client.post(f"{url}/actions/ping", headers=bearer(token))).status_code == 200

    _denied(await factories.spawn(client, acme, their_machine, "sneaky", credential=token))
    _denied(await factories.spawn(client, acme, str(uuid.uuid4()), "sneaky", credential=token))
    their_url = f"{acme.base}/processes/{their_process}"
    for response in (
        await client.get(their_url, headers=bearer(token)),
        await client.patch(their_url, json=_PATCH, headers=bearer(token)),
        await client.post(f"{their_url}/actions/ping", headers=bearer(token)),
        await client.delete(their_url, headers=bearer(token)),
        await client.get(f"{acme.base}/machines/{their_machine}/processes", headers=bearer(token)),
    ):
        jsonapi_error(response, 404, "NOT_FOUND")
    assert (await client.delete(url, headers=bearer(token))).status_code == 204
    assert await _pids(client, acme) == {"theirs"}


async def test_user_spawns_on_their_own_unprotected_license(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """create.feature "User spawns a process for their machine (license owner)": 201;
    "User spawns a process for another user's machine": 403; update.feature "User updates a
    process's metadata": 400 (metadata is for staff and products)."""
    user_id, key = await factories.role_key(app, client, acme, "user")
    mine = (await factories.license(client, acme, policy=FLOATING, owner=user_id))["id"]
    my_machine = (await factories.machine(client, acme, mine))["id"]
    other = await factories.user(app, acme)
    theirs = (await factories.license(client, acme, policy=FLOATING, owner=str(other)))["id"]
    their_machine = (await factories.machine(client, acme, theirs))["id"]
    their_process = (await factories.process(client, acme, their_machine, "theirs"))["id"]

    created = await factories.spawn(client, acme, my_machine, "mine", credential=key)
    assert created.status_code == 201, created.text
    url = f"{acme.base}/processes/{created.json()['data']['id']}"
    assert (await client.get(url, headers=bearer(key))).status_code == 200
    assert (await client.post(f"{url}/actions/ping", headers=bearer(key))).status_code == 200
    refused = await client.patch(url, json=_PATCH, headers=bearer(key))
    jsonapi_error(refused, 400, "ATTRIBUTE_NOT_PERMITTED")
    assert refused.json()["errors"][0]["source"] == {"pointer": "/data/attributes/metadata"}
    empty = {"data": {"type": "processes", "attributes": {}}}
    assert (await client.patch(url, json=empty, headers=bearer(key))).status_code == 200

    _denied(await factories.spawn(client, acme, their_machine, "sneaky", credential=key))
    jsonapi_error(
        await client.get(f"{acme.base}/processes/{their_process}", headers=bearer(key)), 404, "NOT_FOUND"
    )
    assert (await client.delete(url, headers=bearer(key))).status_code == 204
    assert await _pids(client, acme) == {"theirs"}


async def test_user_may_not_spawn_on_a_protected_license(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """create.feature "User spawns a process for their machine with a protected policy": 403;
    a protected license's processes are the staff's to change."""
    user_id, key = await factories.role_key(app, client, acme, "user")
    license_id = (
        await factories.license(client, acme, policy={**FLOATING, "protected": True}, owner=user_id)
    )["id"]
    machine = (await factories.machine(client, acme, license_id))["id"]
    existing = (await factories.process(client, acme, machine, "staff-made"))["id"]
    _denied(await factories.spawn(client, acme, machine, "mine", credential=key))
    url = f"{acme.base}/processes/{existing}"
    assert (await client.get(url, headers=bearer(key))).status_code == 200
    _denied(await client.post(f"{url}/actions/ping", headers=bearer(key)))
    _denied(await client.delete(url, headers=bearer(key)))
    assert await _pids(client, acme) == {"staff-made"}


async def test_license_key_spawns_on_its_own_machines_even_protected(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """create.feature "License spawns a process for their machine" and "...for a protected
    machine": 201; "...for another license's machine": 403; update.feature "License updates a
    process's metadata": 400."""
    policy = {**FLOATING, "authenticationStrategy": "LICENSE", "protected": True}
    license = await factories.license(client, acme, policy=policy)
    as_license = {"Authorization": f"License {license['attributes']['key']}"}
    machine = (await factories.machine(client, acme, license["id"]))["id"]
    other = (await factories.license(client, acme, policy=policy))["id"]
    other_machine = (await factories.machine(client, acme, other))["id"]

    created = await factories.spawn(client, acme, machine, "mine", headers=as_license)
    assert created.status_code == 201, created.text
    url = f"{acme.base}/processes/{created.json()['data']['id']}"
    assert (await client.get(url, headers=as_license)).status_code == 200
    assert (await client.post(f"{url}/actions/ping", headers=as_license)).status_code == 200
    jsonapi_error(await client.patch(url, json=_PATCH, headers=as_license), 400, "ATTRIBUTE_NOT_PERMITTED")
    _denied(await factories.spawn(client, acme, other_machine, "sneaky", headers=as_license))
    assert (await client.delete(url, headers=as_license)).status_code == 204
    assert await _pids(client, acme) == set()


async def test_anonymous_and_other_accounts(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """create.feature "Anonymous attempts to spawn a process": 401; another account's admin
    is 401 here (its credential is not this account's)."""
    license_id = (await factories.license(client, acme, policy=FLOATING))["id"]
    machine = (await factories.machine(client, acme, license_id))["id"]
    existing = (await factories.process(client, acme, machine, "1"))["id"]
    jsonapi_error(await factories.spawn(client, acme, machine, headers={}), 401, "TOKEN_MISSING")
    other = await factories.tenant(app, "globex")
    jsonapi_error(await factories.spawn(client, acme, machine, credential=other.key), 401, "TOKEN_INVALID")
    # Under its own account, the other admin finds nothing of acme's.
    jsonapi_error(
        await client.get(f"{other.base}/processes/{existing}", headers=bearer(other.key)), 404, "NOT_FOUND"
    )
    listed = await client.get(f"{other.base}/processes", headers=bearer(other.key))
    assert listed.json()["data"] == []
    response = await factories.spawn(client, other, machine)
    jsonapi_error(response, 422, "MACHINE_NOT_FOUND")
    assert await _pids(client, acme) == {"1"}
