"""Webhook endpoints and webhook events in Keygen's JSON:API shapes: request bodies, list
specs, renderers and the typed answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from keyplane.kit.documents import InstantOut, Output, SelfLink, ToOne
from keyplane.kit.jsonapi import account_base, resource, to_one
from keyplane.kit.paging import listing_spec, no_filters, parser
from keyplane.kit.query import Items, Param, Spec
from keyplane.kit.schemas import StrictInput
from keyplane.kit.timefmt import iso
from keyplane.licensing.schemas import ProductIdentifier
from keyplane.models import WebhookEndpoint, WebhookEvent

EndpointType = Annotated[str, Field(pattern="^(webhook[-_]?[eE]ndpoints?)$")]
Url = Annotated[str, Field(min_length=1, max_length=4096)]
Subscriptions = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=256)]
Token = Annotated[str, Field(min_length=1, max_length=64)]


class EndpointAttributes(StrictInput):
    url: Url | None = None
    subscriptions: Subscriptions | None = None
    signature_algorithm: Token | None = Field(default=None, alias="signatureAlgorithm")
    api_version: Token | None = Field(default=None, alias="apiVersion")


class EndpointCreateAttributes(EndpointAttributes):
    url: Url


class OptionalProduct(StrictInput):
    data: ProductIdentifier | None


class EndpointRelationships(StrictInput):
    product: OptionalProduct | None = None


class EndpointCreateData(StrictInput):
    type: EndpointType
    attributes: EndpointCreateAttributes
    relationships: EndpointRelationships | None = None


class EndpointUpdateData(StrictInput):
    type: EndpointType
    id: str | None = None
    attributes: EndpointAttributes = EndpointAttributes()
    relationships: EndpointRelationships | None = None


class EndpointCreate(StrictInput):
    data: EndpointCreateData


class EndpointUpdate(StrictInput):
    data: EndpointUpdateData


ENDPOINT_LIST: Spec = listing_spec()
"""``/webhook-endpoints`` takes paging alone, as Keygen's route does."""
parse_endpoint_list = parser(ENDPOINT_LIST, no_filters)

EVENT_LIST: Spec = listing_spec(
    Param("events[]", "Only these events (e.g. license.created; repeat the parameter)", many=True)
)


def _events(items: Items) -> tuple[str, ...]:
    return tuple(value for key, value in items if key == "events[]")


parse_event_list = parser(EVENT_LIST, _events)


# -- rendering ------------------------------------------------------------------------------


def endpoint_resource(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as Keygen's ``webhook-endpoints`` resource."""
    base = account_base(endpoint.account_id)
    product = endpoint.product_id
    return resource(
        base,
        "webhook-endpoints",
        endpoint.id,
        {
            "url": endpoint.url,
            "subscriptions": endpoint.subscriptions,
            "signatureAlgorithm": endpoint.signature_algorithm,
            "apiVersion": endpoint.api_version,
            "created": iso(endpoint.created_at),
            "updated": iso(endpoint.updated_at),
        },
        {
            "account": to_one(base, "accounts", endpoint.account_id, ""),
            "product": to_one(base, "products", product, f"products/{product}" if product else ""),
        },
    )


def event_resource(delivery: WebhookEvent) -> dict[str, Any]:
    """A delivery as Keygen's ``webhook-events`` resource: ``payload`` is the resource's
    JSON:API document as a JSON string (None until first sent); ``meta.idempotencyToken``
    names the event, the same in every delivery of it (retries too)."""
    base = account_base(delivery.account_id)
    rendered = resource(
        base,
        "webhook-events",
        delivery.id,
        {
            "endpoint": delivery.endpoint,
            "apiVersion": delivery.api_version,
            "payload": delivery.payload,
            "event": delivery.event,
            "status": delivery.status,
            "lastResponseCode": delivery.last_response_code,
            "lastResponseBody": delivery.last_response_body,
            "created": iso(delivery.created_at),
            "updated": iso(delivery.updated_at),
        },
        {"account": to_one(base, "accounts", delivery.account_id, "")},
    )
    rendered["meta"] = {"idempotencyToken": str(delivery.event_id)}
    return rendered


def sent_resource(delivery: WebhookEvent) -> dict[str, Any]:
    """The ``webhook-events`` resource a delivery's request carries: as it was made (still
    ``DELIVERING``, no answer yet), so that every attempt sends the same bytes."""
    sent = event_resource(delivery)
    sent["attributes"] |= {
        "status": "DELIVERING",
        "lastResponseCode": None,
        "lastResponseBody": None,
        "updated": sent["attributes"]["created"],
    }
    return sent


# -- answers ---------------------------------------------------------------------------------


class EndpointAttributesOut(Output):
    url: str
    subscriptions: list[str]
    signatureAlgorithm: Literal["ed25519"]
    apiVersion: str
    created: InstantOut
    updated: InstantOut


class EndpointRelationshipsOut(Output):
    account: ToOne
    product: ToOne


class EndpointResource(Output):
    id: str
    type: Literal["webhook-endpoints"]
    attributes: EndpointAttributesOut
    relationships: EndpointRelationshipsOut
    links: SelfLink


class EventAttributesOut(Output):
    endpoint: str
    apiVersion: str
    payload: str | None
    event: str
    status: Literal["DELIVERING", "DELIVERED", "FAILED"]
    lastResponseCode: int | None
    lastResponseBody: str | None
    created: InstantOut
    updated: InstantOut


class EventRelationshipsOut(Output):
    account: ToOne


class EventMeta(Output):
    idempotencyToken: str


class EventResource(Output):
    id: str
    type: Literal["webhook-events"]
    attributes: EventAttributesOut
    relationships: EventRelationshipsOut
    links: SelfLink
    meta: EventMeta
