"""A license's derived status, the list filters (status, product, policy, owner) and paging."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from keyplane.kit.timefmt import iso
from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer


async def _status(client: httpx.AsyncClient, account: Tenant, license_id: str) -> str:
    response = await client.get(f"{account.base}/licenses/{license_id}", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["attributes"]["status"])


async def _listed(client: httpx.AsyncClient, account: Tenant, query: str) -> list[dict[str, Any]]:
    response = await client.get(f"{account.base}/licenses?limit=100&{query}", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def _ids(client: httpx.AsyncClient, account: Tenant, query: str) -> set[str]:
    return {item["id"] for item in await _listed(client, account, query)}


def _in(delta: timedelta) -> str:
    return iso(clock.now() + delta)


# -- status --------------------------------------------------------------------------------


async def test_status_follows_suspension_and_expiry(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    cases: dict[str, dict[str, Any]] = {
        "ACTIVE": {},
        "SUSPENDED": {"suspended": True},
        "EXPIRED": {"expiry": _in(-timedelta(minutes=1))},
        "EXPIRING": {"expiry": _in(timedelta(days=2))},
    }
    for expected, attributes in cases.items():
        data = await factories.license(client, acme, policy_id, **attributes)
        assert data["attributes"]["status"] == expected, attributes
        assert await _status(client, acme, data["id"]) == expected

    far = await factories.license(client, acme, policy_id, expiry=_in(timedelta(days=4)))
    assert far["attributes"]["status"] == "ACTIVE"
    # Suspension wins over expiry.
    both = await factories.license(client, acme, policy_id, suspended=True, expiry=_in(-timedelta(days=1)))
    assert both["attributes"]["status"] == "SUSPENDED"
    assert both["attributes"]["suspended"] is True


async def test_status_changes_as_time_passes_and_on_patch(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id, expiry=_in(timedelta(days=10)))
    url = f"{acme.base}/licenses/{data['id']}"
    assert await _status(client, acme, data["id"]) == "ACTIVE"
    clock.advance(timedelta(days=8))
    assert await _status(client, acme, data["id"]) == "EXPIRING"
    clock.advance(timedelta(days=3))
    assert await _status(client, acme, data["id"]) == "EXPIRED"

    renewed = {"data": {"type": "licenses", "attributes": {"expiry": _in(timedelta(days=30))}}}
    assert (await client.patch(url, json=renewed, headers=bearer(acme.key))).status_code == 200
    assert await _status(client, acme, data["id"]) == "ACTIVE"
    suspend = {"data": {"type": "licenses", "attributes": {"suspended": True}}}
    response = await client.patch(url, json=suspend, headers=bearer(acme.key))
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["status"] == "SUSPENDED"


async def test_license_unused_for_90_days_is_inactive(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    data = await factories.license(client, acme, policy_id)
    clock.advance(timedelta(days=89))
    assert await _status(client, acme, data["id"]) == "ACTIVE"
    clock.advance(timedelta(days=2))
    assert await _status(client, acme, data["id"]) == "INACTIVE"
    fresh = await factories.license(client, acme, policy_id)
    assert fresh["attributes"]["status"] == "ACTIVE"


async def test_status_filter_returns_exactly_the_matching_licenses(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme)
    inactive = await factories.license(client, acme, policy_id)
    clock.advance(timedelta(days=91))
    made = {
        "INACTIVE": inactive,
        "ACTIVE": await factories.license(client, acme, policy_id),
        "SUSPENDED": await factories.license(
            client, acme, policy_id, suspended=True, expiry=_in(-timedelta(days=1))
        ),
        "EXPIRED": await factories.license(client, acme, policy_id, expiry=_in(-timedelta(hours=1))),
        "EXPIRING": await factories.license(client, acme, policy_id, expiry=_in(timedelta(days=1))),
    }
    for expected, data in made.items():
        assert await _status(client, acme, data["id"]) == expected

    for wanted in ("ACTIVE", "INACTIVE", "EXPIRING", "EXPIRED", "SUSPENDED"):
        for spelled in (wanted, wanted.lower()):
            found = await _listed(client, acme, f"status={spelled}")
            assert [item["id"] for item in found] == [made[wanted]["id"]], (spelled, found)
            assert all(item["attributes"]["status"] == wanted for item in found)
    assert await _listed(client, acme, "status=BANNED") == []
    assert len(await _listed(client, acme, "")) == len(made)


async def test_status_filter_combines_with_other_filters(client: httpx.AsyncClient, acme: Tenant) -> None:
    first = await factories.policy(client, acme)
    second = await factories.policy(client, acme)
    mine = await factories.license(client, acme, first, suspended=True)
    await factories.license(client, acme, second, suspended=True)
    await factories.license(client, acme, first)
    assert await _ids(client, acme, f"status=suspended&policy={first}") == {mine["id"]}


async def test_unknown_status_is_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.get(f"{acme.base}/licenses?status=bogus", headers=bearer(acme.key))
    body = jsonapi_error(response, 400, "PARAMETERS_INVALID")
    assert body["errors"][0]["source"] == {"parameter": "status"}


# -- product, policy and owner filters -----------------------------------------------------


async def test_product_policy_and_owner_filters(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    alice = await factories.user(app, acme, email="alice@acme.test")
    bob = await factories.user(app, acme, email="bob@acme.test")
    product_a = await factories.product(client, acme)
    policy_a1 = await factories.policy(client, acme, product_a)
    policy_a2 = await factories.policy(client, acme, product_a)
    product_b = await factories.product(client, acme)
    policy_b = await factories.policy(client, acme, product_b)
    a1_alice = await factories.license(client, acme, policy_a1, owner=str(alice))
    a2_bob = await factories.license(client, acme, policy_a2, owner=str(bob))
    b_alice = await factories.license(client, acme, policy_b, owner=str(alice))
    b_nobody = await factories.license(client, acme, policy_b)

    assert await _ids(client, acme, f"product={product_a}") == {a1_alice["id"], a2_bob["id"]}
    assert await _ids(client, acme, f"product={product_b}") == {b_alice["id"], b_nobody["id"]}
    assert await _ids(client, acme, f"policy={policy_a1}") == {a1_alice["id"]}
    assert await _ids(client, acme, f"policy={policy_b}") == {b_alice["id"], b_nobody["id"]}
    for name in ("owner", "user"):
        assert await _ids(client, acme, f"{name}={alice}") == {a1_alice["id"], b_alice["id"]}
        assert await _ids(client, acme, f"{name}=alice@acme.test") == {a1_alice["id"], b_alice["id"]}
        assert await _ids(client, acme, f"{name}=bob@acme.test") == {a2_bob["id"]}
    assert await _ids(client, acme, f"product={product_b}&owner={alice}") == {b_alice["id"]}


async def test_filters_naming_nothing_match_nothing(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    await factories.license(client, acme, policy_id)  # ownerless: must not match an unknown owner
    for query in (
        "owner=nobody@acme.test",
        "user=00000000-0000-0000-0000-000000000000",
        "product=00000000-0000-0000-0000-000000000000",
        "policy=00000000-0000-0000-0000-000000000000",
        "product=not-a-uuid",
        "policy=not-a-uuid",
    ):
        response = await client.get(f"{acme.base}/licenses?{query}", headers=bearer(acme.key))
        if response.status_code == 200:
            assert response.json()["data"] == [], query
        else:
            assert response.status_code == 400, (query, response.text)


# -- paging --------------------------------------------------------------------------------


async def test_numbered_pages(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    made = [(await factories.license(client, acme, policy_id))["id"] for _ in range(15)]

    first = await client.get(f"{acme.base}/licenses?page[number]=1", headers=bearer(acme.key))
    assert first.status_code == 200, first.text
    body = first.json()
    assert len(body["data"]) == 10
    path = f"{acme.base}/licenses"
    links = body["links"]
    assert links["self"] == f"{path}?page%5Bnumber%5D=1&page%5Bsize%5D=10"
    assert links["next"] == f"{path}?page%5Bnumber%5D=2&page%5Bsize%5D=10"
    assert links["last"] == f"{path}?page%5Bnumber%5D=2&page%5Bsize%5D=10"
    assert links["first"] == f"{path}?page%5Bnumber%5D=1&page%5Bsize%5D=10"
    assert links["prev"] is None
    assert links["meta"] == {"pages": 2, "count": 15}

    second = await client.get(links["next"], headers=bearer(acme.key))
    assert second.status_code == 200
    assert len(second.json()["data"]) == 5
    assert second.json()["links"]["next"] is None
    seen = [item["id"] for item in body["data"]] + [item["id"] for item in second.json()["data"]]
    assert seen == list(reversed(made))  # newest first, each exactly once


async def test_paging_keeps_the_filters(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme)
    other = await factories.policy(client, acme)
    for _ in range(3):
        await factories.license(client, acme, policy_id)
    await factories.license(client, acme, other)
    response = await client.get(
        f"{acme.base}/licenses?policy={policy_id}&page[number]=1&page[size]=2", headers=bearer(acme.key)
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["data"]) == 2
    assert body["links"]["meta"] == {"pages": 2, "count": 3}
    assert f"policy={policy_id}" in body["links"]["next"]
    rest = await client.get(body["links"]["next"], headers=bearer(acme.key))
    assert len(rest.json()["data"]) == 1


@pytest.mark.parametrize("query", ["page[number]=0", "page[size]=101&page[number]=1", "limit=0", "order=up"])
async def test_bad_paging_is_400(client: httpx.AsyncClient, acme: Tenant, query: str) -> None:
    response = await client.get(f"{acme.base}/licenses?{query}", headers=bearer(acme.key))
    jsonapi_error(response, 400, "PARAMETERS_INVALID")
