"""``machineLeasingStrategy`` PER_USER, on SQLite and PostgreSQL: the machine, core, memory and
disk limits hold for each user of the license (its owner and its licensees) and for the
machines without an owner together, at activation (under concurrency too) and in validation,
where the ``user`` scope names whose machines are counted.

Keygen's files: app/models/machine.rb (the ``validate on: :create`` overage checks,
``license.machines.where(owner:) # nil owner is significant``), app/models/policy.rb
(``machine_lease_per_user?``), app/services/license_validation_service.rb (``owner`` from
``scope[:user]`` among ``license.users``, by id or email), features/api/v1/machines/create.feature
(the "PER_USER leasing strategy" scenarios), features/api/v1/licenses/actions/validations.feature."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer
from tests.licensing.test_validation import code_of, validate_key


async def _attach(client: httpx.AsyncClient, acme: Tenant, license_id: str, user_id: str) -> None:
    body = {"data": [{"type": "users", "id": user_id}]}
    response = await client.post(
        f"{acme.base}/licenses/{license_id}/users", json=body, headers=bearer(acme.key)
    )
    assert response.status_code == 200, response.text


async def _licensed(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, **policy: Any
) -> tuple[dict[str, Any], str, str]:
    """A license of a new policy with ``policy``'s attributes, owned by one user and attached
    to another: (its data, the owner's id, the licensee's id)."""
    owner_id = str(await factories.user(app, acme, email="owner@acme.test"))
    licensee_id = str(await factories.user(app, acme))
    license = await factories.license(client, acme, policy=policy, owner=owner_id)
    await _attach(client, acme, license["id"], licensee_id)
    return license, owner_id, licensee_id


def _refused(response: httpx.Response, code: str) -> str:
    body = jsonapi_error(response, 422, code)
    error = body["errors"][0]
    assert error["source"] == {"pointer": "/data"}, body
    detail: str = error["detail"]
    return detail


async def _patch_license(client: httpx.AsyncClient, acme: Tenant, license_id: str, **attributes: Any) -> None:
    body = {"data": {"type": "licenses", "attributes": attributes}}
    response = await client.patch(f"{acme.base}/licenses/{license_id}", json=body, headers=bearer(acme.key))
    assert response.status_code == 200, response.text


# -- activation ----------------------------------------------------------------------------


async def test_each_user_and_the_ownerless_machines_hold_max_machines(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """create.feature "has exceeded its limit (PER_USER leasing strategy, with owner / no
    owner)": a user's machines count against ``maxMachines`` on their own, and so do the
    machines without an owner; another user's seats stay free."""
    license, owner_id, licensee_id = await _licensed(
        app, client, acme, floating=True, maxMachines=2, machineLeasingStrategy="PER_USER"
    )
    for user in (owner_id, licensee_id, None):
        for _ in range(2):
            await factories.machine(client, acme, license["id"], owner=user)
        refused = await factories.activate(client, acme, license["id"], owner=user)
        assert (
            _refused(refused, "MACHINE_LIMIT_EXCEEDED")
            == "machine count has exceeded maximum allowed for user (2)"
        )
    listed = await client.get(f"{acme.base}/licenses/{license['id']}/machines", headers=bearer(acme.key))
    assert len(listed.json()["data"]) == 6
    # Deactivating one of the owner's machines frees a seat for the owner alone.
    owned = [m for m in listed.json()["data"] if m["relationships"]["owner"]["data"] is not None]
    mine = next(m for m in owned if m["relationships"]["owner"]["data"]["id"] == owner_id)
    assert (
        await client.delete(f"{acme.base}/machines/{mine['id']}", headers=bearer(acme.key))
    ).status_code == 204
    _refused(
        await factories.activate(client, acme, license["id"], owner=licensee_id), "MACHINE_LIMIT_EXCEEDED"
    )
    await factories.machine(client, acme, license["id"], owner=owner_id)


