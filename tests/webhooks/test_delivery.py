"""Deliveries reach a real receiver on loopback: signed with the account's key, retried until
the receiver takes them, sent only to the endpoints subscribed to the event."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bench.receiver import signature_problem
from keyplane.config import Settings
from keyplane.services import services_of
from keyplane.webhooks.delivery import Deliverer
from tests import factories
from tests.factories import Tenant, bearer
from tests.webhooks.helpers import deliveries, public_key, verify
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Receivers on loopback, deliveries looked for often, retries within a fraction of a second."""
    return settings.model_copy(
        update={"webhooks_allow_private": True, "webhooks_poll_seconds": 0.05, "webhooks_retry_seconds": 0.2}
    )


async def _settled(client: httpx.AsyncClient, account: Tenant, count: int) -> list[dict[str, Any]]:
    """The account's deliveries once none is still being delivered (the worker writes the
    outcome just after the receiver has answered)."""
    for _ in range(200):
        found = await deliveries(client, account)
        if len(found) >= count and all(each["attributes"]["status"] != "DELIVERING" for each in found):
            return found
        await _pause()
    raise AssertionError(found)


async def _pause() -> None:
    await asyncio.sleep(0.05)


async def test_a_new_license_is_delivered_once_signed_with_the_accounts_key(
    client: httpx.AsyncClient, acme: Tenant, receiver: Receiver
) -> None:
    hook = await factories.webhook_endpoint(
        client, acme, receiver.url("/hooks?from=keyplane"), subscriptions=["license.created"]
    )
    product = await factories.product(client, acme)
    policy = await factories.policy(client, acme, product)
    license = await factories.license(client, acme, policy)

    [received] = await receiver.wait_for(1)
    assert received.method == "POST"
    assert received.target == "/hooks?from=keyplane"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["host"] == receiver.host
    key = await public_key(client, acme)
    verify(received, key)
    elsewhere = signature_problem(key, received.method, "/elsewhere", received.headers, received.body)
    assert elsewhere == "the signature does not verify"

    document = json.loads(received.body)
    event = document["data"]
    assert event["type"] == "webhook-events"
    assert event["attributes"]["event"] == "license.created"
    assert event["attributes"]["endpoint"] == hook["attributes"]["url"]
    payload = json.loads(event["attributes"]["payload"])  # a JSON string, as Keygen sends it
    assert payload["data"]["type"] == "licenses"
    assert payload["data"]["id"] == license["id"]
    assert payload["data"]["attributes"]["key"] == license["attributes"]["key"]
    assert payload["data"]["relationships"]["users"]["meta"]["count"] == 0
    logged = await client.get(
        f"{acme.base}/event-logs", params={"event": "license.created"}, headers=bearer(acme.key)
    )
    assert event["meta"]["idempotencyToken"] == logged.json()["data"][0]["id"]

    # The product and the policy were not subscribed to: nothing else was ever queued.
    [delivered] = await _settled(client, acme, 1)
    assert delivered["id"] == event["id"]
    assert delivered["attributes"]["status"] == "DELIVERED"
    assert delivered["attributes"]["lastResponseCode"] == 200
    assert delivered["attributes"]["lastResponseBody"] == "status 200"
    assert len(receiver.received) == 1


async def test_a_failing_receiver_is_retried_with_the_same_bytes_until_it_takes_them(
    client: httpx.AsyncClient, acme: Tenant, receiver: Receiver
) -> None:
    receiver.answers = [500, 503]
    await factories.webhook_endpoint(client, acme, receiver.url(), subscriptions=["product.created"])
    await factories.product(client, acme)

    first, second, third = await receiver.wait_for(3)
    assert first.body == second.body == third.body
    [delivered] = await _settled(client, acme, 1)
    assert delivered["attributes"]["status"] == "DELIVERED"
    assert delivered["attributes"]["lastResponseCode"] == 200


async def test_a_product_endpoint_gets_that_products_events_alone(
    client: httpx.AsyncClient, acme: Tenant, receiver: Receiver
) -> None:
    mine = await factories.product(client, acme, name="Mine")
    theirs = await factories.product(client, acme, name="Theirs")
    await factories.webhook_endpoint(client, acme, receiver.url(), product=mine)
    policy = await factories.policy(client, acme, mine)
    await factories.policy(client, acme, theirs)
    await factories.license(client, acme, policy)

    queued = await deliveries(client, acme)
    # Its own creation is an event of its product too.
    events = ["license.created", "policy.created", "webhook-endpoint.created"]
    assert [each["attributes"]["event"] for each in queued] == events
    received = await receiver.wait_for(3)
    payloads = [json.loads(json.loads(each.body)["data"]["attributes"]["payload"]) for each in received]
    products = {p["data"]["relationships"]["product"]["data"]["id"] for p in payloads}
    assert products == {mine}


async def test_a_deleted_resource_is_named_by_type_and_id(
    client: httpx.AsyncClient, acme: Tenant, receiver: Receiver
) -> None:
    product = await factories.product(client, acme)
    await factories.webhook_endpoint(client, acme, receiver.url(), subscriptions=["product.deleted"])
    gone = await client.delete(f"{acme.base}/products/{product}", headers=bearer(acme.key))
    assert gone.status_code == 204

    [received] = await receiver.wait_for(1)
    payload = json.loads(json.loads(received.body)["data"]["attributes"]["payload"])
    assert payload["data"] == {"type": "products", "id": product}


async def test_the_retry_action_sends_the_event_again_as_a_new_webhook_event(
    client: httpx.AsyncClient, acme: Tenant, receiver: Receiver
) -> None:
    await factories.webhook_endpoint(client, acme, receiver.url(), subscriptions=["product.created"])
    await factories.product(client, acme)
    [original] = await _settled(client, acme, 1)

    retried = await client.post(
        f"{acme.base}/webhook-events/{original['id']}/actions/retry", headers=bearer(acme.key)
    )
    assert retried.status_code == 201, retried.text
    again = retried.json()["data"]
    assert again["id"] != original["id"]
    assert retried.headers["location"] == again["links"]["self"]
    assert again["meta"] == original["meta"]
    assert again["attributes"]["payload"] == original["attributes"]["payload"]

    first, second = await receiver.wait_for(2)
    assert json.loads(second.body)["data"]["id"] == again["id"]
    assert json.loads(first.body)["data"]["attributes"]["payload"] == again["attributes"]["payload"]
    newest, oldest = await _settled(client, acme, 2)
    assert (newest["id"], oldest["id"]) == (again["id"], original["id"])
    assert newest["attributes"]["status"] == "DELIVERED"


async def test_an_address_refused_at_delivery_fails_the_attempt(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, receiver: Receiver
) -> None:
    """The endpoint was saved while private addresses were allowed; the worker of a process
    that does not allow them refuses to connect (a name may resolve elsewhere by then)."""
    services = services_of(app)
    await services.webhooks.stop()
    await factories.webhook_endpoint(client, acme, receiver.url(), subscriptions=["product.created"])
    await factories.product(client, acme)
    strict = Deliverer(services.db, services.keys, poll=0.05, timeout=2, first_retry=60, allow_private=False)

    assert await strict.deliver_due() == 1
    [refused] = await deliveries(client, acme)
    assert refused["attributes"]["status"] == "DELIVERING"  # to be tried again, later
    assert refused["attributes"]["lastResponseCode"] is None
    assert refused["attributes"]["lastResponseBody"] == "URL_NOT_ALLOWED"
    assert receiver.received == []
    assert await strict.deliver_due() == 0  # not due again yet
