"""Machine activation limits: fingerprint uniqueness per the policy's strategy, the machine
limit with overage, core/memory/disk limits, and both under concurrency (SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer


async def _machines(client: httpx.AsyncClient, account: Tenant, license_id: str) -> list[str]:
    response = await client.get(
        f"{account.base}/licenses/{license_id}/machines?limit=100", headers=bearer(account.key)
    )
    assert response.status_code == 200, response.text
    return [item["attributes"]["fingerprint"] for item in response.json()["data"]]


def _taken(response: httpx.Response) -> str:
    body = jsonapi_error(response, 422, "FINGERPRINT_TAKEN")
    error = body["errors"][0]
    assert error["source"] == {"pointer": "/data/attributes/fingerprint"}, body
    assert error["title"] == "Unprocessable resource"
    assert error["detail"].startswith("has already been taken"), error
    detail: str = error["detail"]
    return detail


def _over_limit(response: httpx.Response, code: str = "MACHINE_LIMIT_EXCEEDED") -> str:
    body = jsonapi_error(response, 422, code)
    error = body["errors"][0]
    assert error["source"] == {"pointer": "/data"}, body
    detail: str = error["detail"]
    return detail


# -- fingerprint uniqueness ----------------------------------------------------------------


async def test_same_fingerprint_twice_on_a_license_is_taken(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id = (await factories.license(client, acme, policy={"floating": True, "maxMachines": 5}))["id"]
    first = await factories.machine(client, acme, license_id, "dup")
    _taken(await factories.activate(client, acme, license_id, "dup"))
    # Fingerprints are compared exactly: another spelling is another machine.
    await factories.machine(client, acme, license_id, "DUP")
    assert await _machines(client, acme, license_id) == ["DUP", "dup"]
    shown = await client.get(f"{acme.base}/machines/{first['id']}", headers=bearer(acme.key))
    assert shown.json()["data"] == first


async def test_node_locked_reactivation_reports_the_taken_fingerprint(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Integrators treat FINGERPRINT_TAKEN as "already activated" (Keygen issue digest #9)."""
    license_id = (await factories.license(client, acme))["id"]
    await factories.machine(client, acme, license_id, "mine")
    response = await factories.activate(client, acme, license_id, "mine")
    assert "FINGERPRINT_TAKEN" in [error["code"] for error in response.json()["errors"]]
    assert response.status_code == 422


async def test_unique_per_license_allows_the_fingerprint_on_another_license(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, machineUniquenessStrategy="UNIQUE_PER_LICENSE")
    first = (await factories.license(client, acme, policy_id))["id"]
    second = (await factories.license(client, acme, policy_id))["id"]
    a = await factories.machine(client, acme, first, "shared")
    b = await factories.machine(client, acme, second, "shared")
    assert a["id"] != b["id"]
    assert await _machines(client, acme, first) == ["shared"]
    assert await _machines(client, acme, second) == ["shared"]


