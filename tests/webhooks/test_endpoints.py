"""``/webhook-endpoints`` and ``/webhook-events`` as Keygen answers them: defaults, rules
(422 with a code), the SSRF rule, who may do what, and one account's webhooks invisible to
another."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.services import services_of
from tests import factories
from tests.factories import Tenant, bearer
from tests.webhooks.helpers import deliveries


def _body(**attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "webhook-endpoints", "attributes": attributes}}


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    found: dict[str, Any] = error
    return found


async def test_an_endpoint_gets_keygens_defaults(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.post(
        f"{acme.base}/webhook-endpoints",
        json=_body(url="https://93.184.215.14/in"),
        headers=bearer(acme.key),
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["type"] == "webhook-endpoints"
    assert response.headers["location"] == data["links"]["self"]
    assert data["attributes"]["url"] == "https://93.184.215.14/in"
    assert data["attributes"]["subscriptions"] == ["*"]
    assert data["attributes"]["signatureAlgorithm"] == "ed25519"
    assert data["attributes"]["apiVersion"] == "1.7"
    assert data["relationships"]["product"]["data"] is None
    assert data["relationships"]["account"]["data"] == {"type": "accounts", "id": str(acme.id)}


@pytest.mark.parametrize(
    ("attributes", "code", "pointer"),
    [
        (
            {"subscriptions": ["license.created", "license.exploded"]},
            "SUBSCRIPTIONS_NOT_ALLOWED",
            "subscriptions",
        ),
        ({"subscriptions": []}, "SUBSCRIPTIONS_TOO_SHORT", "subscriptions"),
        ({"signatureAlgorithm": "rsa-pss-sha256"}, "SIGNATURE_ALGORITHM_NOT_ALLOWED", "signatureAlgorithm"),
        ({"apiVersion": "2.0"}, "API_VERSION_NOT_ALLOWED", "apiVersion"),
    ],
)
async def test_what_breaks_a_rule_is_a_422_with_its_code(
    client: httpx.AsyncClient, acme: Tenant, attributes: dict[str, Any], code: str, pointer: str
) -> None:
    body = _body(url="https://93.184.215.14/in", **attributes)
    response = await client.post(f"{acme.base}/webhook-endpoints", json=body, headers=bearer(acme.key))
    error = _error(response, 422)
    assert error["code"] == code
    assert error["source"] == {"pointer": f"/data/attributes/{pointer}"}


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.test/in",
        "https://127.0.0.1/in",
        "https://localhost:8443/in",
        "https://10.1.2.3/in",
        "https://192.168.0.7/in",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/in",
        "https://[fd00:ec2::254]/in",
        "https://user:pass@hooks.example.test/in",
        "https://does-not-exist.invalid/in",
    ],
)
async def test_urls_into_the_servers_own_network_are_refused(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, url: str
) -> None:
    assert services_of(app).settings.webhooks_allow_private is False
    response = await client.post(
        f"{acme.base}/webhook-endpoints", json=_body(url=url), headers=bearer(acme.key)
    )
    error = _error(response, 422)
    assert error["code"] == "URL_NOT_ALLOWED"
    assert error["source"] == {"pointer": "/data/attributes/url"}
    assert (await client.get(f"{acme.base}/webhook-endpoints", headers=bearer(acme.key))).json()["data"] == []


async def test_an_update_is_held_to_the_same_rule(client: httpx.AsyncClient, acme: Tenant) -> None:
    made = await factories.webhook_endpoint(
        client, acme, "https://93.184.215.14/in", subscriptions=["license.created"]
    )
    at = f"{acme.base}/webhook-endpoints/{made['id']}"
    refused = await client.patch(at, json=_body(url="https://127.0.0.1/in"), headers=bearer(acme.key))
    assert _error(refused, 422)["code"] == "URL_NOT_ALLOWED"

    changed = await client.patch(
        at,
        json=_body(subscriptions=["license.created", "license.created", "machine.created"]),
        headers=bearer(acme.key),
    )
    assert changed.status_code == 200, changed.text
    attributes = changed.json()["data"]["attributes"]
    assert attributes["url"] == "https://93.184.215.14/in"
    assert attributes["subscriptions"] == ["license.created", "machine.created"]


async def test_a_deleted_endpoint_is_gone_and_its_pending_deliveries_fail(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    await services_of(app).webhooks.stop()  # nothing is sent in this test
    made = await factories.webhook_endpoint(
        client, acme, "https://93.184.215.14/in", subscriptions=["product.created"]
    )
    await factories.product(client, acme)
    [pending] = await deliveries(client, acme)
    assert pending["attributes"]["status"] == "DELIVERING"

    at = f"{acme.base}/webhook-endpoints/{made['id']}"
    assert (await client.delete(at, headers=bearer(acme.key))).status_code == 204
    assert _error(await client.get(at, headers=bearer(acme.key)), 404)["code"] == "NOT_FOUND"
    [failed] = await deliveries(client, acme)
    assert failed["attributes"]["status"] == "FAILED"
    retried = await client.post(
        f"{acme.base}/webhook-events/{failed['id']}/actions/retry", headers=bearer(acme.key)
    )
    assert _error(retried, 422)["code"] == "WEBHOOK_ENDPOINT_NOT_FOUND"


async def test_another_accounts_webhooks_are_not_found(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    await services_of(app).webhooks.stop()
    made = await factories.webhook_endpoint(client, acme, "https://93.184.215.14/in")
    [delivery] = await deliveries(client, acme)  # its own creation
    other = await factories.tenant(app, "globex")
    theirs = bearer(other.key)

    hook = f"{other.base}/webhook-endpoints/{made['id']}"
    event = f"{other.base}/webhook-events/{delivery['id']}"
    assert _error(await client.get(hook, headers=theirs), 404)["code"] == "NOT_FOUND"
    assert _error(await client.patch(hook, json=_body(url="https://1.1.1.1/"), headers=theirs), 404)
    assert _error(await client.delete(hook, headers=theirs), 404)
    assert _error(await client.get(event, headers=theirs), 404)["code"] == "NOT_FOUND"
    assert _error(await client.post(f"{event}/actions/retry", headers=theirs), 404)
    assert (await client.get(f"{other.base}/webhook-endpoints", headers=theirs)).json()["data"] == []
    assert await deliveries(client, other) == []
    # Through acme's own path with globex's key: refused before anything is looked up.
    assert (await client.get(f"{acme.base}/webhook-endpoints/{made['id']}", headers=theirs)).status_code in (
        401,
        403,
        404,
    )


async def test_a_product_token_manages_its_own_products_endpoints_alone(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    await services_of(app).webhooks.stop()
    mine = await factories.product(client, acme, name="Mine")
    theirs = await factories.product(client, acme, name="Theirs")
    token = await factories.product_token(client, acme, mine)
    others = await factories.webhook_endpoint(client, acme, "https://93.184.215.14/theirs", product=theirs)
    everything = await factories.webhook_endpoint(client, acme, "https://93.184.215.14/all")

    own = await factories.webhook_endpoint(
        client, acme, "https://93.184.215.14/mine", credential=token
    )  # no relationship sent
    assert own["relationships"]["product"]["data"] == {"type": "products", "id": mine}
    listed = await client.get(f"{acme.base}/webhook-endpoints", headers=bearer(token))
    assert [each["id"] for each in listed.json()["data"]] == [own["id"]]
    for hidden in (others, everything):
        found = await client.get(f"{acme.base}/webhook-endpoints/{hidden['id']}", headers=bearer(token))
        assert found.status_code == 404, found.text
    elsewhere = {
        "data": {
            "type": "webhook-endpoints",
            "attributes": {"url": "https://93.184.215.14/x"},
            "relationships": {"product": {"data": {"type": "products", "id": theirs}}},
        }
    }
    refused = await client.post(f"{acme.base}/webhook-endpoints", json=elsewhere, headers=bearer(token))
    assert _error(refused, 403)["code"] == "ACCESS_DENIED"
    events = await deliveries(client, acme, key=token)
    assert {each["attributes"]["event"] for each in events} == {"webhook-endpoint.created"}
    assert len(events) == 1  # its own endpoint's creation, not the other endpoints'


@pytest.mark.parametrize(("role", "reads", "writes"), [("read-only", 200, 403), ("support-agent", 403, 403)])
async def test_staff_without_the_role_may_not_manage_webhooks(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str, reads: int, writes: int
) -> None:
    _, key = await factories.role_key(app, client, acme, role)
    listed = await client.get(f"{acme.base}/webhook-endpoints", headers=bearer(key))
    assert listed.status_code == reads, listed.text
    events = await client.get(f"{acme.base}/webhook-events", headers=bearer(key))
    assert events.status_code == reads, events.text
    made = await client.post(
        f"{acme.base}/webhook-endpoints", json=_body(url="https://93.184.215.14/in"), headers=bearer(key)
    )
    assert made.status_code == writes, made.text


async def test_lists_page_and_refuse_unknown_parameters(client: httpx.AsyncClient, acme: Tenant) -> None:
    for path in ("webhook-endpoints", "webhook-events"):
        refused = await client.get(f"{acme.base}/{path}", params={"colour": "red"}, headers=bearer(acme.key))
        assert _error(refused, 400)["source"] == {"parameter": "colour"}
    first = await factories.webhook_endpoint(
        client, acme, "https://93.184.215.14/1", subscriptions=["license.created"]
    )
    second = await factories.webhook_endpoint(
        client, acme, "https://93.184.215.14/2", subscriptions=["license.created"]
    )
    paged = await client.get(
        f"{acme.base}/webhook-endpoints",
        params={"page[size]": "1", "page[number]": "2"},
        headers=bearer(acme.key),
    )
    assert paged.status_code == 200, paged.text
    assert [each["id"] for each in paged.json()["data"]] == [first["id"]]
    assert paged.json()["links"]["meta"] == {"pages": 2, "count": 2}
    filtered = await client.get(
        f"{acme.base}/webhook-events", params={"events[]": "license.created"}, headers=bearer(acme.key)
    )
    assert filtered.json()["data"] == []
    assert second["id"] != first["id"]
