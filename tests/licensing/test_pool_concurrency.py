"""A pool key goes to exactly one license, under concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests import factories
from tests.factories import Tenant, bearer

CONCURRENT = 64


async def _pool_values(client: httpx.AsyncClient, acme: Tenant, policy: str) -> set[str]:
    response = await client.get(f"{acme.base}/policies/{policy}/pool?limit=100", headers=bearer(acme.key))
    assert response.status_code == 200
    return {item["attributes"]["key"] for item in response.json()["data"]}


def _split(responses: list[httpx.Response], code: str) -> tuple[list[dict[str, Any]], int]:
    won = [r.json()["data"] for r in responses if r.status_code in (200, 201)]
    refused = [r for r in responses if r.status_code not in (200, 201)]
    for response in refused:
        assert response.status_code == 422, response.text
        assert [error["code"] for error in response.json()["errors"]] == [code]
    return won, len(refused)


@pytest.mark.parametrize("size", [10, 80])
async def test_concurrent_license_creations_share_no_pool_key(
    client: httpx.AsyncClient, acme: Tenant, size: int
) -> None:
    policy = await factories.policy(client, acme, usePool=True)
    values = {key["attributes"]["key"] for key in await factories.pool_keys(client, acme, policy, size)}
    body = {"data": {"type": "licenses", "relationships": {"policy": factories.ref("policies", policy)}}}

    responses = await asyncio.gather(
        *(
            client.post(f"{acme.base}/licenses", json=body, headers=bearer(acme.key))
            for _ in range(CONCURRENT)
        )
    )

    created, refused = _split(list(responses), "POLICY_POOL_EMPTY")
    expected = min(size, CONCURRENT)
    assert len(created) == expected
    assert refused == CONCURRENT - expected
    used = [license["attributes"]["key"] for license in created]
    assert len(set(used)) == len(used), "a pool key went to two licenses"
    assert set(used) <= values
    left = await _pool_values(client, acme, policy)
    assert left.isdisjoint(used)
    assert left | set(used) == values, "a pool key was lost"
    listed = await client.get(f"{acme.base}/licenses?policy={policy}&limit=100", headers=bearer(acme.key))
    assert {item["attributes"]["key"] for item in listed.json()["data"]} == set(used)


@pytest.mark.parametrize("size", [10, 80])
async def test_concurrent_pops_take_each_key_once(client: httpx.AsyncClient, acme: Tenant, size: int) -> None:
    policy = await factories.policy(client, acme, usePool=True)
    values = {key["attributes"]["key"] for key in await factories.pool_keys(client, acme, policy, size)}

    responses = await asyncio.gather(
        *(
            client.delete(f"{acme.base}/policies/{policy}/pool", headers=bearer(acme.key))
            for _ in range(CONCURRENT)
        )
    )

    popped, refused = _split(list(responses), "POOL_EMPTY")
    expected = min(size, CONCURRENT)
    assert len(popped) == expected
    assert refused == CONCURRENT - expected
    taken = [key["attributes"]["key"] for key in popped]
    assert len(set(taken)) == len(taken), "a key was popped twice"
    left = await _pool_values(client, acme, policy)
    assert left.isdisjoint(taken)
    assert left | set(taken) == values


async def test_concurrent_creations_and_pops_together(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy = await factories.policy(client, acme, usePool=True)
    values = {key["attributes"]["key"] for key in await factories.pool_keys(client, acme, policy, 40)}
    body = {"data": {"type": "licenses", "relationships": {"policy": factories.ref("policies", policy)}}}
    creations = [client.post(f"{acme.base}/licenses", json=body, headers=bearer(acme.key)) for _ in range(32)]
    pops = [client.delete(f"{acme.base}/policies/{policy}/pool", headers=bearer(acme.key)) for _ in range(32)]

    responses = await asyncio.gather(*creations, *pops)

    won = [r.json()["data"]["attributes"]["key"] for r in responses if r.status_code in (200, 201)]
    assert len(won) == 40
    assert len(set(won)) == 40
    assert set(won) == values
    for response in responses:
        if response.status_code not in (200, 201):
            assert response.status_code == 422
            assert response.json()["errors"][0]["code"] in ("POLICY_POOL_EMPTY", "POOL_EMPTY")
    assert await _pool_values(client, acme, policy) == set()
