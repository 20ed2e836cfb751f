"""What a license's users who do not own it (its licensees) may do with its machines, on
SQLite and PostgreSQL: they see them (and their processes and components), activate a
machine only as its owner, and change, ping or deactivate only the machines they own;
the license's owner keeps every right.

Keygen's files: app/policies/machine_policy.rb, app/policies/machines/heartbeat_policy.rb,
app/policies/machine_process_policy.rb, app/policies/machine_component_policy.rb
(``record.owner == bearer || record.license.owner == bearer || bearer.machines...``),
app/models/user.rb (``machines`` through ``licenses``, owned or attached),
features/api/v1/licenses/relationships/users.feature."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer

_PATCH = {"data": {"type": "machines", "attributes": {"name": "Renamed"}}}
FLOATING: dict[str, Any] = {"floating": True, "maxMachines": 10, "maxProcesses": 10}


def _denied(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["title"] == "Access denied"


async def _attach(client: httpx.AsyncClient, acme: Tenant, license_id: str, user_id: str) -> None:
    body = {"data": [{"type": "users", "id": user_id}]}
    response = await client.post(
        f"{acme.base}/licenses/{license_id}/users", json=body, headers=bearer(acme.key)
    )
    assert response.status_code == 200, response.text


async def _component(client: httpx.AsyncClient, acme: Tenant, machine_id: str, key: str) -> httpx.Response:
    body = {
        "data": {
            "type": "components",
            "attributes": {"fingerprint": f"c-{machine_id[-6:]}", "name": "CPU"},
            "relationships": {"machine": {"data": {"type": "machines", "id": machine_id}}},
        }
    }
    return await client.post(f"{acme.base}/components", json=body, headers=bearer(key))


async def test_licensee_sees_the_license_machines(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """machine_policy.rb ``index?``/``show?``: a user sees the machines of their licenses,
    attached ones included (``bearer.machines``), and what is on them; a user of no license
    of theirs sees none (404)."""
    owner_id = str(await factories.user(app, acme))
    licensee_id, licensee_key = await factories.role_key(app, client, acme, "user")
    _, stranger_key = await factories.role_key(app, client, acme, "user")
    license_id = (await factories.license(client, acme, policy=FLOATING, owner=owner_id))["id"]
    machine_id = (await factories.machine(client, acme, license_id, owner=owner_id))["id"]
    process_id = (await factories.process(client, acme, machine_id))["id"]
    made = await _component(client, acme, machine_id, acme.key)
    assert made.status_code == 201, made.text
    component_id = made.json()["data"]["id"]
    paths = (
        f"{acme.base}/machines/{machine_id}",
        f"{acme.base}/licenses/{license_id}/machines",
        f"{acme.base}/processes/{process_id}",
        f"{acme.base}/components/{component_id}",
    )
    for path in paths:
        jsonapi_error(await client.get(path, headers=bearer(licensee_key)), 404, "NOT_FOUND")
    await _attach(client, acme, license_id, licensee_id)
    for path in paths:
        assert (await client.get(path, headers=bearer(licensee_key))).status_code == 200, path
    listed = await client.get(f"{acme.base}/machines", headers=bearer(licensee_key))
    assert [item["id"] for item in listed.json()["data"]] == [machine_id]
    processes = await client.get(f"{acme.base}/processes", headers=bearer(licensee_key))
    assert [item["id"] for item in processes.json()["data"]] == [process_id]
    # machine_policy.rb ``check_out?``: ``bearer.machines.exists?(record.id)``, unprotected.
    checked = await client.post(f"{paths[0]}/actions/check-out", headers=bearer(licensee_key))
    assert checked.status_code == 200, checked.text
    assert checked.json()["data"]["type"] == "machine-files"
    for path in paths:
        jsonapi_error(await client.get(path, headers=bearer(stranger_key)), 404, "NOT_FOUND")


async def test_licensee_changes_only_their_own_machines(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """machine_policy.rb ``create?``/``update?``/``destroy?`` and heartbeat_policy.rb
    ``ping?``: ``record.owner == bearer || record.license.owner == bearer``, unless protected.
    A licensee activates only as the machine's owner, and changes, pings, spawns on or
    deactivates only a machine they own; the license's owner acts on every machine."""
    owner_id, owner_key = await factories.role_key(app, client, acme, "user")
    licensee_id, licensee_key = await factories.role_key(app, client, acme, "user")
    license_id = (await factories.license(client, acme, policy=FLOATING, owner=owner_id))["id"]
    await _attach(client, acme, license_id, licensee_id)
    owners = (await factories.machine(client, acme, license_id, owner=owner_id))["id"]

    _denied(await factories.activate(client, acme, license_id, credential=licensee_key))
    _denied(await factories.activate(client, acme, license_id, owner=owner_id, credential=licensee_key))
    created = await factories.activate(client, acme, license_id, owner=licensee_id, credential=licensee_key)
    assert created.status_code == 201, created.text
    mine = created.json()["data"]["id"]
    assert created.json()["data"]["relationships"]["owner"]["data"]["id"] == licensee_id

    theirs = f"{acme.base}/machines/{owners}"
    _denied(await client.patch(theirs, json=_PATCH, headers=bearer(licensee_key)))
    _denied(await client.post(f"{theirs}/actions/ping", headers=bearer(licensee_key)))
    _denied(await factories.spawn(client, acme, owners, credential=licensee_key))
    _denied(await _component(client, acme, owners, licensee_key))
    _denied(await client.delete(theirs, headers=bearer(licensee_key)))

    url = f"{acme.base}/machines/{mine}"
    assert (await client.patch(url, json=_PATCH, headers=bearer(licensee_key))).status_code == 200
    assert (await client.post(f"{url}/actions/ping", headers=bearer(licensee_key))).status_code == 200
    spawned = await factories.spawn(client, acme, mine, credential=licensee_key)
    assert spawned.status_code == 201, spawned.text
    kill = f"{acme.base}/processes/{spawned.json()['data']['id']}"
    assert (await client.delete(kill, headers=bearer(licensee_key))).status_code == 204

    # The license's owner acts on the licensee's machine too, and the licensee deactivates
    # their own.
    assert (await client.patch(url, json=_PATCH, headers=bearer(owner_key))).status_code == 200
    assert (await client.delete(url, headers=bearer(licensee_key))).status_code == 204
    assert (await client.get(theirs, headers=bearer(acme.key))).status_code == 200


async def test_licensee_of_a_protected_license_only_reads(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """machine_policy.rb: even their own machine is not theirs to change or check out when
    the license is protected (``!record.license.protected?``); they still see it."""
    licensee_id, licensee_key = await factories.role_key(app, client, acme, "user")
    license_id = (await factories.license(client, acme, policy={**FLOATING, "protected": True}))["id"]
    await _attach(client, acme, license_id, licensee_id)
    machine_id = (await factories.machine(client, acme, license_id, owner=licensee_id))["id"]
    url = f"{acme.base}/machines/{machine_id}"
    assert (await client.get(url, headers=bearer(licensee_key))).status_code == 200
    _denied(await factories.activate(client, acme, license_id, owner=licensee_id, credential=licensee_key))
    _denied(await client.patch(url, json=_PATCH, headers=bearer(licensee_key)))
    _denied(await client.delete(url, headers=bearer(licensee_key)))
    _denied(await client.post(f"{url}/actions/check-out", headers=bearer(licensee_key)))
