"""Validations are in the event log, written in batches: succeeded or failed, with the code,
whichever path answered (the lean handler or the framework); the quick GET records nothing."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests import factories
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
