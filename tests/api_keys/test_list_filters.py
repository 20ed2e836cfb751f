"""GET /api-keys: ``name``, ``userId`` and ``status`` narrow the list; ``sort`` orders it by
``createdAt`` or ``lastUsedAt`` either way, and paging keeps to that order: every key once,
forwards and backwards, ties broken by id."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update as sql_update

from keyplane.kit import clock
from keyplane.models import Credential
from keyplane.services import services_of
from tests import factories
from tests.api_keys.helpers import Json, assert_error, keys_url, listing, relative, update
from tests.factories import Tenant, bearer


def _ids(page: Json) -> list[str]:
    return [item["id"] for item in page["data"]]


async def _follow(client: httpx.AsyncClient, acme: Tenant, url: str) -> Json:
    response = await client.get(relative(url), headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    page: Json = response.json()
    return page


async def test_name_is_a_case_insensitive_substring(client: httpx.AsyncClient, acme: Tenant) -> None:
    made = {
        name: (await factories.api_key(client, acme, name=name))["id"]
        for name in ("CI deploy", "ci-runner", "Backend")
    }
    await factories.api_key(client, acme, name="100% off_sale")

    def named(page: Json) -> set[str]:
        return {item["name"] for item in page["data"]}

    assert named(await listing(client, acme, name="ci")) == {"CI deploy", "ci-runner"}
    assert named(await listing(client, acme, name="CI")) == {"CI deploy", "ci-runner"}
    assert named(await listing(client, acme, name="END")) == {"Backend"}
    # Wildcards of LIKE are plain characters here.
    assert named(await listing(client, acme, name="%")) == {"100% off_sale"}
    assert named(await listing(client, acme, name="f_s")) == {"100% off_sale"}
    assert named(await listing(client, acme, name="nothing like it")) == set()
    page = await listing(client, acme, name="ci", limit=1)
    assert (page["total"], page["count"]) == (2, 1)
    await update(client, acme, made["ci-runner"], status="inactive")
    assert named(await listing(client, acme, name="ci", status="inactive")) == {"ci-runner"}
    assert named(await listing(client, acme, name="ci")) == {"CI deploy"}


async def test_user_id_narrows_to_one_users_keys(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    user_id, theirs = await factories.owned_key(app, client, acme, "developer", name="theirs")
    mine = await factories.api_key(client, acme, name="mine")

    assert _ids(await listing(client, acme, userId=str(user_id))) == [theirs["id"]]
    assert mine["id"] in _ids(await listing(client, acme, userId=str(acme.admin_id)))
    assert theirs["id"] not in _ids(await listing(client, acme, userId=str(acme.admin_id)))
    assert _ids(await listing(client, acme, userId=str(uuid.uuid4()))) == []


async def test_user_id_never_widens_a_callers_view(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Without MANAGE a caller sees only its own keys, whatever userId it names."""
    _, own = await factories.owned_key(app, client, acme, "developer", scopes=["READ"])
    response = await client.get(
        keys_url(acme), params={"userId": str(acme.admin_id)}, headers=bearer(str(own["key"]))
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []


async def _used(app: FastAPI, key_id: str, when: datetime | None) -> None:
    async with services_of(app).db.writer() as session:
        await session.execute(
            sql_update(Credential).where(Credential.id == uuid.UUID(key_id)).values(last_used_at=when)
        )
        await session.commit()


@pytest.fixture
async def used_keys(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> list[str]:
    """Seven keys (plus the admin's, never used here) with uses that tie and keys never used;
    their ids in creation order."""
    made = [(await factories.api_key(client, acme, name=f"lst-{n}"))["id"] for n in range(7)]
    admin_key = (await listing(client, acme, limit=100))["data"][-1]["id"]
    await _used(app, admin_key, None)
    now = clock.now()
    for key_id, minutes in zip(made, (30, 10, 10, 50, None, 10, None), strict=True):
        await _used(app, key_id, None if minutes is None else now - timedelta(minutes=minutes))
    return [admin_key, *made]


async def _walk(client: httpx.AsyncClient, acme: Tenant, **params: str) -> list[str]:
    page = await listing(client, acme, limit=3, **params)
    seen = _ids(page)
    while page["nextUrl"] is not None:
        assert len(seen) < 30, "paging does not end"
        page = await _follow(client, acme, page["nextUrl"])
        seen += _ids(page)
    # And back again from the last page.
    back = _ids(page)
    while page["previousUrl"] is not None:
        assert len(back) < 30, "paging does not end"
        page = await _follow(client, acme, page["previousUrl"])
        back = _ids(page) + back
    assert back == seen
    return seen


async def test_sort_by_last_use_either_way_pages_every_key_once(
    client: httpx.AsyncClient, acme: Tenant, used_keys: list[str]
) -> None:
    admin, k0, k1, k2, k3, k4, k5, k6 = used_keys
    # Latest use first; ties (k1, k2, k5 at 10 minutes) newest id first; never used last.
    newest_use_first = [k5, k2, k1, k0, k3, k6, k4, admin]
    assert await _walk(client, acme, sort="-lastUsedAt") == newest_use_first
    assert await _walk(client, acme, sort="lastUsedAt") == list(reversed(newest_use_first))
    page = await listing(client, acme, sort="-lastUsedAt")
    uses = [item["lastUsedAt"] for item in page["data"] if item["lastUsedAt"] is not None]
    assert uses == sorted(uses, reverse=True)


async def test_sort_by_creation_either_way(
    client: httpx.AsyncClient, acme: Tenant, used_keys: list[str]
) -> None:
    assert await _walk(client, acme, sort="createdAt") == used_keys
    assert await _walk(client, acme, sort="-createdAt") == list(reversed(used_keys))
    assert _ids(await listing(client, acme, limit=100)) == list(reversed(used_keys))  # the default


async def test_sort_combines_with_filters_and_offset(
    client: httpx.AsyncClient, acme: Tenant, used_keys: list[str]
) -> None:
    _, k0, k1, k2, _, _, k5, _ = used_keys
    page = await listing(client, acme, sort="-lastUsedAt", offset=1, limit=2)
    assert _ids(page) == [k2, k1]
    assert page["previousUrl"] is not None
    assert _ids(await _follow(client, acme, page["previousUrl"])) == [k5]
    never_used = [used_keys[5], used_keys[7]]  # k4 and k6, ties by id
    assert _ids(await listing(client, acme, sort="lastUsedAt", name="LST-", limit=2)) == never_used
    assert _ids(await listing(client, acme, sort="createdAt", name="lst-0")) == [k0]


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"sort": "name"}, "SORT_INVALID", "sort"),
        ({"sort": "-"}, "SORT_INVALID", "sort"),
        ({"sort": "created_at"}, "SORT_INVALID", "sort"),
        ({"userId": "me"}, "USER_ID_INVALID", "userId"),
        ({"name": ""}, "NAME_INVALID", "name"),
        ({"status": "revoked"}, "STATUS_INVALID", "status"),
        ({"filter": "x"}, "PARAMETERS_INVALID", "filter"),
        ({"user_id": str(uuid.uuid4())}, "PARAMETERS_INVALID", "user_id"),
        ({"page[size]": "2"}, "PARAMETERS_INVALID", "page[size]"),
    ],
)
async def test_bad_values_and_unknown_parameters_are_400(
    client: httpx.AsyncClient, acme: Tenant, params: dict[str, str], code: str, field: str
) -> None:
    response = await client.get(keys_url(acme), params=params, headers=bearer(acme.key))
    assert_error(response, 400, code, field)
