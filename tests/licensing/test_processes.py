"""Processes (Keygen's ``processes``): spawning, the pid rules, the process limit under each
leasing and overage strategy (and under concurrency), heartbeats, death, resurrection and
culling, the lists and their filters, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from tests import factories
from tests.auth.support import jsonapi_error, timestamp
from tests.events.support import logged
from tests.factories import Tenant, bearer

FLOATING: dict[str, Any] = {"floating": True, "maxMachines": 10}


async def _machine(
    client: httpx.AsyncClient, acme: Tenant, policy: dict[str, Any] | None = None, **license: Any
) -> tuple[str, str]:
    """A machine on a new license of a floating policy with ``policy``'s attributes: (license
    id, machine id). A license ``owner`` owns the machine too (a machine has no owner unless
    one is named)."""
    license_id = (await factories.license(client, acme, policy={**FLOATING, **(policy or {})}, **license))[
        "id"
    ]
    return license_id, (await factories.machine(client, acme, license_id, owner=license.get("owner")))["id"]


async def _get(client: httpx.AsyncClient, acme: Tenant, process: str) -> httpx.Response:
    return await client.get(f"{acme.base}/processes/{process}", headers=bearer(acme.key))


async def _ping(client: httpx.AsyncClient, acme: Tenant, process: str) -> httpx.Response:
    return await client.post(f"{acme.base}/processes/{process}/actions/ping", headers=bearer(acme.key))


async def _pids(client: httpx.AsyncClient, acme: Tenant, query: str = "") -> list[str]:
    response = await client.get(f"{acme.base}/processes?limit=100{query}", headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    return [item["attributes"]["pid"] for item in response.json()["data"]]


# -- spawning ------------------------------------------------------------------------------


async def test_admin_spawns_a_process_alive_for_ten_minutes(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """features/api/v1/processes/create.feature "Admin spawns a process for their account":
    201, ``lastHeartbeat`` now, ``nextHeartbeat`` 10 minutes on, ``status`` ALIVE, one
    ``process.created`` event; app/serializers/machine_process_serializer.rb for the shape."""
    license_id, machine = await _machine(client, acme)
    response = await factories.spawn(client, acme, machine, "1")
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["type"] == "processes"
    assert (
        response.headers["location"]
        == data["links"]["self"]
        == f"/v1/accounts/{acme.id}/processes/{data['id']}"
    )
    attributes = data["attributes"]
    assert set(attributes) == {
        "pid", "status", "lastHeartbeat", "nextHeartbeat", "interval", "metadata", "created", "updated"
    }  # fmt: skip
    assert attributes["pid"] == "1"
    assert attributes["status"] == "ALIVE"
    assert attributes["interval"] == 600
    assert attributes["metadata"] == {}
    last = timestamp(attributes["lastHeartbeat"])
    assert abs(last - clock.now()) < timedelta(seconds=30)
    assert timestamp(attributes["nextHeartbeat"]) - last == timedelta(minutes=10)
    relationships = data["relationships"]
    assert relationships["machine"]["data"] == {"type": "machines", "id": machine}
    assert relationships["license"]["data"] == {"type": "licenses", "id": license_id}
    assert relationships["machine"]["links"]["related"].endswith(f"/processes/{data['id']}/machine")

    # A second request sees the same process.
    shown = await _get(client, acme, data["id"])
    assert shown.status_code == 200
    assert shown.json()["data"] == data
    [event] = await logged(app, client, acme, "process.created")
    assert event["relationships"]["resource"]["data"] == {"type": "processes", "id": data["id"]}


async def test_interval_is_the_policys_heartbeat_duration(client: httpx.AsyncClient, acme: Tenant) -> None:
    """app/models/machine_process.rb: ``interval`` is the machine's heartbeat duration (the
    policy's ``heartbeatDuration``)."""
    _, machine = await _machine(client, acme, {"heartbeatDuration": 120})
    attributes = (await factories.process(client, acme, machine))["attributes"]
    assert attributes["interval"] == 120
    assert timestamp(attributes["nextHeartbeat"]) - timestamp(attributes["lastHeartbeat"]) == timedelta(
        seconds=120
    )