async def test_unique_per_policy(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(
        client, acme, product_id, machineUniquenessStrategy="UNIQUE_PER_POLICY"
    )
    sibling_policy = await factories.policy(
        client, acme, product_id, machineUniquenessStrategy="UNIQUE_PER_POLICY"
    )
    first = (await factories.license(client, acme, policy_id))["id"]
    second = (await factories.license(client, acme, policy_id))["id"]
    elsewhere = (await factories.license(client, acme, sibling_policy))["id"]

    await factories.machine(client, acme, first, "shared")
    detail = _taken(await factories.activate(client, acme, second, "shared"))
    assert "policy" in detail
    assert await _machines(client, acme, second) == []
    # Another policy of the same product is another scope.
    await factories.machine(client, acme, elsewhere, "shared")


async def test_unique_per_product(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    one = await factories.policy(client, acme, product_id, machineUniquenessStrategy="UNIQUE_PER_PRODUCT")
    two = await factories.policy(client, acme, product_id, machineUniquenessStrategy="UNIQUE_PER_PRODUCT")
    other_product = await factories.policy(client, acme, machineUniquenessStrategy="UNIQUE_PER_PRODUCT")
    first = (await factories.license(client, acme, one))["id"]
    second = (await factories.license(client, acme, two))["id"]
    third = (await factories.license(client, acme, other_product))["id"]

    await factories.machine(client, acme, first, "shared")
    detail = _taken(await factories.activate(client, acme, second, "shared"))
    assert "product" in detail
    assert await _machines(client, acme, second) == []
    await factories.machine(client, acme, third, "shared")


async def test_unique_per_account(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    per_account = {"machineUniquenessStrategy": "UNIQUE_PER_ACCOUNT"}
    first = (await factories.license(client, acme, policy=per_account))["id"]
    second = (await factories.license(client, acme, policy=per_account))["id"]
    await factories.machine(client, acme, first, "shared")
    detail = _taken(await factories.activate(client, acme, second, "shared"))
    assert "account" in detail
    assert await _machines(client, acme, second) == []

    # Another account is another world.
    globex = await factories.tenant(app, "globex")
    theirs = (await factories.license(client, globex, policy=per_account))["id"]
    await factories.machine(client, globex, theirs, "shared")


async def test_deactivating_frees_the_fingerprint_in_its_scope(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, machineUniquenessStrategy="UNIQUE_PER_POLICY")
    first = (await factories.license(client, acme, policy_id))["id"]
    second = (await factories.license(client, acme, policy_id))["id"]
    machine = await factories.machine(client, acme, first, "moving")
    _taken(await factories.activate(client, acme, second, "moving"))
    deleted = await client.delete(f"{acme.base}/machines/{machine['id']}", headers=bearer(acme.key))
    assert deleted.status_code == 204
    await factories.machine(client, acme, second, "moving")


async def test_fingerprint_equal_to_a_machine_id_conflicts(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    license_id = (await factories.license(client, acme, policy={"floating": True, "maxMachines": 5}))["id"]
    other = (await factories.license(client, acme))["id"]
    machine = await factories.machine(client, acme, license_id, "plain")
    for target in (license_id, other):
        response = await factories.activate(client, acme, target, machine["id"])
        body = jsonapi_error(response, 422, "FINGERPRINT_CONFLICT")
        assert body["errors"][0]["source"] == {"pointer": "/data/attributes/fingerprint"}
    assert await _machines(client, acme, other) == []
    # A UUID that is no machine's id is an ordinary fingerprint.
    await factories.machine(client, acme, other, str(uuid.uuid4()))
    # Another account's machine id does not conflict.
    globex = await factories.tenant(app, "globex")
    globex_license = (await factories.license(client, globex))["id"]
    await factories.machine(client, globex, globex_license, machine["id"])


# -- the machine limit ---------------------------------------------------------------------


async def _fill(
    client: httpx.AsyncClient, account: Tenant, license_id: str, allowed: int, prefix: str = "fp"
) -> None:
    """Activate ``allowed`` machines, then see the next one refused and nothing change."""
    for index in range(allowed):
        await factories.machine(client, account, license_id, f"{prefix}-{index}")
    detail = _over_limit(await factories.activate(client, account, license_id, f"{prefix}-over"))
    assert "machine count has exceeded maximum allowed for license" in detail
    assert len(await _machines(client, account, license_id)) == allowed


async def test_node_locked_license_holds_one_machine(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id = (await factories.license(client, acme))["id"]
    await _fill(client, acme, license_id, 1)


async def test_floating_license_holds_max_machines(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id = (await factories.license(client, acme, policy={"floating": True, "maxMachines": 3}))["id"]
    await _fill(client, acme, license_id, 3)
    detail = _over_limit(await factories.activate(client, acme, license_id, "again"))
    assert "(3)" in detail


async def test_floating_license_without_max_machines_is_unlimited(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license_id = (await factories.license(client, acme, policy={"floating": True}))["id"]
    for index in range(12):
        await factories.machine(client, acme, license_id, f"fp-{index}")
    assert len(await _machines(client, acme, license_id)) == 12


async def test_license_override_wins_over_the_policy(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, floating=True, maxMachines=2)
    bigger = (await factories.license(client, acme, policy_id, maxMachines=4))["id"]
    smaller = (await factories.license(client, acme, policy_id, maxMachines=1))["id"]
    inherited = (await factories.license(client, acme, policy_id))["id"]
    await _fill(client, acme, bigger, 4, "big")
    await _fill(client, acme, smaller, 1, "small")
    await _fill(client, acme, inherited, 2, "inherited")


async def test_raising_the_license_override_frees_seats(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, floating=True, maxMachines=1)
    license_id = (await factories.license(client, acme, policy_id))["id"]
    await _fill(client, acme, license_id, 1)
    patched = await client.patch(
        f"{acme.base}/licenses/{license_id}",
        json={"data": {"type": "licenses", "attributes": {"maxMachines": 2}}},
        headers=bearer(acme.key),
    )
    assert patched.status_code == 200, patched.text
    await factories.machine(client, acme, license_id, "second")
    _over_limit(await factories.activate(client, acme, license_id, "third"))


@pytest.mark.parametrize(
    ("policy", "allowed"),
    [
        ({"floating": True, "maxMachines": 4, "overageStrategy": "NO_OVERAGE"}, 4),
        ({"floating": True, "maxMachines": 4, "overageStrategy": "ALLOW_1_25X_OVERAGE"}, 5),
        ({"floating": True, "maxMachines": 3, "overageStrategy": "ALLOW_1_25X_OVERAGE"}, 3),
        ({"floating": True, "maxMachines": 4, "overageStrategy": "ALLOW_1_5X_OVERAGE"}, 6),
        ({"floating": True, "maxMachines": 3, "overageStrategy": "ALLOW_2X_OVERAGE"}, 6),
        ({"floating": False, "overageStrategy": "ALLOW_2X_OVERAGE"}, 2),
    ],
    ids=["none", "1.25x-of-4", "1.25x-of-3", "1.5x-of-4", "2x-of-3", "2x-node-locked"],
)
async def test_overage_strategies(
    client: httpx.AsyncClient, acme: Tenant, policy: dict[str, Any], allowed: int
) -> None:
    license_id = (await factories.license(client, acme, policy=policy))["id"]
    await _fill(client, acme, license_id, allowed)


async def test_always_allow_overage_has_no_machine_limit(client: httpx.AsyncClient, acme: Tenant) -> None:
    overage = {"overageStrategy": "ALWAYS_ALLOW_OVERAGE"}
    node_locked = (await factories.license(client, acme, policy=overage))["id"]
    floating_policy = await factories.policy(client, acme, floating=True, maxMachines=2, **overage)
    floating = (await factories.license(client, acme, floating_policy))["id"]
    for license_id in (node_locked, floating):
        for index in range(6):
            await factories.machine(client, acme, license_id, f"fp-{index}")
        assert len(await _machines(client, acme, license_id)) == 6


async def test_deactivating_frees_a_seat(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id = (await factories.license(client, acme, policy={"floating": True, "maxMachines": 2}))["id"]
    first = await factories.machine(client, acme, license_id, "one")
    await factories.machine(client, acme, license_id, "two")
    _over_limit(await factories.activate(client, acme, license_id, "three"))
    assert (
        await client.delete(f"{acme.base}/machines/{first['id']}", headers=bearer(acme.key))
    ).status_code == 204
    await factories.machine(client, acme, license_id, "three")
    assert sorted(await _machines(client, acme, license_id)) == ["three", "two"]
    _over_limit(await factories.activate(client, acme, license_id, "four"))


async def test_limits_count_per_license(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    first = (await factories.license(client, acme, policy_id))["id"]
    second = (await factories.license(client, acme, policy_id))["id"]
    await factories.machine(client, acme, first, "a")
    await factories.machine(client, acme, second, "b")
    _over_limit(await factories.activate(client, acme, first, "c"))


async def test_taken_fingerprint_is_reported_before_the_limit(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license_id = (await factories.license(client, acme))["id"]
    await factories.machine(client, acme, license_id, "same")
    response = await factories.activate(client, acme, license_id, "same")
    assert response.json()["errors"][0]["code"] == "FINGERPRINT_TAKEN"


# -- cores, memory, disk -------------------------------------------------------------------


async def test_core_limit(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, floating=True, maxMachines=10, maxCores=8)
    license_id = (await factories.license(client, acme, policy_id))["id"]
    await factories.machine(client, acme, license_id, "a", cores=4)
    await factories.machine(client, acme, license_id, "b", cores=4)
    detail = _over_limit(
        await factories.activate(client, acme, license_id, "c", cores=1), "MACHINE_CORE_LIMIT_EXCEEDED"
    )
    assert "(8)" in detail
    assert sorted(await _machines(client, acme, license_id)) == ["a", "b"]
    # A machine that reports no cores adds none.
    await factories.machine(client, acme, license_id, "unknown-cores")


async def test_core_limit_applies_to_a_single_machine(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen sums the cores of every machine including the new one, the first too."""
    license_id = (await factories.license(client, acme, policy={"maxCores": 8}))["id"]
    _over_limit(
        await factories.activate(client, acme, license_id, "big", cores=16), "MACHINE_CORE_LIMIT_EXCEEDED"
    )
    assert await _machines(client, acme, license_id) == []
    await factories.machine(client, acme, license_id, "fits", cores=8)


async def test_patching_cores_keeps_the_core_limit(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, floating=True, maxMachines=10, maxCores=8)
    license_id = (await factories.license(client, acme, policy_id))["id"]
    small = await factories.machine(client, acme, license_id, "small", cores=2)
    await factories.machine(client, acme, license_id, "other", cores=4)
    url = f"{acme.base}/machines/{small['id']}"

    def patch(cores: int) -> dict[str, Any]:
        return {"data": {"type": "machines", "attributes": {"cores": cores}}}

    refused = await client.patch(url, json=patch(5), headers=bearer(acme.key))
    grown = await client.patch(url, json=patch(4), headers=bearer(acme.key))

    _over_limit(refused, "MACHINE_CORE_LIMIT_EXCEEDED")
    assert grown.status_code == 200, grown.text
    assert grown.json()["data"]["attributes"]["cores"] == 4
    again = await client.get(url, headers=bearer(acme.key))
    assert again.json()["data"]["attributes"]["cores"] == 4


async def test_license_core_override(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, floating=True, maxMachines=10, maxCores=8)
    license_id = (await factories.license(client, acme, policy_id, maxCores=2))["id"]
    await factories.machine(client, acme, license_id, "a", cores=2)
    _over_limit(
        await factories.activate(client, acme, license_id, "b", cores=1), "MACHINE_CORE_LIMIT_EXCEEDED"
    )


@pytest.mark.parametrize(
    ("overage", "allowed_cores"),
    [("ALLOW_1_25X_OVERAGE", 10), ("ALLOW_1_5X_OVERAGE", 12), ("ALLOW_2X_OVERAGE", 16)],
)
async def test_core_overage(
    client: httpx.AsyncClient, acme: Tenant, overage: str, allowed_cores: int
) -> None:
    policy_id = await factories.policy(
        client, acme, floating=True, maxMachines=100, maxCores=8, overageStrategy=overage
    )
    license_id = (await factories.license(client, acme, policy_id))["id"]
    await factories.machine(client, acme, license_id, "a", cores=allowed_cores - 1)
    await factories.machine(client, acme, license_id, "b", cores=1)
    _over_limit(
        await factories.activate(client, acme, license_id, "c", cores=1), "MACHINE_CORE_LIMIT_EXCEEDED"
    )


async def test_always_allow_overage_ignores_the_core_limit(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, maxCores=8, overageStrategy="ALWAYS_ALLOW_OVERAGE")
    license_id = (await factories.license(client, acme, policy_id))["id"]
    await factories.machine(client, acme, license_id, "a", cores=16)
    await factories.machine(client, acme, license_id, "b", cores=16)


@pytest.mark.parametrize(
    ("attribute", "limit", "code"),
    [
        ("memory", "maxMemory", "MACHINE_MEMORY_LIMIT_EXCEEDED"),
        ("disk", "maxDisk", "MACHINE_DISK_LIMIT_EXCEEDED"),
    ],
)
async def test_memory_and_disk_limits(
    client: httpx.AsyncClient, acme: Tenant, attribute: str, limit: str, code: str
) -> None:
    policy = {"floating": True, "maxMachines": 10, limit: 1000}
    license_id = (await factories.license(client, acme, policy=policy))["id"]
    sizes: list[dict[str, Any]] = [{attribute: 600}, {attribute: 400}, {attribute: 1}]
    await factories.machine(client, acme, license_id, "a", **sizes[0])
    await factories.machine(client, acme, license_id, "b", **sizes[1])
    _over_limit(await factories.activate(client, acme, license_id, "c", **sizes[2]), code)
    assert sorted(await _machines(client, acme, license_id)) == ["a", "b"]


async def test_deactivating_frees_cores(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, floating=True, maxMachines=10, maxCores=8)
    license_id = (await factories.license(client, acme, policy_id))["id"]
    big = await factories.machine(client, acme, license_id, "big", cores=6)
    _over_limit(
        await factories.activate(client, acme, license_id, "next", cores=4), "MACHINE_CORE_LIMIT_EXCEEDED"
    )
    assert (
        await client.delete(f"{acme.base}/machines/{big['id']}", headers=bearer(acme.key))
    ).status_code == 204
    await factories.machine(client, acme, license_id, "next", cores=4)


# -- concurrency ---------------------------------------------------------------------------

CONCURRENT = 32


def _outcomes(responses: list[httpx.Response], code: str) -> list[dict[str, Any]]:
    won = []
    for response in responses:
        if response.status_code == 201:
            won.append(response.json()["data"])
            continue
        assert response.status_code == 422, response.text
        assert [error["code"] for error in response.json()["errors"]] == [code], response.text
    return won


async def test_concurrent_activations_never_exceed_max_machines(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license_id = (await factories.license(client, acme, policy={"floating": True, "maxMachines": 5}))["id"]
    responses = await asyncio.gather(
        *(factories.activate(client, acme, license_id, f"racer-{index:02d}") for index in range(CONCURRENT))
    )
    won = _outcomes(list(responses), "MACHINE_LIMIT_EXCEEDED")
    assert len(won) == 5
    listed = await _machines(client, acme, license_id)
    assert sorted(listed) == sorted(machine["attributes"]["fingerprint"] for machine in won)
    assert len(listed) == 5


async def test_concurrent_activations_respect_the_core_limit(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id = (await factories.license(client, acme, policy={"floating": True, "maxCores": 10}))["id"]
    responses = await asyncio.gather(
        *(factories.activate(client, acme, license_id, f"racer-{index:02d}", cores=2) for index in range(16))
    )
    won = _outcomes(list(responses), "MACHINE_CORE_LIMIT_EXCEEDED")
    assert len(won) == 5
    assert len(await _machines(client, acme, license_id)) == 5


async def test_concurrent_activations_of_one_fingerprint_make_one_machine(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license_id = (await factories.license(client, acme, policy={"floating": True, "maxMachines": 100}))["id"]
    responses = await asyncio.gather(
        *(factories.activate(client, acme, license_id, "same") for _ in range(16))
    )
    won = _outcomes(list(responses), "FINGERPRINT_TAKEN")
    assert len(won) == 1
    assert await _machines(client, acme, license_id) == ["same"]


async def test_concurrent_activations_across_licenses_of_a_unique_per_policy_fingerprint(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Different licenses do not share a lock; the unique index decides."""
    policy_id = await factories.policy(client, acme, machineUniquenessStrategy="UNIQUE_PER_POLICY")
    licenses = [(await factories.license(client, acme, policy_id))["id"] for _ in range(16)]
    responses = await asyncio.gather(
        *(factories.activate(client, acme, license_id, "contested") for license_id in licenses)
    )
    won = _outcomes(list(responses), "FINGERPRINT_TAKEN")
    assert len(won) == 1
    listed = await client.get(f"{acme.base}/machines?fingerprint=contested", headers=bearer(acme.key))
    assert [item["id"] for item in listed.json()["data"]] == [won[0]["id"]]


async def test_concurrent_activations_and_deactivations(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id = (await factories.license(client, acme, policy={"floating": True, "maxMachines": 3}))["id"]
    existing = [await factories.machine(client, acme, license_id, f"old-{index}") for index in range(3)]
    deactivations = [
        client.delete(f"{acme.base}/machines/{machine['id']}", headers=bearer(acme.key))
        for machine in existing
    ]
    activations = [factories.activate(client, acme, license_id, f"new-{index:02d}") for index in range(12)]
    responses = await asyncio.gather(*deactivations, *activations)
    assert [response.status_code for response in responses[:3]] == [204, 204, 204]
    won = _outcomes(list(responses[3:]), "MACHINE_LIMIT_EXCEEDED")
    assert len(won) <= 3
    listed = await _machines(client, acme, license_id)
    assert len(listed) <= 3
    assert sorted(machine["attributes"]["fingerprint"] for machine in won) == sorted(
        fingerprint for fingerprint in listed if fingerprint.startswith("new-")
    )
