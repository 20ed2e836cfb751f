"""Keygen's paging on /users and /tokens, as on the licensing lists."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer


async def test_users_page_by_number_with_links_and_counts(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    for _ in range(11):
        await factories.user(app, acme)  # plus the admin: 12 users

    first = await client.get(f"{acme.base}/users?page[number]=1&page[size]=5", headers=bearer(acme.key))
    last = await client.get(f"{acme.base}/users?page[number]=3&page[size]=5", headers=bearer(acme.key))

    assert first.status_code == last.status_code == 200
    assert len(first.json()["data"]) == 5
    assert len(last.json()["data"]) == 2
    links = first.json()["links"]
    assert links["meta"] == {"pages": 3, "count": 12}
    assert links["prev"] is None
    assert links["next"] == f"{acme.base}/users?page%5Bnumber%5D=2&page%5Bsize%5D=5"
    assert last.json()["links"]["next"] is None
    seen = {u["id"] for u in first.json()["data"]} | {u["id"] for u in last.json()["data"]}
    assert len(seen) == 7


async def test_users_limit_out_of_range_is_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    refused = await client.get(f"{acme.base}/users?limit=101", headers=bearer(acme.key))
    body = jsonapi_error(refused, 400, "PARAMETERS_INVALID")
    assert body["errors"][0]["source"] == {"parameter": "limit"}


async def test_tokens_walk_by_cursor_without_repeats(client: httpx.AsyncClient, acme: Tenant) -> None:
    basic = httpx.BasicAuth(acme.admin_email, factories.PASSWORD)
    made = []
    for _ in range(5):
        response = await client.post(f"{acme.base}/tokens", auth=basic)
        assert response.status_code == 201
        made.append(response.json()["data"]["id"])

    seen: list[str] = []
    url: str | None = f"{acme.base}/tokens?page[cursor]=&page[size]=2"
    while url is not None:
        page = await client.get(url, headers=bearer(acme.key))
        assert page.status_code == 200, page.text
        seen += [token["id"] for token in page.json()["data"]]
        assert all("token" not in token["attributes"] for token in page.json()["data"])
        url = page.json()["links"]["next"]

    assert seen == list(reversed(made))