async def test_a_pid_is_unique_on_its_machine_only(client: httpx.AsyncClient, acme: Tenant) -> None:
    """create.feature: the same pid on the same machine is 422 ``PID_TAKEN`` (pointer
    ``/data/attributes/pid``, detail "has already been taken"); on another machine it is 201."""
    license_id, machine = await _machine(client, acme)
    other = (await factories.machine(client, acme, license_id))["id"]
    await factories.process(client, acme, machine, "1337")
    body = jsonapi_error(await factories.spawn(client, acme, machine, "1337"), 422, "PID_TAKEN")
    assert body["errors"][0]["detail"] == "has already been taken"
    assert body["errors"][0]["source"] == {"pointer": "/data/attributes/pid"}
    assert body["errors"][0]["title"] == "Unprocessable resource"
    await factories.process(client, acme, other, "1337")
    assert await _pids(client, acme) == ["1337", "1337"]


async def test_a_long_pid_is_kept_whole(client: httpx.AsyncClient, acme: Tenant) -> None:
    """app/models/machine_process.rb: pids up to 4 KB; longer is refused."""
    _, machine = await _machine(client, acme)
    long_pid = "p" * 4096
    created = await factories.process(client, acme, machine, long_pid)
    assert created["attributes"]["pid"] == long_pid
    jsonapi_error(await factories.spawn(client, acme, machine, long_pid), 422, "PID_TAKEN")
    too_long = await factories.spawn(client, acme, machine, "p" * 4097)
    assert too_long.status_code in (400, 422), too_long.text
    assert await _pids(client, acme) == [long_pid]


@pytest.mark.parametrize("pid", ["actions", "action"])
async def test_a_reserved_pid_is_refused(client: httpx.AsyncClient, acme: Tenant, pid: str) -> None:
    """create.feature "pid matching a reserved word": 422 (``is reserved``), nothing made."""
    _, machine = await _machine(client, acme)
    body = jsonapi_error(await factories.spawn(client, acme, machine, pid), 422, "PID_NOT_ALLOWED")
    assert body["errors"][0]["detail"] == "is reserved"
    assert await _pids(client, acme) == []


async def test_a_blank_pid_is_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    """create.feature "License spawns a process for their machine with a blank pid": 400,
    title "Bad request", detail "cannot be blank", pointer ``/data/attributes/pid``."""
    _, machine = await _machine(client, acme)
    response = await client.post(
        f"{acme.base}/processes",
        json={
            "data": {
                "type": "processes",
                "attributes": {"pid": ""},
                "relationships": {"machine": {"data": {"type": "machines", "id": machine}}},
            }
        },
        headers=bearer(acme.key),
    )
    error = jsonapi_error(response, 400, "PID_MISSING")["errors"][0]
    assert (error["title"], error["detail"]) == ("Bad request", "cannot be blank")
    assert error["source"] == {"pointer": "/data/attributes/pid"}
    assert await _pids(client, acme) == []


@pytest.mark.parametrize(
    "data",
    [
        {"type": "processes", "relationships": {"machine": {"data": {"type": "machines", "id": "MACHINE"}}}},
        {"type": "processes", "attributes": {"pid": "1337"}},
        {
            "type": "processes",
            "attributes": {"pid": 1337},
            "relationships": {"machine": {"data": {"type": "machines", "id": "MACHINE"}}},
        },
        {
            "type": "processes",
            "attributes": {"pid": "1"},
            "relationships": {"machine": {"data": {"type": "machines", "id": "not-a-uuid"}}},
        },
        {
            "type": "processes",
            "attributes": {"pid": "1", "status": "DEAD"},
            "relationships": {"machine": {"data": {"type": "machines", "id": "MACHINE"}}},
        },
    ],
    ids=["missing-pid", "missing-machine", "integer-pid", "machine-not-a-uuid", "unpermitted-attribute"],
)
async def test_malformed_spawns_are_400(
    client: httpx.AsyncClient, acme: Tenant, data: dict[str, Any]
) -> None:
    """create.feature "missing pid" and "missing machine": 400 (Keygen's typed params: pid a
    string, the machine id a UUID, nothing else permitted); nothing is made."""
    _, machine = await _machine(client, acme)
    body = {"data": {**data}}
    if "relationships" in data and data["relationships"]["machine"]["data"]["id"] == "MACHINE":
        body["data"]["relationships"] = {"machine": {"data": {"type": "machines", "id": machine}}}
    response = await client.post(f"{acme.base}/processes", json=body, headers=bearer(acme.key))
    assert response.status_code == 400, response.text
    assert await _pids(client, acme) == []


