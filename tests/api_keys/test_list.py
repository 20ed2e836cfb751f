"""GET /api-keys: filtering, order, limits, and cursor paging that walks every key once."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.api_keys.helpers import Json, assert_error, ids, key_url, keys_url, listing, relative, update
from tests.factories import Tenant, bearer


async def _make(client: httpx.AsyncClient, acme: Tenant, count: int) -> list[str]:
    """``count`` new keys; their ids, newest first (the listing order), then the admin key."""
    made = [(await factories.api_key(client, acme, name=f"key-{n}"))["id"] for n in range(count)]
    admin_key_id = (await listing(client, acme, limit=100))["data"][-1]["id"]
    return [*reversed(made), admin_key_id]


async def test_default_lists_active_keys_newest_first(client: httpx.AsyncClient, acme: Tenant) -> None:
    expected = await _make(client, acme, 4)
    deactivated, deleted = expected[1], expected[2]
    await update(client, acme, deactivated, status="inactive")
    response = await client.delete(key_url(acme, deleted), headers=bearer(acme.key))
    assert response.status_code == 204

    page = await listing(client, acme)

    assert page["status"] == 200
    assert [item["id"] for item in page["data"]] == [expected[0], expected[3], expected[4]]
    assert page["total"] == 3
    assert page["count"] == 3
    assert page["nextUrl"] is None
    assert page["previousUrl"] is None
    assert all(item["status"] == "active" for item in page["data"])
    created = [item["createdAt"] for item in page["data"]]
    assert created == sorted(created, reverse=True)


async def test_status_inactive_lists_deactivated_and_deleted_keys(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    expected = await _make(client, acme, 3)
    await update(client, acme, expected[0], status="inactive")
    response = await client.delete(key_url(acme, expected[2]), headers=bearer(acme.key))
    assert response.status_code == 204

    page = await listing(client, acme, status="inactive")

    assert [item["id"] for item in page["data"]] == [expected[0], expected[2]]
    assert (page["total"], page["count"]) == (2, 2)
    assert [item["status"] for item in page["data"]] == ["inactive", "inactive"]
    assert page["data"][0]["deletedAt"] is None
    assert page["data"][1]["deletedAt"] is not None
    assert (await listing(client, acme, status="active"))["total"] == 2


async def test_limit_defaults_to_25(client: httpx.AsyncClient, acme: Tenant) -> None:
    expected = await _make(client, acme, 26)

    page = await listing(client, acme)

    assert (page["total"], page["count"]) == (27, 25)
    assert [item["id"] for item in page["data"]] == expected[:25]
    assert page["nextUrl"] is not None


@pytest.mark.parametrize("limit", [1, 100])
async def test_limit_bounds_are_accepted(client: httpx.AsyncClient, acme: Tenant, limit: int) -> None:
    expected = await _make(client, acme, 2)

    page = await listing(client, acme, limit=limit)

    assert [item["id"] for item in page["data"]] == expected[:limit]
    assert page["total"] == 3


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"limit": "0"}, "LIMIT_INVALID", "limit"),
        ({"limit": "101"}, "LIMIT_INVALID", "limit"),
        ({"limit": "abc"}, "LIMIT_INVALID", "limit"),
        ({"offset": "-1"}, "OFFSET_INVALID", "offset"),
        ({"status": "bogus"}, "STATUS_INVALID", "status"),
        ({"startingAfter": "nope"}, "STARTING_AFTER_INVALID", "startingAfter"),
        ({"endingBefore": "nope"}, "ENDING_BEFORE_INVALID", "endingBefore"),
        ({"startingAfter": str(uuid.uuid4())}, "STARTING_AFTER_INVALID", "startingAfter"),
        ({"endingBefore": str(uuid.uuid4())}, "ENDING_BEFORE_INVALID", "endingBefore"),
    ],
    ids=[
        "limit-0",
        "limit-101",
        "limit-abc",
        "offset-negative",
        "status-bogus",
        "after-not-uuid",
        "before-not-uuid",
        "after-unknown",
        "before-unknown",
    ],
)
async def test_bad_parameters_are_400(
    client: httpx.AsyncClient, acme: Tenant, params: dict[str, str], code: str, field: str
) -> None:
    response = await client.get(keys_url(acme), params=params, headers=bearer(acme.key))

    assert_error(response, 400, code, field)


async def test_both_cursors_at_once_are_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    expected = await _make(client, acme, 2)

    response = await client.get(
        keys_url(acme),
        params={"startingAfter": expected[0], "endingBefore": expected[2]},
        headers=bearer(acme.key),
    )

    assert_error(response, 400, "PARAMETERS_INVALID", "endingBefore")


async def test_a_cursor_survives_its_key_leaving_the_list(client: httpx.AsyncClient, acme: Tenant) -> None:
    expected = await _make(client, acme, 3)
    first = await listing(client, acme, limit=1)
    assert [item["id"] for item in first["data"]] == expected[:1]
    # The last key of the page is deactivated before the client follows nextUrl.
    await update(client, acme, expected[0], status="inactive")

    response = await client.get(relative(first["nextUrl"]), headers=bearer(acme.key))

    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["data"]] == [expected[1]]


async def test_offset_skips_the_newest(client: httpx.AsyncClient, acme: Tenant) -> None:
    expected = await _make(client, acme, 4)

    page = await listing(client, acme, offset=2, limit=2)

    assert [item["id"] for item in page["data"]] == expected[2:4]
    assert page["total"] == 5
    assert page["previousUrl"] is not None
    assert page["nextUrl"] is not None


async def test_offset_past_the_end_is_an_empty_page(client: httpx.AsyncClient, acme: Tenant) -> None:
    await _make(client, acme, 1)

    page = await listing(client, acme, offset=10)

    assert page["data"] == []
    assert (page["total"], page["count"]) == (2, 0)
    assert (page["nextUrl"], page["previousUrl"]) == (None, None)


@pytest.mark.parametrize("offset", [2**62 + 1, 2**63, 10**30])
async def test_an_offset_beyond_any_table_is_an_empty_page(
    client: httpx.AsyncClient, acme: Tenant, offset: int
) -> None:
    """Larger than either database's OFFSET takes (found by schemathesis as a 500)."""
    await _make(client, acme, 1)

    page = await listing(client, acme, offset=offset, status="inactive")

    assert page["data"] == []
    assert (page["total"], page["count"]) == (0, 0)
    page = await listing(client, acme, offset=offset)
    assert page["data"] == []
    assert (page["total"], page["count"]) == (2, 0)
    assert (page["nextUrl"], page["previousUrl"]) == (None, None)


