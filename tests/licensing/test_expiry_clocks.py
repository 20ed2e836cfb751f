"""When a license's expiry clock starts and where the expiry lands (Keygen's
app/models/license.rb: ``set_expiry_on_creation``, ``renew!``, ``set_expiry_on_first_
validation!``, ``set_expiry_on_first_activation!``, ``set_expiry_on_first_use!``, each
``Time.current + ActiveSupport::Duration.build(duration)``; see tests/kit/test_durations.py
for where a duration lands)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from keyplane.kit.instants import plus_duration
from keyplane.licenses import expiry
from keyplane.models import License, Policy
from keyplane.models.policy import ExpirationBasis
from keyplane.services import services_of
from tests import factories
from tests.factories import Tenant, bearer
from tests.licensing.test_validation import check_meta, fetch, parse_ts

YEAR = 31_556_952
MONTH = 2_629_746
SLACK = timedelta(seconds=5)


def _lands(value: Any, start: datetime, seconds: int) -> datetime:
    """``value`` is the expiry ``seconds`` after ``start`` on the calendar (within the few
    moments a request takes), which is hours away from ``start`` plus plain seconds."""
    landed = parse_ts(value)
    assert abs(landed - plus_duration(start, seconds)) < SLACK, (value, start)
    if seconds % 86_400:
        assert abs(landed - (start + timedelta(seconds=seconds))) > timedelta(hours=1)
    return landed


async def _action(client: httpx.AsyncClient, acme: Tenant, license_id: str, action: str) -> dict[str, Any]:
    response = await client.post(
        f"{acme.base}/licenses/{license_id}/actions/{action}", headers=bearer(acme.key)
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_a_years_duration_expires_on_the_same_date(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, duration=YEAR)
    license = await factories.license(client, acme, policy_id)
    created = parse_ts(license["attributes"]["created"])
    landed = _lands(license["attributes"]["expiry"], created, YEAR)
    assert (landed.month, landed.day, landed.hour, landed.minute) == (
        created.month,
        created.day,
        created.hour,
        created.minute,
    )
    assert (await fetch(client, acme, license["id"]))["attributes"]["expiry"] == license["attributes"][
        "expiry"
    ]


@pytest.mark.parametrize(
    ("basis", "expiry", "renewed"),
    [
        # From the expiry: Jan 31 plus a month is Feb 28, and a month more Mar 28.
        ("FROM_EXPIRY", "2030-01-31T06:00:00.000Z", ["2030-02-28T06:00:00.000Z", "2030-03-28T06:00:00.000Z"]),
        ("FROM_NOW_IF_EXPIRED", "2030-01-31T06:00:00.000Z", ["2030-02-28T06:00:00.000Z"]),
    ],
)
async def test_renewing_from_the_expiry_adds_calendar_months(
    client: httpx.AsyncClient, acme: Tenant, basis: str, expiry: str, renewed: list[str]
) -> None:
    policy_id = await factories.policy(client, acme, duration=MONTH, renewalBasis=basis)
    license = await factories.license(client, acme, policy_id, expiry=expiry)
    for expected in renewed:
        assert (await _action(client, acme, license["id"], "renew"))["attributes"]["expiry"] == expected
        assert (await fetch(client, acme, license["id"]))["attributes"]["expiry"] == expected


@pytest.mark.parametrize(("basis", "expired"), [("FROM_NOW", False), ("FROM_NOW_IF_EXPIRED", True)])
async def test_renewing_from_now_adds_a_calendar_month_to_now(
    client: httpx.AsyncClient, acme: Tenant, basis: str, expired: bool
) -> None:
    policy_id = await factories.policy(client, acme, duration=MONTH + 3_600, renewalBasis=basis)
    start = clock.now() + (timedelta(days=-3) if expired else timedelta(days=40))
    license = await factories.license(client, acme, policy_id, expiry=start.isoformat())
    renewed = await _action(client, acme, license["id"], "renew")
    _lands(renewed["attributes"]["expiry"], clock.now(), MONTH + 3_600)


async def test_first_validation_starts_the_clock_and_the_quick_get_does_not(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """The clock starts on Keygen's ``license.validation.*`` event, which only the POST
    broadcasts (validations_controller.rb)."""
    policy_id = await factories.policy(client, acme, duration=YEAR, expirationBasis="FROM_FIRST_VALIDATION")
    license = await factories.license(client, acme, policy_id)
    assert license["attributes"]["expiry"] is None
    url = f"{acme.base}/licenses/{license['id']}/actions/validate"
    quick = (await client.get(url, headers=bearer(acme.key))).json()
    check_meta(quick, True, "VALID")
    assert quick["data"]["attributes"]["expiry"] is None
    assert (await fetch(client, acme, license["id"]))["attributes"]["expiry"] is None

    clock.advance(timedelta(days=10))
    full = (await client.post(url, json={"meta": {}}, headers=bearer(acme.key))).json()
    check_meta(full, True, "VALID")
    started = full["data"]["attributes"]["expiry"]
    _lands(started, clock.now(), YEAR)
    clock.advance(timedelta(days=10))
    again = (await client.post(url, json={"meta": {}}, headers=bearer(acme.key))).json()
    assert again["data"]["attributes"]["expiry"] == started
    assert (await fetch(client, acme, license["id"]))["attributes"]["expiry"] == started


async def test_first_activation_starts_the_clock_once(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(
        client, acme, duration=MONTH, expirationBasis="FROM_FIRST_ACTIVATION", floating=True, maxMachines=5
    )
    license = await factories.license(client, acme, policy_id)
    assert license["attributes"]["expiry"] is None
    clock.advance(timedelta(days=3))
    first = await factories.machine(client, acme, license["id"], "first")
    started = (await fetch(client, acme, license["id"]))["attributes"]["expiry"]
    _lands(started, clock.now(), MONTH)

    # Later activations, after the first machine is gone too, keep it.
    clock.advance(timedelta(days=5))
    assert (
        await client.delete(f"{acme.base}/machines/{first['id']}", headers=bearer(acme.key))
    ).status_code == 204
    await factories.machine(client, acme, license["id"], "second")
    assert (await fetch(client, acme, license["id"]))["attributes"]["expiry"] == started


async def test_first_use_starts_the_clock_once(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(
        client, acme, duration=YEAR, expirationBasis="FROM_FIRST_USE", maxUses=10
    )
    license = await factories.license(client, acme, policy_id)
    # Activating or validating is no use.
    await factories.machine(client, acme, license["id"], "fp")
    await client.post(
        f"{acme.base}/licenses/{license['id']}/actions/validate", json={"meta": {}}, headers=bearer(acme.key)
    )
    assert (await fetch(client, acme, license["id"]))["attributes"]["expiry"] is None

    clock.advance(timedelta(days=2))
    used = await _action(client, acme, license["id"], "increment-usage")
    started = used["attributes"]["expiry"]
    assert used["attributes"]["uses"] == 1
    _lands(started, clock.now(), YEAR)
    clock.advance(timedelta(days=2))
    assert (await _action(client, acme, license["id"], "increment-usage"))["attributes"]["expiry"] == started
    assert (await fetch(client, acme, license["id"]))["attributes"]["expiry"] == started


async def test_concurrent_first_uses_start_the_clock_once(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, duration=YEAR, expirationBasis="FROM_FIRST_USE")
    license = await factories.license(client, acme, policy_id)
    answers = await asyncio.gather(
        *(
            client.post(
                f"{acme.base}/licenses/{license['id']}/actions/increment-usage", headers=bearer(acme.key)
            )
            for _ in range(6)
        )
    )
    assert [answer.status_code for answer in answers] == [200] * 6
    stored = await fetch(client, acme, license["id"])
    assert stored["attributes"]["uses"] == 6
    assert stored["attributes"]["expiry"] is not None


async def test_the_clock_starts_once_even_from_a_stale_read(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Two first events that both read "no expiry": the second keeps the first's expiry (one
    conditional UPDATE), and its license shows that expiry."""
    policy_id = await factories.policy(client, acme, duration=MONTH, expirationBasis="FROM_FIRST_USE")
    license_id = uuid.UUID((await factories.license(client, acme, policy_id))["id"])
    first, later = clock.now(), clock.now() + timedelta(days=9)
    db = services_of(app).db
    async with db.writer() as session:
        policy = await session.get(Policy, uuid.UUID(policy_id))
        stale = await session.get(License, license_id)
        assert policy is not None
        assert stale is not None
    async with db.writer() as session:
        fresh = await session.get(License, license_id)
        assert fresh is not None
        await expiry.start(session, fresh, policy, ExpirationBasis.FROM_FIRST_USE, first)
        await session.commit()
    async with db.writer() as session:
        stale = await session.merge(stale, load=False)
        assert stale.expiry is None
        await expiry.start(session, stale, policy, ExpirationBasis.FROM_FIRST_USE, later)
        await session.commit()
        assert stale.expiry == plus_duration(first, MONTH)
    assert parse_ts((await fetch(client, acme, str(license_id)))["attributes"]["expiry"]) == plus_duration(
        first, MONTH
    ).replace(microsecond=first.microsecond // 1000 * 1000)
