"""``GET /event-logs``: Keygen's shape, admins only, newest first, its filters, its refusals,
and nothing of another account or of a change that rolled back."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests import factories
from tests.factories import Tenant, api_key, bearer, tenant, user


async def _events(
    client: httpx.AsyncClient, acme: Tenant, key: str | None = None, **params: str
) -> httpx.Response:
    return await client.get(f"{acme.base}/event-logs", params=params, headers=bearer(key or acme.key))


async def test_the_log_in_keygens_shape_newest_first(client: httpx.AsyncClient, acme: Tenant) -> None:
    first = await factories.product(client, acme, name="One")
    second = await factories.product(client, acme, name="Two")

    response = await _events(client, acme, event="product.created")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.api+json")
    data = response.json()["data"]
    assert [entry["relationships"]["resource"]["data"] for entry in data] == [
        {"type": "products", "id": second},
        {"type": "products", "id": first},
    ]
    entry = data[0]
    assert entry["type"] == "event-logs"
    assert entry["attributes"]["event"] == "product.created"
    assert entry["attributes"]["metadata"] == {}
    assert entry["links"]["self"] == f"/v1/accounts/{acme.id}/event-logs/{entry['id']}"
    one = await client.get(f"{acme.base}/event-logs/{entry['id']}", headers=bearer(acme.key))
    assert one.status_code == 200
    assert one.json()["data"] == entry


async def test_an_update_records_what_changed(client: httpx.AsyncClient, acme: Tenant) -> None:
    product = await factories.product(client, acme, name="Before")
    body = {"data": {"type": "products", "attributes": {"name": "After", "metadata": {"tier": "gold"}}}}
    assert (
        await client.patch(f"{acme.base}/products/{product}", json=body, headers=bearer(acme.key))
    ).is_success

    [entry] = (await _events(client, acme, event="product.updated")).json()["data"]

    assert entry["attributes"]["metadata"] == {
        "diff": {"name": ["Before", "After"], "metadata": [{}, {"tier": "gold"}]}
    }


async def test_a_change_that_rolled_back_left_no_event(client: httpx.AsyncClient, acme: Tenant) -> None:
    await factories.product(client, acme, name="A", code="taken")
    other = await factories.product(client, acme, name="B", code="free")
    body = {"data": {"type": "products", "attributes": {"code": "taken"}}}

    refused = await client.patch(f"{acme.base}/products/{other}", json=body, headers=bearer(acme.key))

    assert refused.status_code == 422
    assert (await _events(client, acme, event="product.updated")).json()["data"] == []


async def test_filters_narrow_the_log(client: httpx.AsyncClient, acme: Tenant) -> None:
    product = await factories.product(client, acme, name="Filtered")
    created = await api_key(client, acme, name="other")
    await factories.product(client, acme, credential=str(created["key"]), name="By another")

    by_resource = await _events(client, acme, **{"resource[type]": "product", "resource[id]": product})
    assert [e["attributes"]["event"] for e in by_resource.json()["data"]] == ["product.created"]
    by_key = await _events(
        client, acme, **{"whodunnit[type]": "api-key", "whodunnit[id]": str(created["id"])}
    )
    assert [e["attributes"]["event"] for e in by_key.json()["data"]] == ["product.created"]
    plural = await _events(
        client, acme, **{"whodunnit[type]": "api-keys", "whodunnit[id]": str(created["id"])}
    )
    assert plural.json()["data"] == by_key.json()["data"]
    by_system = await _events(client, acme, **{"whodunnit[type]": "system"})
    assert {e["attributes"]["event"] for e in by_system.json()["data"]} == {
        "account.created",
        "user.created",
        "api-key.created",
    }
    assert all(e["relationships"]["whodunnit"] == {"data": None} for e in by_system.json()["data"])
    several = await _events(client, acme, limit="100", **{"events[]": "api-key.created"})
    assert len(several.json()["data"]) == 2
    today = await _events(client, acme, **{"date[start]": "2000-01-01", "date[end]": "2000-01-31"})
    assert today.json()["data"] == []


async def test_bad_filters_are_400s_naming_the_parameter(client: httpx.AsyncClient, acme: Tenant) -> None:
    for params, parameter in (
        ({"date[start]": "2017-01-01", "date[end]": "2017-02-02"}, "date"),
        ({"date[start]": "foo", "date[end]": "bar"}, "date[start]"),
        ({"date[start]": "2017-01-01"}, "date"),
        ({"resource[id]": "00000000-0000-0000-0000-000000000000"}, "resource"),
        ({"resource[type]": "spaceship"}, "resource[type]"),
        ({"whodunnit[type]": "user", "whodunnit[id]": "nope"}, "whodunnit[id]"),
        ({"colour": "blue"}, "colour"),
    ):
        response = await _events(client, acme, **params)
        assert response.status_code == 400, (params, response.text)
        [error] = response.json()["errors"]
        assert error["code"] == "PARAMETERS_INVALID"
        assert error["source"] == {"parameter": parameter}, params


async def test_only_admins_read_the_log(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    developer = await user(app, acme, role="developer")
    key = await api_key(client, acme, name="dev", userId=str(developer), scopes=["READ", "CREATE"])

    refused = await _events(client, acme, key=str(key["key"]))

    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "ACCESS_DENIED"


async def test_another_accounts_log_is_invisible(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    other = await tenant(app, "globex")
    theirs = (await _events(client, other)).json()["data"][0]["id"]

    assert (await client.get(f"{acme.base}/event-logs/{theirs}", headers=bearer(acme.key))).status_code == 404
    assert (
        await client.get(f"{acme.base}/event-logs/not-an-id", headers=bearer(acme.key))
    ).status_code == 404
    mine = (await _events(client, acme, limit="100")).json()["data"]
    assert theirs not in {entry["id"] for entry in mine}
