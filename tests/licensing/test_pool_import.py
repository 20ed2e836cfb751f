"""``POST /policies/{id}/pool/import`` (a Keyplane extension): up to 1,000 keys into a pooled
policy's pool at once, each added, reported present or refused alone, by its position."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from keyplane.models import Event, PoolKey
from keyplane.services import services_of
from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer


def _body(*keys: str) -> dict[str, Any]:
    return {"data": [{"type": "keys", "attributes": {"key": key}} for key in keys]}


async def _import(
    client: httpx.AsyncClient, account: Tenant, policy_id: str, *keys: str, credential: str | None = None
) -> httpx.Response:
    return await client.post(
        f"{account.base}/policies/{policy_id}/pool/import",
        json=_body(*keys),
        headers=bearer(credential or account.key),
    )


async def _pool(client: httpx.AsyncClient, account: Tenant, policy_id: str) -> list[str]:
    response = await client.get(
        f"{account.base}/policies/{policy_id}/pool?limit=100", headers=bearer(account.key)
    )
    assert response.status_code == 200, response.text
    return sorted(item["attributes"]["key"] for item in response.json()["data"])


async def _created_events(app: FastAPI, account: Tenant) -> list[tuple[str, uuid.UUID]]:
    """The account's ``key.created`` events: (whodunnit type, resource id) each."""
    async with services_of(app).db.reader() as session:
        rows = await session.execute(
            select(Event.whodunnit_type, Event.resource_id).where(
                Event.event == "key.created", Event.account_id == account.id
            )
        )
    return [(row.whodunnit_type, row.resource_id) for row in rows]


async def _pool_ids(app: FastAPI, policy_id: str) -> set[uuid.UUID]:
    async with services_of(app).db.reader() as session:
        return set(await session.scalars(select(PoolKey.id).where(PoolKey.policy_id == uuid.UUID(policy_id))))


async def test_each_key_is_added_present_or_refused_and_a_second_run_adds_nothing(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    other_id = await factories.policy(client, acme, usePool=True)
    await factories.pool_key(client, acme, policy_id, "IN-POOL-0001")
    await factories.pool_key(client, acme, other_id, "OTHER-POOL-0001")
    licensed = await factories.license(client, acme, policy={"name": "Plain"}, key="LICENSED-KEY-0001")
    keys = [
        "NEW-KEY-0001",
        "IN-POOL-0001",
        "OTHER-POOL-0001",
        "short",
        "NEW-KEY-0001",
        "LICENSED-KEY-0001",
        "L" * 1025,
        str(licensed["id"]),
        "NEW-KEY-0002",
    ]
    before = await _created_events(app, acme)

    response = await _import(client, acme, policy_id, *keys)
    assert response.status_code == 200, response.text
    report = response.json()["meta"]
    assert (report["added"], report["present"]) == (2, [2])
    assert [(item["line"], item["code"], item["detail"]) for item in report["refused"]] == [
        (3, "KEY_TAKEN", "has already been taken"),
        (4, "KEY_TOO_SHORT", "is too short (minimum is 8 characters)"),
        (5, "KEY_TAKEN", "duplicates line 1"),
        (6, "KEY_CONFLICT", "conflicts with an existing license"),
        (7, "KEY_TOO_LONG", "is too long (maximum is 1024 characters)"),
        (8, "KEY_CONFLICT", "conflicts with an existing license"),
    ]
    assert "LICENSED-KEY-0001" not in response.text  # the report names positions, not values
    assert await _pool(client, acme, policy_id) == ["IN-POOL-0001", "NEW-KEY-0001", "NEW-KEY-0002"]
    assert await _pool(client, acme, other_id) == ["OTHER-POOL-0001"]
    events = await _created_events(app, acme)
    new = [event for event in events if event not in before]
    assert {resource for _, resource in new} == await _pool_ids(app, policy_id) - {i for _, i in before}
    assert len(new) == 2
    assert {who for who, _ in new} == {"api-key"}

    again = await _import(client, acme, policy_id, "NEW-KEY-0002", "NEW-KEY-0001", "IN-POOL-0001")
    assert again.status_code == 200, again.text
    assert again.json()["meta"] == {"added": 0, "present": [1, 2, 3], "refused": []}
    assert await _pool(client, acme, policy_id) == ["IN-POOL-0001", "NEW-KEY-0001", "NEW-KEY-0002"]
    assert len(await _created_events(app, acme)) == len(events)


async def test_a_request_that_cannot_be_taken_adds_nothing(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    plain_id = await factories.policy(client, acme)

    too_many = await _import(client, acme, policy_id, *(f"MANY-KEY-{n:05d}" for n in range(1001)))
    error = jsonapi_error(too_many, 422, "DATA_TOO_LONG")["errors"][0]
    assert (error["source"], error["detail"]) == (
        {"pointer": "/data"},
        "List should have at most 1000 items after validation, not 1001",
    )
    jsonapi_error(await _import(client, acme, policy_id), 422, "DATA_TOO_SHORT")
    assert await _pool(client, acme, policy_id) == []

    exactly = await _import(client, acme, policy_id, *(f"MANY-KEY-{n:05d}" for n in range(1000)))
    assert exactly.status_code == 200, exactly.text
    assert exactly.json()["meta"]["added"] == 1000

    not_pooled = await _import(client, acme, plain_id, "PLAIN-KEY-0001")
    jsonapi_error(not_pooled, 422, "POLICY_NOT_SUPPORTED")
    missing = await _import(client, acme, str(uuid.uuid4()), "MISSING-KEY-0001")
    jsonapi_error(missing, 422, "POLICY_NOT_FOUND")
    assert await _pool(client, acme, plain_id) == []


@pytest.mark.parametrize("role", ["read-only", "support-agent", "sales-agent", "user"])
async def test_only_who_may_add_keys_may_import(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    _, key = await factories.role_key(app, client, acme, role)
    refused = await _import(client, acme, policy_id, "STAFF-KEY-0001", credential=key)
    assert refused.status_code == 403, refused.text
    assert refused.json()["errors"][0]["code"] in ("INSUFFICIENT_SCOPE", "ACCESS_DENIED")
    assert await _pool(client, acme, policy_id) == []

    _, developer = await factories.role_key(app, client, acme, "developer")
    taken = await _import(client, acme, policy_id, "DEVELOPER-KEY-0001", credential=developer)
    assert taken.status_code == 200, taken.text
    assert await _pool(client, acme, policy_id) == ["DEVELOPER-KEY-0001"]


async def test_a_product_token_imports_into_its_own_products_pools_only(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id, usePool=True)
    others = await factories.policy(client, acme, usePool=True)
    token = await factories.product_token(client, acme, product_id)

    assert (await _import(client, acme, policy_id, "PRODUCT-KEY-0001", credential=token)).status_code == 200
    refused = await _import(client, acme, others, "PRODUCT-KEY-0002", credential=token)
    jsonapi_error(refused, 403, "ACCESS_DENIED")
    assert await _pool(client, acme, policy_id) == ["PRODUCT-KEY-0001"]
    assert await _pool(client, acme, others) == []