async def _follow(client: httpx.AsyncClient, acme: Tenant, url: str) -> Json:
    response = await client.get(relative(url), headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    page: Json = response.json()
    return page


async def test_next_urls_walk_every_key_once(client: httpx.AsyncClient, acme: Tenant) -> None:
    expected = await _make(client, acme, 7)  # 8 keys: pages of 3, 3, 2

    page = await listing(client, acme, limit=3)
    assert page["previousUrl"] is None
    pages = [page]
    while page["nextUrl"] is not None:
        assert len(pages) < 10, "paging does not end"
        page = await _follow(client, acme, page["nextUrl"])
        pages.append(page)

    assert [page["count"] for page in pages] == [3, 3, 2]
    assert [item["id"] for page in pages for item in page["data"]] == expected
    assert all(page["total"] == 8 for page in pages)
    assert all(page["previousUrl"] is not None for page in pages[1:])


async def test_previous_urls_walk_back_every_key_once(client: httpx.AsyncClient, acme: Tenant) -> None:
    expected = await _make(client, acme, 7)
    last = await listing(client, acme, limit=3, offset=6)
    assert [item["id"] for item in last["data"]] == expected[6:]

    page = last
    pages = [page]
    while page["previousUrl"] is not None:
        assert len(pages) < 10, "paging does not end"
        page = await _follow(client, acme, page["previousUrl"])
        pages.append(page)

    assert [item["id"] for page in reversed(pages) for item in page["data"]] == expected
    assert len(pages) == 3
    # Back on the first page there is nothing newer, and forward paging still works.
    assert pages[-1]["nextUrl"] is not None
    assert [item["id"] for item in (await _follow(client, acme, pages[-1]["nextUrl"]))["data"]] == (
        expected[3:6]
    )


async def test_paging_urls_keep_status_and_limit(client: httpx.AsyncClient, acme: Tenant) -> None:
    expected = await _make(client, acme, 3)
    for key_id in expected[:3]:
        await update(client, acme, key_id, status="inactive")

    first = await listing(client, acme, status="inactive", limit=2)
    second = await _follow(client, acme, first["nextUrl"])

    assert [item["id"] for item in first["data"]] == expected[:2]
    assert [item["id"] for item in second["data"]] == expected[2:3]
    assert second["nextUrl"] is None
    assert "status=inactive" in first["nextUrl"]
    assert "limit=2" in first["nextUrl"]
    back = await _follow(client, acme, second["previousUrl"])
    assert [item["id"] for item in back["data"]] == expected[:2]


async def test_manage_sees_every_users_keys(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    _, developer_key = await factories.owned_key(app, client, acme, "developer")
    _, other_key = await factories.owned_key(app, client, acme, "user")

    listed = await ids(client, acme)

    assert set(listed) >= {developer_key["id"], other_key["id"]}
    assert len(listed) == 3


async def test_without_manage_a_caller_sees_only_its_owners_keys(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    developer, developer_key = await factories.owned_key(app, client, acme, "developer")
    second = await factories.api_key(client, acme, userId=str(developer), name="second")
    await factories.owned_key(app, client, acme, "developer")

    page = await listing(client, acme, key=developer_key["key"])

    assert [item["id"] for item in page["data"]] == [second["id"], developer_key["id"]]
    assert page["total"] == 2
    assert {item["userId"] for item in page["data"]} == {str(developer)}


async def test_without_manage_a_cursor_from_another_user_is_400(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, developer_key = await factories.owned_key(app, client, acme, "developer")
    admin_key_id = (await listing(client, acme))["data"][-1]["id"]

    response = await client.get(
        keys_url(acme), params={"startingAfter": admin_key_id}, headers=bearer(developer_key["key"])
    )

    assert_error(response, 400, "STARTING_AFTER_INVALID", "startingAfter")