async def test_an_unknown_machine_is_422(client: httpx.AsyncClient, acme: Tenant) -> None:
    """create.feature "Admin spawns a process with an invalid machine UUID": 422."""
    response = await factories.spawn(client, acme, "16896379-73ae-4d92-a458-6e7841c9ad08")
    error = jsonapi_error(response, 422, "MACHINE_NOT_FOUND")["errors"][0]
    assert error["detail"] == "must exist"
    assert error["source"] == {"pointer": "/data/relationships/machine"}


# -- the process limit ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("leasing", "noun"), [("PER_MACHINE", "machine"), ("PER_LICENSE", "license"), ("PER_USER", "user")]
)
async def test_the_limit_is_reached(client: httpx.AsyncClient, acme: Tenant, leasing: str, noun: str) -> None:
    """create.feature "...has reached its limit (<leasing> leasing strategy, NO_OVERAGE)": 422
    ``MACHINE_PROCESS_LIMIT_EXCEEDED`` at ``/data``, "process count has exceeded maximum
    allowed for <machine|license|user> (N)"; no process made, no event."""
    _, machine = await _machine(client, acme, {"processLeasingStrategy": leasing, "maxProcesses": 3})
    for pid in ("a", "b", "c"):
        await factories.process(client, acme, machine, pid)
    response = await factories.spawn(client, acme, machine, "d")
    error = jsonapi_error(response, 422, "MACHINE_PROCESS_LIMIT_EXCEEDED")["errors"][0]
    assert error["detail"] == f"process count has exceeded maximum allowed for {noun} (3)"
    assert error["source"] == {"pointer": "/data"}
    assert error["title"] == "Unprocessable resource"
    assert sorted(await _pids(client, acme)) == ["a", "b", "c"]


async def test_per_machine_leases_count_each_machine_alone(client: httpx.AsyncClient, acme: Tenant) -> None:
    """app/models/machine_process.rb (``lease_per_machine?``): a machine's own processes."""
    license_id, first = await _machine(
        client, acme, {"processLeasingStrategy": "PER_MACHINE", "maxProcesses": 2}
    )
    second = (await factories.machine(client, acme, license_id))["id"]
    for machine in (first, second):
        await factories.process(client, acme, machine, "1")
        await factories.process(client, acme, machine, "2")
    for machine in (first, second):
        jsonapi_error(
            await factories.spawn(client, acme, machine, "3"), 422, "MACHINE_PROCESS_LIMIT_EXCEEDED"
        )


async def test_per_license_leases_count_every_machine(client: httpx.AsyncClient, acme: Tenant) -> None:
    """``lease_per_license?``: the license's processes on all its machines."""
    license_id, first = await _machine(
        client, acme, {"processLeasingStrategy": "PER_LICENSE", "maxProcesses": 3}
    )
    second = (await factories.machine(client, acme, license_id))["id"]
    await factories.process(client, acme, first, "1")
    await factories.process(client, acme, second, "2")
    await factories.process(client, acme, second, "3")
    jsonapi_error(await factories.spawn(client, acme, first, "4"), 422, "MACHINE_PROCESS_LIMIT_EXCEEDED")
    # Another license has its own lease.
    _, elsewhere = await _machine(client, acme, {"processLeasingStrategy": "PER_LICENSE", "maxProcesses": 3})
    await factories.process(client, acme, elsewhere, "4")


