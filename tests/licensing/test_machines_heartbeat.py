"""Machine heartbeats: ping, death, resurrection strategies, and culling dead machines."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from keyplane.kit import clock
from tests import factories
from tests.auth.support import jsonapi_error, timestamp
from tests.factories import Tenant, bearer


async def _ping(client: httpx.AsyncClient, account: Tenant, machine: str) -> httpx.Response:
    return await client.post(f"{account.base}/machines/{machine}/actions/ping", headers=bearer(account.key))


async def _attributes(client: httpx.AsyncClient, account: Tenant, machine: str) -> dict[str, Any]:
    response = await client.get(f"{account.base}/machines/{machine}", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    attributes: dict[str, Any] = response.json()["data"]["attributes"]
    return attributes


async def _status(client: httpx.AsyncClient, account: Tenant, machine: str) -> str:
    status: str = (await _attributes(client, account, machine))["heartbeatStatus"]
    return status


def _dead(response: httpx.Response) -> None:
    body = jsonapi_error(response, 422, "MACHINE_HEARTBEAT_DEAD")
    assert body["errors"][0]["source"] == {"pointer": "/data/attributes/heartbeatStatus"}


HEARTBEAT: dict[str, Any] = {
    "requireHeartbeat": True,
    "heartbeatDuration": 60,
    "heartbeatBasis": "FROM_FIRST_PING",
}
"""Heartbeats counted from the first ping (a policy requiring heartbeats counts them from
activation unless told otherwise)."""


async def test_ping_makes_a_machine_alive_until_its_duration_passes(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license_id = (await factories.license(client, acme, policy=HEARTBEAT))["id"]
    machine = (await factories.machine(client, acme, license_id, "fp"))["id"]
    before = await _attributes(client, acme, machine)
    assert before["requireHeartbeat"] is True
    assert before["heartbeatStatus"] == "NOT_STARTED"
    assert before["heartbeatDuration"] == 60
    assert before["lastHeartbeat"] is None
    assert before["nextHeartbeat"] is None

    response = await _ping(client, acme, machine)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["id"] == machine
    assert data["type"] == "machines"
    attributes = data["attributes"]
    assert attributes["heartbeatStatus"] == "ALIVE"
    last = timestamp(attributes["lastHeartbeat"])
    assert timestamp(attributes["nextHeartbeat"]) - last == timedelta(seconds=60)
    assert abs(last - clock.now()) < timedelta(seconds=30)

    # A second request sees the same heartbeat.
    again = await _attributes(client, acme, machine)
    assert again["heartbeatStatus"] == "ALIVE"
    assert again["lastHeartbeat"] == attributes["lastHeartbeat"]
    assert again["nextHeartbeat"] == attributes["nextHeartbeat"]

    clock.advance(timedelta(seconds=30))
    assert await _status(client, acme, machine) == "ALIVE"
    clock.advance(timedelta(seconds=31))
    dead = await _attributes(client, acme, machine)
    assert dead["heartbeatStatus"] == "DEAD"
    assert dead["lastHeartbeat"] == attributes["lastHeartbeat"]


async def test_pinging_again_moves_the_next_heartbeat(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id = (await factories.license(client, acme, policy=HEARTBEAT))["id"]
    machine = (await factories.machine(client, acme, license_id, "fp"))["id"]
    first = (await _ping(client, acme, machine)).json()["data"]["attributes"]
    clock.advance(timedelta(seconds=50))
    second = (await _ping(client, acme, machine)).json()["data"]["attributes"]
    assert timestamp(second["lastHeartbeat"]) - timestamp(first["lastHeartbeat"]) >= timedelta(seconds=50)
    clock.advance(timedelta(seconds=50))  # 100 s after the first ping, 50 s after the second
    assert await _status(client, acme, machine) == "ALIVE"


async def test_ping_by_fingerprint(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id = (await factories.license(client, acme, policy=HEARTBEAT))["id"]
    machine = (await factories.machine(client, acme, license_id, "named-box"))["id"]
    response = await _ping(client, acme, "named-box")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"] == machine
    assert await _status(client, acme, machine) == "ALIVE"


async def test_ping_of_an_unknown_machine_is_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    jsonapi_error(await _ping(client, acme, "nobody"), 404, "NOT_FOUND")


async def test_default_duration_is_ten_minutes(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id = (await factories.license(client, acme, policy={"requireHeartbeat": True}))["id"]
    machine = (await factories.machine(client, acme, license_id, "fp"))["id"]
    attributes = (await _ping(client, acme, machine)).json()["data"]["attributes"]
    assert attributes["heartbeatDuration"] == 600
    assert timestamp(attributes["nextHeartbeat"]) - timestamp(attributes["lastHeartbeat"]) == timedelta(
        minutes=10
    )
    clock.advance(timedelta(minutes=9))
    assert await _status(client, acme, machine) == "ALIVE"
    clock.advance(timedelta(minutes=2))
    assert await _status(client, acme, machine) == "DEAD"


async def test_machines_without_heartbeats_may_still_ping(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id = (await factories.license(client, acme))["id"]
    machine = (await factories.machine(client, acme, license_id, "fp"))["id"]
    clock.advance(timedelta(days=2))
    assert await _status(client, acme, machine) == "NOT_STARTED"
    response = await _ping(client, acme, machine)
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["requireHeartbeat"] is False
    assert response.json()["data"]["attributes"]["heartbeatStatus"] == "ALIVE"


# -- resurrection --------------------------------------------------------------------------


async def _dead_machine(client: httpx.AsyncClient, acme: Tenant, **policy: Any) -> tuple[str, str]:
    policy_id = await factories.policy(client, acme, **HEARTBEAT, heartbeatCullStrategy="KEEP_DEAD", **policy)
    license_id = (await factories.license(client, acme, policy_id))["id"]
    machine = (await factories.machine(client, acme, license_id, "fp"))["id"]
    assert (await _ping(client, acme, machine)).status_code == 200
    clock.advance(timedelta(seconds=61))
    assert await _status(client, acme, machine) == "DEAD"
    return license_id, machine


async def test_no_revive_refuses_a_dead_machines_ping(client: httpx.AsyncClient, acme: Tenant) -> None:
    _, machine = await _dead_machine(client, acme, heartbeatResurrectionStrategy="NO_REVIVE")
    before = await _attributes(client, acme, machine)
    _dead(await _ping(client, acme, machine))
    after = await _attributes(client, acme, machine)
    assert after["heartbeatStatus"] == "DEAD"
    assert after["lastHeartbeat"] == before["lastHeartbeat"]


async def test_no_revive_is_the_default(client: httpx.AsyncClient, acme: Tenant) -> None:
    _, machine = await _dead_machine(client, acme)
    _dead(await _ping(client, acme, machine))


async def test_always_revive(client: httpx.AsyncClient, acme: Tenant) -> None:
    _, machine = await _dead_machine(client, acme, heartbeatResurrectionStrategy="ALWAYS_REVIVE")
    clock.advance(timedelta(days=30))
    response = await _ping(client, acme, machine)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"]["heartbeatStatus"] == "RESURRECTED"
    assert await _status(client, acme, machine) == "ALIVE"


async def test_one_minute_revive_within_the_window(client: httpx.AsyncClient, acme: Tenant) -> None:
    _, machine = await _dead_machine(client, acme, heartbeatResurrectionStrategy="1_MINUTE_REVIVE")
    clock.advance(timedelta(seconds=50))  # died 51 s ago
    response = await _ping(client, acme, machine)
    assert response.status_code == 200, response.text
    assert await _status(client, acme, machine) == "ALIVE"


async def test_one_minute_revive_after_the_window(client: httpx.AsyncClient, acme: Tenant) -> None:
    _, machine = await _dead_machine(client, acme, heartbeatResurrectionStrategy="1_MINUTE_REVIVE")
    clock.advance(timedelta(seconds=62))  # died 63 s ago
    _dead(await _ping(client, acme, machine))
    assert await _status(client, acme, machine) == "DEAD"


@pytest.mark.parametrize(("strategy", "window"), [("2_MINUTE_REVIVE", 120), ("5_MINUTE_REVIVE", 300)])
async def test_longer_revive_windows(
    client: httpx.AsyncClient, acme: Tenant, strategy: str, window: int
) -> None:
    _, machine = await _dead_machine(client, acme, heartbeatResurrectionStrategy=strategy)
    clock.advance(timedelta(seconds=window - 10))
    assert (await _ping(client, acme, machine)).status_code == 200
    clock.advance(timedelta(seconds=61 + window + 10))
    _dead(await _ping(client, acme, machine))


# -- culling -------------------------------------------------------------------------------


async def test_deactivate_dead_frees_the_seat_of_a_dead_machine(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, **HEARTBEAT, heartbeatCullStrategy="DEACTIVATE_DEAD")
    license_id = (await factories.license(client, acme, policy_id))["id"]
    old = (await factories.machine(client, acme, license_id, "old"))["id"]
    assert (await _ping(client, acme, old)).status_code == 200
    # While it lives it holds the only seat.
    jsonapi_error(await factories.activate(client, acme, license_id, "new"), 422, "MACHINE_LIMIT_EXCEEDED")

    clock.advance(timedelta(seconds=61))
    new = (await factories.machine(client, acme, license_id, "new"))["id"]

    jsonapi_error(await client.get(f"{acme.base}/machines/{old}", headers=bearer(acme.key)), 404, "NOT_FOUND")
    listed = await client.get(f"{acme.base}/licenses/{license_id}/machines", headers=bearer(acme.key))
    assert [item["id"] for item in listed.json()["data"]] == [new]


async def test_deactivate_dead_is_the_default(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id = (await factories.license(client, acme, policy=HEARTBEAT))["id"]
    old = (await factories.machine(client, acme, license_id, "old"))["id"]
    await _ping(client, acme, old)
    clock.advance(timedelta(seconds=61))
    await factories.machine(client, acme, license_id, "new")


async def test_deactivate_dead_frees_a_dead_machines_fingerprint(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license_id = (await factories.license(client, acme, policy=HEARTBEAT))["id"]
    old = (await factories.machine(client, acme, license_id, "same"))["id"]
    await _ping(client, acme, old)
    clock.advance(timedelta(seconds=61))
    new = (await factories.machine(client, acme, license_id, "same"))["id"]
    assert new != old
    assert await _status(client, acme, new) == "NOT_STARTED"


async def test_deactivate_dead_keeps_alive_and_unstarted_machines(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, **HEARTBEAT, floating=True, maxMachines=4)
    license_id = (await factories.license(client, acme, policy_id))["id"]
    dying = (await factories.machine(client, acme, license_id, "dying"))["id"]
    alive = (await factories.machine(client, acme, license_id, "alive"))["id"]
    await factories.machine(client, acme, license_id, "never-pinged")
    await _ping(client, acme, dying)
    clock.advance(timedelta(seconds=40))
    await _ping(client, acme, alive)
    unstarted = (await factories.machine(client, acme, license_id, "unstarted"))["id"]
    clock.advance(timedelta(seconds=30))
    # dying: 70 s since its ping; never-pinged: activated 70 s ago and silent since (dead,
    # as in Keygen); alive: pinged 30 s ago; unstarted: activated 30 s ago.
    new = (await factories.machine(client, acme, license_id, "new"))["id"]
    listed = await client.get(f"{acme.base}/licenses/{license_id}/machines", headers=bearer(acme.key))
    assert sorted(item["id"] for item in listed.json()["data"]) == sorted([alive, unstarted, new])
    await factories.machine(client, acme, license_id, "one-more")
    jsonapi_error(
        await factories.activate(client, acme, license_id, "two-more"), 422, "MACHINE_LIMIT_EXCEEDED"
    )


async def test_keep_dead_still_holds_the_seat(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id, machine = await _dead_machine(client, acme)
    jsonapi_error(await factories.activate(client, acme, license_id, "new"), 422, "MACHINE_LIMIT_EXCEEDED")
    assert await _status(client, acme, machine) == "DEAD"
    listed = await client.get(f"{acme.base}/licenses/{license_id}/machines", headers=bearer(acme.key))
    assert [item["id"] for item in listed.json()["data"]] == [machine]
    # Deactivating it by hand frees the seat.
    assert (
        await client.delete(f"{acme.base}/machines/{machine}", headers=bearer(acme.key))
    ).status_code == 204
    await factories.machine(client, acme, license_id, "new")


async def test_culling_needs_a_heartbeat_policy(client: httpx.AsyncClient, acme: Tenant) -> None:
    """A machine that pinged once on a policy without heartbeats is never culled."""
    policy_id = await factories.policy(
        client, acme, heartbeatDuration=60, heartbeatCullStrategy="DEACTIVATE_DEAD"
    )
    license_id = (await factories.license(client, acme, policy_id))["id"]
    machine = (await factories.machine(client, acme, license_id, "fp"))["id"]
    await _ping(client, acme, machine)
    clock.advance(timedelta(seconds=61))
    jsonapi_error(await factories.activate(client, acme, license_id, "new"), 422, "MACHINE_LIMIT_EXCEEDED")
    assert (await client.get(f"{acme.base}/machines/{machine}", headers=bearer(acme.key))).status_code == 200


async def test_culling_touches_only_the_activating_license(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, **HEARTBEAT)
    first = (await factories.license(client, acme, policy_id))["id"]
    second = (await factories.license(client, acme, policy_id))["id"]
    theirs = (await factories.machine(client, acme, second, "theirs"))["id"]
    await _ping(client, acme, theirs)
    clock.advance(timedelta(seconds=61))
    await factories.machine(client, acme, first, "mine")
    assert await _status(client, acme, theirs) == "DEAD"


async def test_from_creation_starts_alive_and_a_silent_machine_dies(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, **{**HEARTBEAT, "heartbeatBasis": "FROM_CREATION"})
    from_creation = (await factories.license(client, acme, policy_id))["id"]
    machine = (await factories.machine(client, acme, from_creation, "fp"))["id"]
    assert await _status(client, acme, machine) == "ALIVE"
    clock.advance(timedelta(seconds=61))
    assert await _status(client, acme, machine) == "DEAD"

    from_first_ping = (await factories.license(client, acme, policy=HEARTBEAT))["id"]
    silent = (await factories.machine(client, acme, from_first_ping, "silent"))["id"]
    assert await _status(client, acme, silent) == "NOT_STARTED"
    clock.advance(timedelta(seconds=61))
    assert await _status(client, acme, silent) == "DEAD"
