"""Dates past the year 9999, sent or computed, are a 422 naming the field and change
nothing (they used to overflow Python's datetime: a 500), on both databases."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from keyplane.kit.credentials import CredentialKind
from keyplane.models import Credential, License
from keyplane.services import services_of
from tests import factories
from tests.api_keys.helpers import assert_error
from tests.auth.support import basic, jsonapi_error
from tests.factories import PASSWORD, Tenant, bearer

PAST_THE_END = "9999-12-31T23:59:59-14:00"
"""Still 9999 where it was written, 10000 in UTC."""
LAST_DAY = "9999-12-31T00:00:00Z"


async def _credentials(app: FastAPI, kind: CredentialKind) -> int:
    async with services_of(app).db.reader() as session:
        found = await session.scalar(
            select(func.count()).select_from(Credential).where(Credential.kind == kind.value)
        )
        return int(found or 0)


def _expiry_refused(response: httpx.Response) -> None:
    error = jsonapi_error(response, 422, "EXPIRY_INVALID")["errors"][0]
    assert error["source"] == {"pointer": "/data/attributes/expiry"}
    assert error["detail"] == "must be before the year 10000"


async def test_a_license_expiring_past_9999_is_422(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy = await factories.policy(client, acme)
    body = factories.document("licenses", {"expiry": PAST_THE_END}, policy=policy)
    _expiry_refused(await client.post(f"{acme.base}/licenses", json=body, headers=bearer(acme.key)))
    async with services_of(app).db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(License)) == 0

    license_id = (await factories.license(client, acme, policy, expiry=LAST_DAY))["id"]
    patch = {"data": {"type": "licenses", "attributes": {"expiry": PAST_THE_END}}}
    response = await client.patch(f"{acme.base}/licenses/{license_id}", json=patch, headers=bearer(acme.key))
    _expiry_refused(response)
    kept = await client.get(f"{acme.base}/licenses/{license_id}", headers=bearer(acme.key))
    assert kept.json()["data"]["attributes"]["expiry"] == "9999-12-31T00:00:00.000Z"


async def test_a_renewal_past_9999_is_422_and_keeps_the_expiry(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy = await factories.policy(client, acme, duration=30 * 86_400, renewalBasis="FROM_EXPIRY")
    license_id = (await factories.license(client, acme, policy, expiry=LAST_DAY))["id"]

    response = await client.post(f"{acme.base}/licenses/{license_id}/actions/renew", headers=bearer(acme.key))

    _expiry_refused(response)
    kept = await client.get(f"{acme.base}/licenses/{license_id}", headers=bearer(acme.key))
    assert kept.json()["data"]["attributes"]["expiry"] == "9999-12-31T00:00:00.000Z"


async def test_an_api_key_expiring_past_9999_is_422(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    before = await _credentials(app, CredentialKind.API_KEY)
    for name in ("expiresAt", "expires_at"):
        response = await client.post(
            f"{acme.base}/api-keys", json={"name": "far", name: PAST_THE_END}, headers=bearer(acme.key)
        )
        assert_error(response, 422, "EXPIRES_AT_INVALID", name)  # named as it was sent
    assert await _credentials(app, CredentialKind.API_KEY) == before


async def test_a_token_expiring_past_9999_is_422(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    body = {"data": {"type": "tokens", "attributes": {"expiry": PAST_THE_END}}}
    response = await client.post(f"{acme.base}/tokens", json=body, headers=basic(acme.admin_email, PASSWORD))
    _expiry_refused(response)
    assert await _credentials(app, CredentialKind.TOKEN) == 0