async def test_per_license_counts_every_user_together(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """The default PER_LICENSE: one user's machines take the seats of all (machine.rb's
    ``lease_per_license?`` branch)."""
    license, owner_id, licensee_id = await _licensed(
        app, client, acme, floating=True, maxMachines=2, machineLeasingStrategy="PER_LICENSE"
    )
    for _ in range(2):
        await factories.machine(client, acme, license["id"], owner=owner_id)
    refused = await factories.activate(client, acme, license["id"], owner=licensee_id)
    assert (
        _refused(refused, "MACHINE_LIMIT_EXCEEDED")
        == "machine count has exceeded maximum allowed for license (2)"
    )


async def test_node_locked_per_user_is_one_machine_per_user(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """create.feature "node-locked license that has exceeded its limit (PER_USER leasing
    strategy, with owner / no owner)"."""
    license, owner_id, licensee_id = await _licensed(app, client, acme, machineLeasingStrategy="PER_USER")
    for user in (owner_id, licensee_id, None):
        await factories.machine(client, acme, license["id"], owner=user)
        refused = await factories.activate(client, acme, license["id"], owner=user)
        assert (
            _refused(refused, "MACHINE_LIMIT_EXCEEDED")
            == "machine count has exceeded maximum allowed for user (1)"
        )


async def test_per_user_overage(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """create.feature "under / has exceeded its overage limit (PER_USER leasing strategy)":
    the overage applies to each user's count (1.5 x 2 = 3 machines each)."""
    license, owner_id, licensee_id = await _licensed(
        app,
        client,
        acme,
        floating=True,
        maxMachines=2,
        machineLeasingStrategy="PER_USER",
        overageStrategy="ALLOW_1_5X_OVERAGE",
    )
    for user in (owner_id, None):
        for _ in range(3):
            await factories.machine(client, acme, license["id"], owner=user)
        _refused(await factories.activate(client, acme, license["id"], owner=user), "MACHINE_LIMIT_EXCEEDED")
    await factories.machine(client, acme, license["id"], owner=licensee_id)


async def test_core_limit_per_user(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """machine.rb's core limit ``when lease_per_user?``: the cores of the user's machines (on
    create and on update), the ownerless machines' together."""
    license, owner_id, licensee_id = await _licensed(
        app, client, acme, floating=True, maxCores=4, machineLeasingStrategy="PER_USER"
    )
    await factories.machine(client, acme, license["id"], owner=owner_id, cores=4)
    others = await factories.machine(client, acme, license["id"], owner=licensee_id, cores=3)
    await factories.machine(client, acme, license["id"], cores=4)
    refused = await factories.activate(client, acme, license["id"], owner=owner_id, cores=1)
    assert _refused(refused, "MACHINE_CORE_LIMIT_EXCEEDED") == "exceeds the maximum allowed for user (4)"
    _refused(await factories.activate(client, acme, license["id"], cores=1), "MACHINE_CORE_LIMIT_EXCEEDED")
    await factories.machine(client, acme, license["id"], owner=licensee_id, cores=1)
    body = {"data": {"type": "machines", "attributes": {"cores": 4}}}
    patched = await client.patch(f"{acme.base}/machines/{others['id']}", json=body, headers=bearer(acme.key))
    _refused(patched, "MACHINE_CORE_LIMIT_EXCEEDED")
    body = {"data": {"type": "machines", "attributes": {"cores": 2}}}
    patched = await client.patch(f"{acme.base}/machines/{others['id']}", json=body, headers=bearer(acme.key))
    assert patched.status_code == 200, patched.text


async def test_concurrent_activations_hold_the_limit_per_user(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Activations serialize on the license row, so each user's count holds under a race."""
    license, owner_id, licensee_id = await _licensed(
        app, client, acme, floating=True, maxMachines=3, machineLeasingStrategy="PER_USER"
    )
    users = (owner_id, licensee_id, None)
    responses = await asyncio.gather(
        *(
            factories.activate(client, acme, license["id"], f"racer-{index:02d}", owner=users[index % 3])
            for index in range(24)
        )
    )
    won: dict[str | None, int] = {}
    for index, response in enumerate(responses):
        if response.status_code == 201:
            owner = response.json()["data"]["relationships"]["owner"]["data"]
            assert (owner and owner["id"]) == users[index % 3]
            won[users[index % 3]] = won.get(users[index % 3], 0) + 1
        else:
            _refused(response, "MACHINE_LIMIT_EXCEEDED")
    assert won == {owner_id: 3, licensee_id: 3, None: 3}


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["PER_USER", "PER_LICENSE"])
async def test_validation_counts_the_scoped_users_machines(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, strategy: str
) -> None:
    """license_validation_service.rb: under PER_USER, TOO_MANY_MACHINES counts the machines of
    the user the ``user`` scope names (by id or email), else those without an owner; under
    PER_LICENSE, every machine of the license."""
    license, owner_id, licensee_id = await _licensed(
        app, client, acme, strict=True, floating=True, maxMachines=2, machineLeasingStrategy=strategy
    )
    if strategy == "PER_LICENSE":
        await _patch_license(client, acme, license["id"], maxMachines=5)
    for user in (owner_id, owner_id, None):
        await factories.machine(client, acme, license["id"], owner=user)
    await _patch_license(client, acme, license["id"], maxMachines=1)
    per_user = strategy == "PER_USER"
    too_many = (False, "TOO_MANY_MACHINES")
    assert await code_of(client, acme, license["id"], user=owner_id) == too_many
    assert await code_of(client, acme, license["id"], user="OWNER@acme.test") == too_many
    assert await code_of(client, acme, license["id"], user=licensee_id) == (
        (True, "VALID") if per_user else too_many
    )
    # No user scope: the machines without an owner (one here).
    assert await code_of(client, acme, license["id"]) == ((True, "VALID") if per_user else too_many)
    quick = await client.get(
        f"{acme.base}/licenses/{license['id']}/actions/validate", headers=bearer(acme.key)
    )
    assert quick.json()["meta"]["code"] == ("VALID" if per_user else "TOO_MANY_MACHINES")
    # The key's validation, answered again from the cache, counts alike.
    key = license["attributes"]["key"]
    for _ in range(2):
        body = await validate_key(client, acme, key, scope={"user": licensee_id})
        assert body["meta"]["code"] == ("VALID" if per_user else "TOO_MANY_MACHINES")
        body = await validate_key(client, acme, key, scope={"user": owner_id})
        assert body["meta"]["code"] == "TOO_MANY_MACHINES"


async def test_validation_counts_the_scoped_users_cores(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """license_validation_service.rb's TOO_MANY_CORES ``when license.machine_lease_per_user?``."""
    license, owner_id, licensee_id = await _licensed(
        app, client, acme, strict=True, floating=True, maxCores=8, machineLeasingStrategy="PER_USER"
    )
    await factories.machine(client, acme, license["id"], owner=owner_id, cores=6)
    await factories.machine(client, acme, license["id"], owner=licensee_id, cores=2)
    await _patch_license(client, acme, license["id"], maxCores=4)
    assert await code_of(client, acme, license["id"], user=owner_id) == (False, "TOO_MANY_CORES")
    assert await code_of(client, acme, license["id"], user=licensee_id) == (True, "VALID")
