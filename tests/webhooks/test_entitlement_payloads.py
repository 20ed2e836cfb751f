"""Webhooks of entitlement events carry the entitlement (or the license or policy it was
attached to, with the codes in ``meta``), as Keygen's BroadcastEventService sends them."""

from __future__ import annotations

import json

import httpx
import pytest

from keyplane.config import Settings
from tests import factories
from tests.factories import Tenant
from tests.webhooks.helpers import deliveries
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhooks_allow_private": True, "webhooks_poll_seconds": 0.05})


async def test_entitlement_events_are_delivered_with_their_resource(
    client: httpx.AsyncClient, acme: Tenant, receiver: Receiver
) -> None:
    """entitlements_controller.rb broadcasts ``entitlement.created`` with the entitlement;
    licenses/relationships/entitlements_controller.rb ``license.entitlements.attached``, whose
    event metadata is ``{codes}`` (broadcast_event_service.rb)."""
    await factories.webhook_endpoint(
        client,
        acme,
        receiver.url("/hooks"),
        subscriptions=["entitlement.created", "license.entitlements.attached"],
    )
    license = await factories.license(client, acme)
    entitlement = await factories.entitlement(client, acme, "HOOKED")
    attached = await factories.attach(client, acme, f"licenses/{license['id']}", [entitlement["id"]])
    assert attached.status_code == 200

    received = await receiver.wait_for(2)
    payloads = {}
    for each in received:
        event = json.loads(each.body)["data"]["attributes"]
        payloads[event["event"]] = json.loads(event["payload"])
    created = payloads["entitlement.created"]
    assert created["data"]["type"] == "entitlements"
    assert created["data"]["id"] == entitlement["id"]
    assert created["data"]["attributes"]["code"] == "HOOKED"
    on_license = payloads["license.entitlements.attached"]
    assert on_license["data"]["type"] == "licenses"
    assert on_license["data"]["id"] == license["id"]
    assert on_license["meta"] == {"codes": ["HOOKED"]}


async def test_every_products_endpoints_hear_of_entitlements(
    client: httpx.AsyncClient, acme: Tenant, receiver: Receiver
) -> None:
    """features/api/v1/entitlements/create.feature "generates authorized webhooks": 2 products
    with 2 endpoints each and 1 account endpoint make 5 webhooks, since every product may read
    every entitlement (broadcast_webhook_service.rb sends a product's endpoint what its
    product may read). An attachment to a license is its product's alone."""
    products = [await factories.product(client, acme) for _ in range(2)]
    subscriptions = ["entitlement.created", "license.entitlements.attached"]
    for product in products:
        for _ in range(2):
            await factories.webhook_endpoint(
                client, acme, receiver.url("/hooks"), subscriptions=subscriptions, product=product
            )
    await factories.webhook_endpoint(client, acme, receiver.url("/hooks"), subscriptions=subscriptions)
    entitlement = await factories.entitlement(client, acme, "BROADCAST")
    created = [
        each
        for each in await deliveries(client, acme)
        if each["attributes"]["event"] == "entitlement.created"
    ]
    assert len(created) == 5

    license = await factories.license(client, acme, await factories.policy(client, acme, products[0]))
    assert (
        await factories.attach(client, acme, f"licenses/{license['id']}", [entitlement["id"]])
    ).status_code == 200
    attached = [
        each
        for each in await deliveries(client, acme)
        if each["attributes"]["event"] == "license.entitlements.attached"
    ]
    assert len(attached) == 3  # the product's two endpoints and the account's
