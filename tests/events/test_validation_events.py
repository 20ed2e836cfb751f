"""Validations are in the event log, written in batches: succeeded or failed, with the code,
whichever path answered (the lean handler or the framework); the quick GET records nothing."""

from __future__ import annotations

import ipaddress

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from keyplane.app import Keyplane
from keyplane.config import Settings
from keyplane.models import Event
from keyplane.services import services_of
from tests import factories
from tests.conftest import CLIENT_ADDRESS, shared_app
from tests.events.support import logged
from tests.factories import Tenant, bearer


async def test_validate_key_is_recorded_on_either_path(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await factories.license(client, acme)
    body = {"meta": {"key": license["attributes"]["key"]}}
    for request_id in ("first", "second"):  # the second is answered from memory by the lean handler
        response = await client.post(
            f"{acme.base}/licenses/actions/validate-key", json=body, headers={"X-Request-Id": request_id}
        )
        assert response.json()["meta"]["code"] == "VALID"

    recorded = await logged(app, client, acme, "license.validation.succeeded", "license.validation.failed")

    assert [entry["relationships"]["request"]["data"]["id"] for entry in recorded] == ["second", "first"]
    for entry in recorded:
        assert entry["attributes"]["event"] == "license.validation.succeeded"
        assert entry["attributes"]["metadata"] == {"code": "VALID"}
        assert entry["relationships"]["resource"]["data"] == {"type": "licenses", "id": license["id"]}
        # No credential: the holder of the license key acted.
        assert entry["relationships"]["whodunnit"]["data"] == {"type": "licenses", "id": license["id"]}


async def test_a_failed_validation_is_recorded_with_its_code(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await factories.license(client, acme)
    url = f"{acme.base}/licenses/{license['id']}"
    assert (await client.post(f"{url}/actions/suspend", headers=bearer(acme.key))).status_code == 200

    response = await client.post(f"{url}/actions/validate", headers=bearer(acme.key))
    assert response.json()["meta"]["code"] == "SUSPENDED"
    assert (await client.get(f"{url}/actions/validate", headers=bearer(acme.key))).status_code == 200

    [entry] = await logged(app, client, acme, "license.validation.succeeded", "license.validation.failed")
    assert entry["attributes"]["event"] == "license.validation.failed"
    assert entry["attributes"]["metadata"] == {"code": "SUSPENDED"}
    assert entry["relationships"]["whodunnit"]["data"]["type"] == "api-keys"


async def test_an_unknown_key_records_nothing(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.post(f"{acme.base}/licenses/actions/validate-key", json={"meta": {"key": "nope"}})
    assert response.json()["meta"]["code"] == "NOT_FOUND"
    assert await logged(app, client, acme, "license.validation.succeeded", "license.validation.failed") == []


async def test_either_path_records_the_request_a_validation_came_with(
    settings: Settings, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """A validation's event holds its request's id, its client's address (behind a trusted
    proxy, the forwarded one) and its User-Agent, whichever path answered: the lean handler
    keeps what they are made of and builds them with the event log's batch."""
    license = await factories.license(client, acme)
    body = {"meta": {"key": license["attributes"]["key"]}}
    proxies = {"trusted_proxies": [ipaddress.ip_network("203.0.113.0/24")]}  # CLIENT_ADDRESS's
    framework = shared_app(settings.model_copy(update={**proxies, "hot_paths": False}))
    hot = shared_app(settings.model_copy(update=proxies))
    assert isinstance(hot, Keyplane)
    sent = [(framework, "by-framework"), (hot, "lean-1"), (hot, "lean-2")]
    async with framework.router.lifespan_context(framework), hot.router.lifespan_context(hot):
        assert hot.hot is not None
        for application, request_id in sent:
            transport = httpx.ASGITransport(app=application, client=(CLIENT_ADDRESS, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                before = hot.hot.answered
                response = await http.post(
                    f"{acme.base}/licenses/actions/validate-key",
                    json=body,
                    headers={
                        "X-Request-Id": request_id,
                        "User-Agent": f"app/{request_id}",
                        "X-Forwarded-For": "198.51.100.9",
                    },
                )
            assert response.json()["meta"]["code"] == "VALID"
            if request_id == "lean-2":  # the license is cached by then
                assert hot.hot.answered == before + 1
        for application in (framework, hot):
            await services_of(application).events.flush()
        async with services_of(hot).db.reader() as session:
            rows = (
                await session.scalars(
                    select(Event)
                    .where(Event.account_id == acme.id, Event.event == "license.validation.succeeded")
                    .order_by(Event.id)
                )
            ).all()

    assert [(row.request_id, row.address, row.user_agent) for row in rows] == [
        (request_id, "198.51.100.9", f"app/{request_id}") for _, request_id in sent
    ]