async def test_per_user_leases_count_the_machine_owners_processes(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """``lease_per_user?``: the license's processes on machines of the same owner (no owner
    counts as one: "nil owner is significant")."""
    owner = await factories.user(app, acme)
    policy = {"processLeasingStrategy": "PER_USER", "maxProcesses": 2}
    license_id, ownerless = await _machine(client, acme, policy, owner=None)
    ownerless_too = (await factories.machine(client, acme, license_id))["id"]
    await factories.process(client, acme, ownerless, "1")
    await factories.process(client, acme, ownerless_too, "2")
    jsonapi_error(await factories.spawn(client, acme, ownerless, "3"), 422, "MACHINE_PROCESS_LIMIT_EXCEEDED")

    owned_license, owned = await _machine(client, acme, policy, owner=str(owner))
    owned_too = (await factories.machine(client, acme, owned_license, owner=owner))["id"]
    await factories.process(client, acme, owned, "1")
    await factories.process(client, acme, owned_too, "2")
    error = jsonapi_error(
        await factories.spawn(client, acme, owned, "3"), 422, "MACHINE_PROCESS_LIMIT_EXCEEDED"
    )
    assert error["errors"][0]["detail"] == "process count has exceeded maximum allowed for user (2)"


@pytest.mark.parametrize(
    ("overage", "maximum", "allowed"),
    [
        ("NO_OVERAGE", 4, 4),
        ("ALLOW_1_25X_OVERAGE", 4, 5),
        ("ALLOW_1_5X_OVERAGE", 4, 6),
        ("ALLOW_2X_OVERAGE", 2, 4),
        ("ALWAYS_ALLOW_OVERAGE", 2, None),
    ],
)
async def test_overage_strategies(
    client: httpx.AsyncClient, acme: Tenant, overage: str, maximum: int, allowed: int | None
) -> None:
    """create.feature "...exceeded its (overage) limit (..., ALLOW_*_OVERAGE)": a spawn passes
    while the count with it is at most ``maxProcesses`` times the factor; ALWAYS_ALLOW_OVERAGE
    has no bound."""
    _, machine = await _machine(
        client,
        acme,
        {"processLeasingStrategy": "PER_MACHINE", "maxProcesses": maximum, "overageStrategy": overage},
    )
    spawned = 0
    for index in range(allowed or 8):
        await factories.process(client, acme, machine, str(index))
        spawned += 1
    if allowed is not None:
        response = await factories.spawn(client, acme, machine, "over")
        error = jsonapi_error(response, 422, "MACHINE_PROCESS_LIMIT_EXCEEDED")["errors"][0]
        assert error["detail"] == f"process count has exceeded maximum allowed for machine ({maximum})"
    assert len(await _pids(client, acme)) == spawned


async def test_no_limit_without_max_processes(client: httpx.AsyncClient, acme: Tenant) -> None:
    """create.feature "...has no limit (<leasing> leasing strategy)": 201 whatever the count."""
    _, machine = await _machine(client, acme, {"processLeasingStrategy": "PER_LICENSE"})
    for index in range(12):
        await factories.process(client, acme, machine, str(index))


async def test_the_licenses_own_max_processes_wins(client: httpx.AsyncClient, acme: Tenant) -> None:
    """app/models/license.rb: ``max_processes`` is the license's override, else the policy's."""
    _, machine = await _machine(
        client, acme, {"processLeasingStrategy": "PER_LICENSE", "maxProcesses": 5}, maxProcesses=1
    )
    await factories.process(client, acme, machine, "1")
    error = jsonapi_error(
        await factories.spawn(client, acme, machine, "2"), 422, "MACHINE_PROCESS_LIMIT_EXCEEDED"
    )
    assert error["errors"][0]["detail"].endswith("(1)")


async def test_killing_a_process_frees_its_lease(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """destroy.feature: 204, the process is gone (404 after), ``process.deleted``."""
    _, machine = await _machine(client, acme, {"maxProcesses": 1})
    first = await factories.process(client, acme, machine, "1")
    jsonapi_error(await factories.spawn(client, acme, machine, "2"), 422, "MACHINE_PROCESS_LIMIT_EXCEEDED")
    killed = await client.delete(f"{acme.base}/processes/{first['id']}", headers=bearer(acme.key))
    assert killed.status_code == 204
    assert killed.content == b""
    jsonapi_error(await _get(client, acme, first["id"]), 404, "NOT_FOUND")
    await factories.process(client, acme, machine, "2")
    [event] = await logged(app, client, acme, "process.deleted")
    assert event["relationships"]["resource"]["data"]["id"] == first["id"]


async def test_deactivating_the_machine_removes_its_processes(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, machine = await _machine(client, acme)
    spawned = await factories.process(client, acme, machine, "1")
    gone = await client.delete(f"{acme.base}/machines/{machine}", headers=bearer(acme.key))
    assert gone.status_code == 204
    jsonapi_error(await _get(client, acme, spawned["id"]), 404, "NOT_FOUND")
    assert await _pids(client, acme) == []


CONCURRENT = 16


@pytest.mark.parametrize("leasing", ["PER_MACHINE", "PER_LICENSE", "PER_USER"])
async def test_concurrent_spawns_never_exceed_max_processes(
    client: httpx.AsyncClient, acme: Tenant, leasing: str
) -> None:
    """Limits hold under concurrency: of many simultaneous spawns exactly ``maxProcesses``
    succeed, the rest are 422 ``MACHINE_PROCESS_LIMIT_EXCEEDED``."""
    license_id, machine = await _machine(client, acme, {"processLeasingStrategy": leasing, "maxProcesses": 5})
    other = (await factories.machine(client, acme, license_id))["id"]
    targets = [machine if leasing == "PER_MACHINE" or index % 2 else other for index in range(CONCURRENT)]
    responses = await asyncio.gather(
        *(factories.spawn(client, acme, target, f"racer-{index:02d}") for index, target in enumerate(targets))
    )
    won = [response for response in responses if response.status_code == 201]
    for response in responses:
        if response.status_code != 201:
            jsonapi_error(response, 422, "MACHINE_PROCESS_LIMIT_EXCEEDED")
    assert len(won) == 5
    assert len(await _pids(client, acme)) == 5


# -- heartbeats ----------------------------------------------------------------------------


async def test_ping_keeps_a_process_alive(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """features/api/v1/processes/actions/heartbeats.feature: a ping moves ``lastHeartbeat`` to
    now and records ``process.heartbeat.ping``; without pings the process is DEAD once its
    interval has passed (app/models/machine_process.rb ``status``)."""
    _, machine = await _machine(client, acme, {"heartbeatDuration": 60})
    spawned = await factories.process(client, acme, machine)
    clock.advance(timedelta(seconds=50))
    pinged = await _ping(client, acme, spawned["id"])
    assert pinged.status_code == 200, pinged.text
    attributes = pinged.json()["data"]["attributes"]
    assert attributes["status"] == "ALIVE"
    assert timestamp(attributes["lastHeartbeat"]) - timestamp(
        spawned["attributes"]["lastHeartbeat"]
    ) >= timedelta(seconds=50)
    clock.advance(timedelta(seconds=50))
    assert (await _get(client, acme, spawned["id"])).json()["data"]["attributes"]["status"] == "ALIVE"
    clock.advance(timedelta(seconds=11))
    assert (await _get(client, acme, spawned["id"])).json()["data"]["attributes"]["status"] == "DEAD"
    [event] = await logged(app, client, acme, "process.heartbeat.ping")
    assert event["relationships"]["resource"]["data"]["id"] == spawned["id"]


async def test_a_dead_process_without_resurrection_stays_dead(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """heartbeats_controller.rb: a dead process that may not revive answers 422
    ``PROCESS_HEARTBEAT_DEAD`` ("is dead"), and nothing changes."""
    _, machine = await _machine(client, acme, {"heartbeatDuration": 60, "heartbeatCullStrategy": "KEEP_DEAD"})
    spawned = await factories.process(client, acme, machine)
    clock.advance(timedelta(seconds=61))
    body = jsonapi_error(await _ping(client, acme, spawned["id"]), 422, "PROCESS_HEARTBEAT_DEAD")
    assert body["errors"][0]["detail"] == "is dead"
    shown = (await _get(client, acme, spawned["id"])).json()["data"]["attributes"]
    assert shown["status"] == "DEAD"
    assert shown["lastHeartbeat"] == spawned["attributes"]["lastHeartbeat"]
    assert await logged(app, client, acme, "process.heartbeat.ping", "process.heartbeat.resurrected") == []


@pytest.mark.parametrize(("strategy", "late", "revives"), [
    ("5_MINUTE_REVIVE", 299, True),
    ("5_MINUTE_REVIVE", 301, False),
    ("ALWAYS_REVIVE", 86_400, True),
])  # fmt: skip
async def test_resurrection(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, strategy: str, late: int, revives: bool
) -> None:
    """app/models/machine_process.rb ``resurrect!``: within the policy's resurrection window
    (``lazarus_ttl`` past the missed heartbeat; always under ALWAYS_REVIVE) a ping answers
    ``status`` RESURRECTED and records ``process.heartbeat.resurrected``; past it, 422."""
    _, machine = await _machine(
        client,
        acme,
        {
            "heartbeatDuration": 60,
            "heartbeatResurrectionStrategy": strategy,
            "heartbeatCullStrategy": "KEEP_DEAD",
        },
    )
    spawned = await factories.process(client, acme, machine)
    clock.advance(timedelta(seconds=60 + late))
    response = await _ping(client, acme, spawned["id"])
    if not revives:
        jsonapi_error(response, 422, "PROCESS_HEARTBEAT_DEAD")
        return
    assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"]["status"] == "RESURRECTED"
    assert (await _get(client, acme, spawned["id"])).json()["data"]["attributes"]["status"] == "ALIVE"
    [event] = await logged(app, client, acme, "process.heartbeat.resurrected")
    assert event["relationships"]["resource"]["data"]["id"] == spawned["id"]


async def test_dead_processes_are_culled_and_free_their_lease(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """app/workers/process_heartbeat_worker.rb: under DEACTIVATE_DEAD (the default) a dead
    process is announced (``process.heartbeat.dead``) and destroyed, so it holds no lease."""
    _, machine = await _machine(client, acme, {"heartbeatDuration": 60, "maxProcesses": 1})
    dead = await factories.process(client, acme, machine, "old")
    clock.advance(timedelta(seconds=61))
    fresh = await factories.process(client, acme, machine, "new")
    assert await _pids(client, acme) == ["new"]
    jsonapi_error(await _get(client, acme, dead["id"]), 404, "NOT_FOUND")
    [announced] = await logged(app, client, acme, "process.heartbeat.dead")
    assert announced["relationships"]["resource"]["data"]["id"] == dead["id"]
    # The system did it (its whodunnit is null), not the admin whose spawn found it dead.
    assert announced["relationships"]["whodunnit"]["data"] is None
    deleted = await logged(app, client, acme, "process.deleted")
    assert [entry["relationships"]["resource"]["data"]["id"] for entry in deleted] == [dead["id"]]
    assert deleted[0]["relationships"]["whodunnit"]["data"] is None
    assert deleted[0]["attributes"]["metadata"] == {"reason": "culled"}
    assert fresh["attributes"]["status"] == "ALIVE"


async def test_kept_dead_processes_still_hold_their_lease(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Under KEEP_DEAD Keygen never destroys dead processes: they count toward the limit."""
    _, machine = await _machine(
        client, acme, {"heartbeatDuration": 60, "maxProcesses": 1, "heartbeatCullStrategy": "KEEP_DEAD"}
    )
    await factories.process(client, acme, machine, "old")
    clock.advance(timedelta(seconds=61))
    jsonapi_error(await factories.spawn(client, acme, machine, "new"), 422, "MACHINE_PROCESS_LIMIT_EXCEEDED")


async def test_revivable_dead_processes_are_not_culled_yet(client: httpx.AsyncClient, acme: Tenant) -> None:
    """process_heartbeat_worker.rb: a dead process within its resurrection window is not
    destroyed yet (it may still ping), so it keeps its lease until the window passes."""
    _, machine = await _machine(
        client,
        acme,
        {"heartbeatDuration": 60, "maxProcesses": 1, "heartbeatResurrectionStrategy": "1_MINUTE_REVIVE"},
    )
    await factories.process(client, acme, machine, "old")
    clock.advance(timedelta(seconds=90))
    jsonapi_error(await factories.spawn(client, acme, machine, "new"), 422, "MACHINE_PROCESS_LIMIT_EXCEEDED")
    clock.advance(timedelta(seconds=40))
    await factories.process(client, acme, machine, "new")
    assert await _pids(client, acme) == ["new"]


# -- reading -------------------------------------------------------------------------------


async def test_lists_and_filters(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """app/controllers/api/v1/machine_processes_controller.rb: filters ``product``,
    ``machine``, ``license``, ``owner``, ``user``, ``status``; newest first;
    ``/machines/{id}/processes`` lists one machine's."""
    owner = await factories.user(app, acme)
    license_id, machine = await _machine(
        client, acme, {"heartbeatDuration": 60, "heartbeatCullStrategy": "KEEP_DEAD"}, owner=str(owner)
    )
    other_license, other = await _machine(client, acme)
    await factories.process(client, acme, machine, "1")
    clock.advance(timedelta(seconds=61))
    await factories.process(client, acme, machine, "2")
    await factories.process(client, acme, other, "3")
    assert await _pids(client, acme) == ["3", "2", "1"]
    assert await _pids(client, acme, f"&machine={machine}") == ["2", "1"]
    assert await _pids(client, acme, f"&license={other_license}") == ["3"]
    assert await _pids(client, acme, f"&license={license_id}&status=alive") == ["2"]
    assert await _pids(client, acme, "&status=DEAD") == ["1"]
    assert await _pids(client, acme, f"&user={owner}") == ["2", "1"]
    assert await _pids(client, acme, f"&owner={owner}") == ["2", "1"]
    product = (await client.get(f"{acme.base}/licenses/{other_license}", headers=bearer(acme.key))).json()[
        "data"
    ]["relationships"]["product"]["data"]["id"]
    assert await _pids(client, acme, f"&product={product}") == ["3"]
    jsonapi_error(
        await client.get(f"{acme.base}/processes?status=ZOMBIE", headers=bearer(acme.key)),
        400,
        "PARAMETERS_INVALID",
    )
    jsonapi_error(
        await client.get(f"{acme.base}/processes?pid=1", headers=bearer(acme.key)), 400, "PARAMETERS_INVALID"
    )
    listed = await client.get(f"{acme.base}/machines/{machine}/processes", headers=bearer(acme.key))
    assert listed.status_code == 200
    assert [item["attributes"]["pid"] for item in listed.json()["data"]] == ["2", "1"]


async def test_related_records(client: httpx.AsyncClient, acme: Tenant) -> None:
    """config/routes.rb: ``/processes/{id}/{machine,license,product}``."""
    license_id, machine = await _machine(client, acme)
    spawned = await factories.process(client, acme, machine)
    for name, expected in (("machine", machine), ("license", license_id)):
        response = await client.get(f"{acme.base}/processes/{spawned['id']}/{name}", headers=bearer(acme.key))
        assert response.status_code == 200, response.text
        assert response.json()["data"]["id"] == expected
    product = await client.get(f"{acme.base}/processes/{spawned['id']}/product", headers=bearer(acme.key))
    assert product.json()["data"]["type"] == "products"
    assert product.json()["data"]["id"] == spawned["relationships"]["product"]["data"]["id"]


async def test_admin_updates_metadata(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """update.feature "Admin updates a process": 200 with the new metadata, ``process.updated``."""
    _, machine = await _machine(client, acme)
    spawned = await factories.process(client, acme, machine)
    response = await client.patch(
        f"{acme.base}/processes/{spawned['id']}",
        json={"data": {"type": "processes", "attributes": {"metadata": {"tier": "gold"}}}},
        headers=bearer(acme.key),
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"]["metadata"] == {"tier": "gold"}
    assert (await _get(client, acme, spawned["id"])).json()["data"]["attributes"]["metadata"] == {
        "tier": "gold"
    }
    [event] = await logged(app, client, acme, "process.updated")
    assert event["attributes"]["metadata"]["diff"] == {"metadata": [{}, {"tier": "gold"}]}
    # The pid cannot be changed (Keygen permits only metadata).
    refused = await client.patch(
        f"{acme.base}/processes/{spawned['id']}",
        json={"data": {"type": "processes", "attributes": {"pid": "other"}}},
        headers=bearer(acme.key),
    )
    assert refused.status_code == 400


async def test_unknown_process_is_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    for path in ("nothing", "16896379-73ae-4d92-a458-6e7841c9ad08"):
        jsonapi_error(await _get(client, acme, path), 404, "NOT_FOUND")
        jsonapi_error(await _ping(client, acme, path), 404, "NOT_FOUND")
