"""A license key never equals a key waiting in a pool, and no such pair can jam a pool.

A pool key is refused when it equals a license's key (``KEY_CONFLICT``); the converse holds
too, whoever creates the license (an end customer cannot see the pool, yet could otherwise
take a pool key's value and leave its pooled policy answering ``KEY_TAKEN`` for good).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from keyplane.licensing.keystrings import digest
from keyplane.models import License, PoolKey
from keyplane.services import services_of
from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer

ROUNDS = 10


def _license_body(policy: str, key: str | None = None) -> dict[str, Any]:
    attributes = {} if key is None else {"key": key}
    return {
        "data": {
            "type": "licenses",
            "attributes": attributes,
            "relationships": {"policy": factories.ref("policies", policy)},
        }
    }


async def _count(app: FastAPI, model: type[License] | type[PoolKey]) -> int:
    async with services_of(app).db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_end_customer_cannot_take_a_pool_keys_value(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy = await factories.policy(client, acme, usePool=True)
    await factories.pool_key(client, acme, policy, "POOLED-0001")
    customer_id, customer = await factories.role_key(app, client, acme, "user")

    # An end customer names themselves as the owner (Keygen's license_policy.rb).
    body = _license_body(policy, "POOLED-0001")
    body["data"]["relationships"]["owner"] = factories.ref("users", customer_id)
    response = await client.post(f"{acme.base}/licenses", json=body, headers=bearer(customer))

    error = jsonapi_error(response, 422, "KEY_CONFLICT")["errors"][0]
    assert error["source"] == {"pointer": "/data/attributes/key"}
    assert "POOLED-0001" not in response.text
    assert await _count(app, License) == 0
    # The pool is intact: the next license of the policy takes the key.
    taken = await client.post(f"{acme.base}/licenses", json=_license_body(policy), headers=bearer(acme.key))
    assert taken.status_code == 201, taken.text
    assert taken.json()["data"]["attributes"]["key"] == "POOLED-0001"


async def test_staff_cannot_give_a_license_a_pool_keys_value_either(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy = await factories.policy(client, acme, usePool=True)
    other = await factories.policy(client, acme)
    await factories.pool_key(client, acme, policy, "POOLED-0002")

    response = await client.post(
        f"{acme.base}/licenses", json=_license_body(other, "POOLED-0002"), headers=bearer(acme.key)
    )

    jsonapi_error(response, 422, "KEY_CONFLICT")
    assert await _count(app, License) == 0
    assert await _count(app, PoolKey) == 1


async def _licensed_pool_key(app: FastAPI, client: httpx.AsyncClient, acme: Tenant, value: str) -> None:
    """Data from before the rule: a license whose key equals a pool key's."""
    made = await factories.license(client, acme)
    async with services_of(app).db.writer() as session:
        await session.execute(
            update(License)
            .where(License.id == uuid.UUID(made["id"]))
            .values(key=value, key_digest=digest(value))
        )
        await session.commit()


@pytest.mark.parametrize("how", ["license", "pop"])
async def test_a_pool_key_already_licensed_is_passed_over(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, how: str
) -> None:
    policy = await factories.policy(client, acme, usePool=True)
    await factories.pool_key(client, acme, policy, "POOLED-OLDER")
    await factories.pool_key(client, acme, policy, "POOLED-NEWER")  # popped first, were it free
    await _licensed_pool_key(app, client, acme, "POOLED-NEWER")

    if how == "license":
        response = await client.post(
            f"{acme.base}/licenses", json=_license_body(policy), headers=bearer(acme.key)
        )
        assert response.status_code == 201, response.text
    else:
        response = await client.delete(f"{acme.base}/policies/{policy}/pool", headers=bearer(acme.key))
        assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"]["key"] == "POOLED-OLDER"
    # The licensed one stays listed for an administrator, and is never handed out.
    listed = await client.get(f"{acme.base}/policies/{policy}/pool", headers=bearer(acme.key))
    assert [item["attributes"]["key"] for item in listed.json()["data"]] == ["POOLED-NEWER"]
    empty = await client.post(f"{acme.base}/licenses", json=_license_body(policy), headers=bearer(acme.key))
    jsonapi_error(empty, 422, "POLICY_POOL_EMPTY")


async def test_a_pool_key_and_a_license_racing_for_one_value_never_both_win(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    pooled = await factories.policy(client, acme, usePool=True)
    plain = await factories.policy(client, acme)
    for round_ in range(ROUNDS):
        value = f"RACED-{round_:04d}"
        pool_body = {
            "data": {
                "type": "keys",
                "attributes": {"key": value},
                "relationships": {"policy": factories.ref("policies", pooled)},
            }
        }
        key_made, license_made = await asyncio.gather(
            client.post(f"{acme.base}/keys", json=pool_body, headers=bearer(acme.key)),
            client.post(f"{acme.base}/licenses", json=_license_body(plain, value), headers=bearer(acme.key)),
        )
        statuses = sorted([key_made.status_code, license_made.status_code])
        assert statuses == [201, 422], (key_made.text, license_made.text)
        loser = key_made if key_made.status_code == 422 else license_made
        assert loser.json()["errors"][0]["code"] in ("KEY_CONFLICT", "KEY_TAKEN")
