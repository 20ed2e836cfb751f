"""A pooled policy's pool (Keygen's features/api/v1/policies/relationships/pool.feature)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI

from keyplane.licensing.keystrings import digest
from keyplane.models import PoolKey
from keyplane.services import services_of
from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer

# -- helpers ------------------------------------------------------------------------------------


async def _key_ids(client: httpx.AsyncClient, account: Tenant) -> list[str]:
    response = await client.get(f"{account.base}/keys?limit=100", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


async def _pool_ids(client: httpx.AsyncClient, account: Tenant, policy_id: str) -> list[str]:
    response = await client.get(
        f"{account.base}/policies/{policy_id}/pool?limit=100", headers=bearer(account.key)
    )
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def _pool_error(response: httpx.Response, detail: str) -> None:
    """The pop's 422: not a model error, so titled "Unprocessable entity", on the pool."""
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    assert errors[0]["title"] == "Unprocessable entity"
    assert errors[0]["detail"] == detail
    assert errors[0]["source"] == {"pointer": "/data/relationships/pool"}


# -- reading the pool ---------------------------------------------------------------------------


async def test_pool_lists_the_policy_keys_newest_first(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    other_policy = await factories.policy(client, acme, usePool=True)
    keys = await factories.pool_keys(client, acme, policy_id, 5)
    other = await factories.pool_keys(client, acme, other_policy, 2)

    response = await client.get(f"{acme.base}/policies/{policy_id}/pool", headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [item["id"] for item in data] == [key["id"] for key in reversed(keys)]
    assert data[0] == keys[-1]  # the same document as /keys/{id}
    assert all(item["relationships"]["policy"]["data"]["id"] == policy_id for item in data)

    limited = await client.get(f"{acme.base}/policies/{policy_id}/pool?limit=2", headers=bearer(acme.key))
    assert [item["id"] for item in limited.json()["data"]] == [keys[4]["id"], keys[3]["id"]]

    one = await client.get(f"{acme.base}/policies/{policy_id}/pool/{keys[2]['id']}", headers=bearer(acme.key))
    assert one.status_code == 200, one.text
    assert one.json()["data"] == keys[2]
    # A key of another policy is not in this pool.
    stray = await client.get(
        f"{acme.base}/policies/{policy_id}/pool/{other[0]['id']}", headers=bearer(acme.key)
    )
    jsonapi_error(stray, 404, "NOT_FOUND")
    for missing in (str(uuid.uuid4()), "invalid"):
        gone = await client.get(f"{acme.base}/policies/{policy_id}/pool/{missing}", headers=bearer(acme.key))
        jsonapi_error(gone, 404, "NOT_FOUND")


async def test_pool_of_an_unknown_policy_is_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    missing = uuid.uuid4()
    for response in (
        await client.get(f"{acme.base}/policies/{missing}/pool", headers=bearer(acme.key)),
        await client.get(f"{acme.base}/policies/{missing}/pool/{uuid.uuid4()}", headers=bearer(acme.key)),
        await client.delete(f"{acme.base}/policies/{missing}/pool", headers=bearer(acme.key)),
    ):
        jsonapi_error(response, 404, "NOT_FOUND")


async def _attach_to_unpooled(app: FastAPI, account: Tenant, product_id: str, policy_id: str) -> str:
    """A key row under an unpooled policy (the API never makes one; old data might have it)."""
    async with services_of(app).db.writer() as session:
        row = PoolKey(
            account_id=account.id,
            product_id=uuid.UUID(product_id),
            policy_id=uuid.UUID(policy_id),
            key="STRAY-UNPOOLED-KEY",
            key_digest=digest("STRAY-UNPOOLED-KEY"),
        )
        session.add(row)
        await session.commit()
        return str(row.id)


async def test_unpooled_policy_has_an_empty_pool(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme)
    pooled = await factories.policy(client, acme, product_id, usePool=True)
    pooled_key = (await factories.pool_keys(client, acme, pooled, 1))[0]
    unpooled = await factories.policy(client, acme, product_id)
    stray = await _attach_to_unpooled(app, acme, product_id, unpooled)

    response = await client.get(f"{acme.base}/policies/{unpooled}/pool", headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []
    for key_id in (stray, pooled_key["id"]):
        one = await client.get(f"{acme.base}/policies/{unpooled}/pool/{key_id}", headers=bearer(acme.key))
        jsonapi_error(one, 404, "NOT_FOUND")

    # Popping it is refused even though a key is attached, and nothing is taken.
    popped = await client.delete(f"{acme.base}/policies/{unpooled}/pool", headers=bearer(acme.key))
    _pool_error(popped, "pool is not supported")
    assert set(await _key_ids(client, acme)) == {stray, pooled_key["id"]}


# -- popping ------------------------------------------------------------------------------------


async def test_pop_returns_the_newest_key_and_removes_it(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    other_policy = await factories.policy(client, acme, usePool=True)
    keys = await factories.pool_keys(client, acme, policy_id, 3)
    other = await factories.pool_keys(client, acme, other_policy, 1)
    url = f"{acme.base}/policies/{policy_id}/pool"

    expected = list(reversed(keys))
    for n, key in enumerate(expected):
        response = await client.delete(url, headers=bearer(acme.key))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/vnd.api+json")
        assert response.json()["data"] == key
        remaining = [k["id"] for k in expected[n + 1 :]]
        assert await _pool_ids(client, acme, policy_id) == remaining
        assert await _key_ids(client, acme) == [other[0]["id"], *remaining]  # other is newest
        gone = await client.get(f"{acme.base}/keys/{key['id']}", headers=bearer(acme.key))
        jsonapi_error(gone, 404, "NOT_FOUND")

    empty = await client.delete(url, headers=bearer(acme.key))
    _pool_error(empty, "pool is empty")
    # The other policy's pool was never touched.
    assert await _pool_ids(client, acme, other_policy) == [other[0]["id"]]


async def test_popped_value_can_be_added_again(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    key = (await factories.pool_keys(client, acme, policy_id, 1))[0]
    popped = await client.delete(f"{acme.base}/policies/{policy_id}/pool", headers=bearer(acme.key))
    assert popped.status_code == 200
    again = await factories.pool_key(client, acme, policy_id, key["attributes"]["key"])
    assert again["id"] != key["id"]
    assert await _pool_ids(client, acme, policy_id) == [again["id"]]


async def test_concurrent_pops_never_hand_out_the_same_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    keys = await factories.pool_keys(client, acme, policy_id, 5)
    url = f"{acme.base}/policies/{policy_id}/pool"
    responses = await asyncio.gather(*(client.delete(url, headers=bearer(acme.key)) for _ in range(8)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 5 + [422] * 3, [r.text for r in responses]
    popped = [r.json()["data"]["id"] for r in responses if r.status_code == 200]
    assert sorted(popped) == sorted(key["id"] for key in keys)
    assert await _key_ids(client, acme) == []


# -- who may read and pop -----------------------------------------------------------------------


async def test_product_token_reads_and_pops_only_its_own_pools(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme, name="Mine")
    own_policy = await factories.policy(client, acme, product_id, usePool=True)
    other_policy = await factories.policy(client, acme, usePool=True)
    own = await factories.pool_keys(client, acme, own_policy, 2)
    other = await factories.pool_keys(client, acme, other_policy, 2)
    token = await factories.product_token(client, acme, product_id)

    listed = await client.get(f"{acme.base}/policies/{own_policy}/pool", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["data"]] == [own[1]["id"], own[0]["id"]]
    one = await client.get(f"{acme.base}/policies/{own_policy}/pool/{own[0]['id']}", headers=bearer(token))
    assert one.status_code == 200, one.text

    for response in (
        await client.get(f"{acme.base}/policies/{other_policy}/pool", headers=bearer(token)),
        await client.get(f"{acme.base}/policies/{other_policy}/pool/{other[0]['id']}", headers=bearer(token)),
        await client.delete(f"{acme.base}/policies/{other_policy}/pool", headers=bearer(token)),
    ):
        jsonapi_error(response, 404, "NOT_FOUND")

    popped = await client.delete(f"{acme.base}/policies/{own_policy}/pool", headers=bearer(token))
    assert popped.status_code == 200, popped.text
    assert popped.json()["data"]["id"] == own[1]["id"]
    assert await _pool_ids(client, acme, own_policy) == [own[0]["id"]]
    assert await _pool_ids(client, acme, other_policy) == [other[1]["id"], other[0]["id"]]


@pytest.mark.parametrize("role", ["read-only", "support-agent", "sales-agent"])
async def test_staff_without_write_read_the_pool_but_cannot_pop(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    keys = await factories.pool_keys(client, acme, policy_id, 2)
    _, staff = await factories.role_key(app, client, acme, role)

    listed = await client.get(f"{acme.base}/policies/{policy_id}/pool", headers=bearer(staff))
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["data"]) == 2
    one = await client.get(f"{acme.base}/policies/{policy_id}/pool/{keys[0]['id']}", headers=bearer(staff))
    assert one.status_code == 200, one.text

    popped = await client.delete(f"{acme.base}/policies/{policy_id}/pool", headers=bearer(staff))
    assert popped.status_code == 403, popped.text
    assert popped.json()["errors"][0]["title"] == "Access denied"
    assert await _pool_ids(client, acme, policy_id) == [keys[1]["id"], keys[0]["id"]]


async def test_developer_pops_the_pool(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    keys = await factories.pool_keys(client, acme, policy_id, 1)
    _, developer = await factories.role_key(app, client, acme, "developer")
    popped = await client.delete(f"{acme.base}/policies/{policy_id}/pool", headers=bearer(developer))
    assert popped.status_code == 200, popped.text
    assert popped.json()["data"]["id"] == keys[0]["id"]
    assert await _pool_ids(client, acme, policy_id) == []


async def test_user_with_a_license_of_the_policy_is_forbidden(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    keys = await factories.pool_keys(client, acme, policy_id, 2)
    user_id, user_key = await factories.role_key(app, client, acme, "user")
    # A license of theirs with a key of its own: the pool is left alone.
    await factories.license(client, acme, policy_id, owner=user_id, key=f"OWNED-LICENSE-{user_id}")
    # The user sees the policy through their license...
    policy = await client.get(f"{acme.base}/policies/{policy_id}", headers=bearer(user_key))
    assert policy.status_code == 200, policy.text

    # ... but not its pool.
    for response in (
        await client.get(f"{acme.base}/policies/{policy_id}/pool", headers=bearer(user_key)),
        await client.get(f"{acme.base}/policies/{policy_id}/pool/{keys[0]['id']}", headers=bearer(user_key)),
        await client.delete(f"{acme.base}/policies/{policy_id}/pool", headers=bearer(user_key)),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["errors"][0]["title"] == "Access denied"
    assert await _pool_ids(client, acme, policy_id) == [keys[1]["id"], keys[0]["id"]]


async def test_user_without_a_license_of_the_policy_gets_404(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    other_policy = await factories.policy(client, acme, usePool=True)
    keys = await factories.pool_keys(client, acme, policy_id, 2)
    user_id, user_key = await factories.role_key(app, client, acme, "user")
    # A license of theirs, but of another policy (with a key of its own: the pool is left alone).
    await factories.license(client, acme, other_policy, owner=user_id, key=f"OWNED-LICENSE-{user_id}")

    for response in (
        await client.get(f"{acme.base}/policies/{policy_id}/pool", headers=bearer(user_key)),
        await client.get(f"{acme.base}/policies/{policy_id}/pool/{keys[0]['id']}", headers=bearer(user_key)),
        await client.delete(f"{acme.base}/policies/{policy_id}/pool", headers=bearer(user_key)),
    ):
        jsonapi_error(response, 404, "NOT_FOUND")
    assert await _pool_ids(client, acme, policy_id) == [keys[1]["id"], keys[0]["id"]]


async def test_missing_and_foreign_credentials_are_401(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    keys = await factories.pool_keys(client, acme, policy_id, 1)
    globex = await factories.tenant(app, "globex")
    base = f"{acme.base}/policies/{policy_id}/pool"
    for method, path in (("GET", base), ("GET", f"{base}/{keys[0]['id']}"), ("DELETE", base)):
        jsonapi_error(await client.request(method, path), 401, "TOKEN_MISSING")
        foreign = await client.request(method, path, headers=bearer(globex.key))
        assert len(jsonapi_error(foreign, 401, "TOKEN_INVALID")["errors"]) == 1
    assert await _pool_ids(client, acme, policy_id) == [keys[0]["id"]]


async def test_pools_are_isolated_between_accounts(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    keys = await factories.pool_keys(client, acme, policy_id, 1)
    globex = await factories.tenant(app, "globex")
    globex_policy = await factories.policy(client, globex, usePool=True)
    globex_keys = await factories.pool_keys(client, globex, globex_policy, 1)

    base = f"{globex.base}/policies/{policy_id}/pool"
    for response in (
        await client.get(base, headers=bearer(globex.key)),
        await client.get(f"{base}/{keys[0]['id']}", headers=bearer(globex.key)),
        await client.delete(base, headers=bearer(globex.key)),
        # Its own policy's pool does not reach into acme's keys either.
        await client.get(
            f"{globex.base}/policies/{globex_policy}/pool/{keys[0]['id']}", headers=bearer(globex.key)
        ),
    ):
        jsonapi_error(response, 404, "NOT_FOUND")
    assert await _pool_ids(client, acme, policy_id) == [keys[0]["id"]]

    popped = await client.delete(f"{globex.base}/policies/{globex_policy}/pool", headers=bearer(globex.key))
    assert popped.json()["data"]["id"] == globex_keys[0]["id"]
    assert await _pool_ids(client, acme, policy_id) == [keys[0]["id"]]
