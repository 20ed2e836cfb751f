"""Every list route takes only the query parameters it declares: anything else is a 400 in
the route's own envelope naming the parameter, never a silently unfiltered list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error, plain_error
from tests.factories import Tenant, bearer

LIST_ROUTES = (
    "/api-keys",
    "/tokens",
    "/users",
    "/products",
    "/products/{product}/tokens",
    "/policies",
    "/products/{product}/policies",
    "/keys",
    "/policies/{policy}/pool",
    "/licenses",
    "/policies/{policy}/licenses",
    "/products/{product}/licenses",
    "/machines",
    "/licenses/{license}/machines",
    "/licenses/{license}/tokens",
    "/groups",
    "/groups/{group}/licenses",
    "/groups/{group}/machines",
    "/groups/{group}/users",
    "/groups/{group}/owners",
    "/entitlements",
    "/policies/{policy}/entitlements",
    "/licenses/{license}/entitlements",
    "/processes",
    "/machines/{machine}/processes",
    "/components",
    "/licenses/{license}/users",
    "/machines/{machine}/components",
    "/webhook-endpoints",
    "/webhook-events",
    "/event-logs",
    "/api-keys/{key_id}/events",
)
ONE_RECORD = {
    "/ping",  # no record at all: liveness, served under both prefixes as Keygen does
    "/api-versions",  # the server's versions: not records of the account, and no paging
    "/me",
    "/policies/{policy}/product",
    "/keys/{key}/product",
    "/keys/{key}/policy",
    "/licenses/{license}/actions/validate",
    "/licenses/{license}/actions/check-out",
    "/machines/{machine}/actions/check-out",
    "/licenses/{license}/policy",
    "/licenses/{license}/product",
    "/licenses/{license}/owner",
    "/machines/{machine}/license",
    "/machines/{machine}/product",
    "/machines/{machine}/owner",
    "/licenses/{license}/group",
    "/machines/{machine}/group",
    "/users/{user}/group",
    "/processes/{process}/machine",
    "/processes/{process}/license",
    "/processes/{process}/product",
    "/components/{component}/machine",
    "/components/{component}/license",
    "/components/{component}/product",
}
ACCOUNT = "/v1/accounts/{account}"


def test_every_list_route_is_covered(app: FastAPI) -> None:
    """A GET route ending in a collection is a list, and must be in LIST_ROUTES."""
    collections = {
        path.removeprefix(ACCOUNT)
        for path, operations in app.openapi()["paths"].items()
        if "get" in operations and path.startswith(ACCOUNT) and not path.endswith("}")
    }
    assert collections - ONE_RECORD == set(LIST_ROUTES)


@pytest.fixture
async def records(client: httpx.AsyncClient, acme: Tenant) -> dict[str, str]:
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id)
    license_id = (await factories.license(client, acme, policy_id))["id"]
    keys = await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))
    key_id = keys.json()["data"][0]["id"]
    body = {"data": {"type": "groups", "attributes": {"name": "G"}}}
    group = await client.post(f"{acme.base}/groups", json=body, headers=bearer(acme.key))
    machine_id = (await factories.machine(client, acme, license_id))["id"]
    return {
        "product": product_id,
        "policy": policy_id,
        "license": license_id,
        "machine": machine_id,
        "key_id": key_id,
        "group": group.json()["data"]["id"],
    }


def _url(acme: Tenant, route: str, records: dict[str, str]) -> str:
    return acme.base + route.format(**records)


def _refused(response: httpx.Response, route: str, code: str, parameter: str) -> None:
    if route.startswith("/api-keys"):
        assert plain_error(response, 400, code)["error"]["field"] == parameter
    else:
        body = jsonapi_error(response, 400, code)
        assert body["errors"][0]["source"] == {"parameter": parameter}


@pytest.mark.parametrize("route", LIST_ROUTES)
async def test_an_unknown_parameter_is_400_naming_it(
    client: httpx.AsyncClient, acme: Tenant, records: dict[str, str], route: str
) -> None:
    url = _url(acme, route, records)
    assert (await client.get(url, headers=bearer(acme.key))).status_code == 200

    for name in ("bogus", "metadatas[x]", "Limit"):
        response = await client.get(url, params={name: "1"}, headers=bearer(acme.key))
        _refused(response, route, "PARAMETERS_INVALID", name)


@pytest.mark.parametrize("route", LIST_ROUTES)
async def test_a_bad_paging_value_is_400_naming_it(
    client: httpx.AsyncClient, acme: Tenant, records: dict[str, str], route: str
) -> None:
    response = await client.get(_url(acme, route, records), params={"limit": "0"}, headers=bearer(acme.key))
    _refused(
        response, route, "LIMIT_INVALID" if route.startswith("/api-keys") else "PARAMETERS_INVALID", "limit"
    )


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_every_list_documents_its_parameters(app: FastAPI, route: str) -> None:
    operation: dict[str, Any] = app.openapi()["paths"][ACCOUNT + route]["get"]
    names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert "limit" in names
    assert all(p.get("description") for p in operation["parameters"] if p["in"] == "query")


async def test_a_refused_list_changes_nothing(
    client: httpx.AsyncClient, acme: Tenant, records: dict[str, str]
) -> None:
    """A 400 answers with no records, and the list is as it was."""
    before = (await client.get(f"{acme.base}/licenses", headers=bearer(acme.key))).json()["data"]
    response = await client.get(
        f"{acme.base}/licenses", params={"suspended": "maybe"}, headers=bearer(acme.key)
    )
    assert "data" not in jsonapi_error(response, 400, "PARAMETERS_INVALID")
    after = (await client.get(f"{acme.base}/licenses", headers=bearer(acme.key))).json()["data"]
    assert after == before
    assert [item["id"] for item in after] == [records["license"]]
