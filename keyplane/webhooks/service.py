"""Webhook endpoints (Keygen's rules: admins and developers manage them, read-only users read
them, a product token manages its own product's) and their deliveries, with the retry
action."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.auth.scopes import Role, Scope
from keyplane.errors import Forbidden, InvalidResource, NotFound
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock, paging
from keyplane.kit.ids import as_uuid
from keyplane.licensing.access import view
from keyplane.licensing.records import target
from keyplane.models import Product, WebhookEndpoint, WebhookEvent
from keyplane.webhooks import addresses, repository
from keyplane.webhooks.schemas import EndpointAttributes, EndpointCreateAttributes, EndpointRelationships

API_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7")
"""The versions Keygen's clients may ask for; every payload is rendered in Keyplane's one
shape (Keygen's current one)."""
API_VERSION = "1.7"
ALGORITHMS = ("ed25519",)
"""The one key an account has (Keygen also offers RSA and ECDSA)."""
SUBSCRIBABLE = frozenset(event.value for event in EventName)

_READERS = frozenset({Role.ADMIN, Role.DEVELOPER, Role.READ_ONLY, Role.PRODUCT})
_WRITERS = frozenset({Role.ADMIN, Role.DEVELOPER, Role.PRODUCT})
_ATTRIBUTE = "/data/attributes/"


def _may(bearer: Bearer, scope: Scope, noun: str) -> None:
    if not bearer.has(scope):
        raise Forbidden(
            f"This credential lacks the {scope.value} scope (or its owner's role does)", "INSUFFICIENT_SCOPE"
        )
    if not may(bearer, scope):
        raise Forbidden(
            f"You do not have permission to manage {noun} (role {bearer.role.value})", "ACCESS_DENIED"
        )


def require(bearer: Bearer, scope: Scope) -> None:
    """Refuse (403, with the reason) a bearer who may not do what ``scope`` names to webhook
    endpoints: what a page that only shows a form checks first."""
    _may(bearer, scope, "webhook endpoints")


def may(bearer: Bearer, scope: Scope) -> bool:
    """Whether the bearer's role may do what ``scope`` names to webhooks (read them, or
    change them); the scope itself is checked as well."""
    allowed = _READERS if scope is Scope.READ else _WRITERS
    return bearer.has(scope) and bearer.role in allowed


def _own_product(bearer: Bearer) -> uuid.UUID | None:
    """A product token sees its own product's endpoints alone."""
    return bearer.product_id if bearer.is_product else None


def _subscriptions(sent: list[str]) -> list[str]:
    wanted = list(dict.fromkeys(sent))
    if not wanted:
        raise InvalidResource(
            "must have at least 1 webhook event subscription",
            "SUBSCRIPTIONS_TOO_SHORT",
            pointer=_ATTRIBUTE + "subscriptions",
        )
    if wanted != ["*"] and not set(wanted) <= SUBSCRIBABLE:
        raise InvalidResource(
            "unsupported webhook event type for subscription",
            "SUBSCRIPTIONS_NOT_ALLOWED",
            pointer=_ATTRIBUTE + "subscriptions",
        )
    return wanted


async def _url(url: str, allow_private: bool) -> str:
    try:
        await addresses.check(url, allow_private=allow_private)
    except addresses.Refused as refused:
        raise InvalidResource(str(refused), "URL_NOT_ALLOWED", pointer=_ATTRIBUTE + "url") from None
    return url


async def _apply(endpoint: WebhookEndpoint, data: EndpointAttributes, allow_private: bool) -> None:
    sent = data.model_fields_set
    if "url" in sent:
        if data.url is None:
            raise InvalidResource("can't be blank", "URL_BLANK", pointer=_ATTRIBUTE + "url")
        endpoint.url = await _url(data.url, allow_private)
    if "subscriptions" in sent:
        endpoint.subscriptions = _subscriptions(data.subscriptions or [])
    if "signature_algorithm" in sent and data.signature_algorithm is not None:
        if data.signature_algorithm not in ALGORITHMS:
            raise InvalidResource(
                "unsupported signature algorithm",
                "SIGNATURE_ALGORITHM_NOT_ALLOWED",
                pointer=_ATTRIBUTE + "signatureAlgorithm",
            )
        endpoint.signature_algorithm = data.signature_algorithm
    if "api_version" in sent and data.api_version is not None:
        if data.api_version not in API_VERSIONS:
            raise InvalidResource(
                "unsupported version", "API_VERSION_NOT_ALLOWED", pointer=_ATTRIBUTE + "apiVersion"
            )
        endpoint.api_version = data.api_version


async def _product(
    session: AsyncSession, bearer: Bearer, relationships: EndpointRelationships | None
) -> uuid.UUID | None:
    """The product the endpoint is for: the one named (which the bearer must see), or a
    product token's own (Keygen's fallback for clients that send no relationship)."""
    named = None if relationships is None or relationships.product is None else relationships.product.data
    if named is None:
        return _own_product(bearer)
    found = await target(
        session,
        bearer,
        Product,
        named.id,
        view(bearer, Product),
        code="PRODUCT_NOT_FOUND",
        pointer="/data/relationships/product",
        denied="You may only add webhook endpoints for your own product",
    )
    return found.id


async def create(
    session: AsyncSession,
    bearer: Bearer,
    data: EndpointCreateAttributes,
    relationships: EndpointRelationships | None,
    *,
    allow_private: bool,
) -> WebhookEndpoint:
    _may(bearer, Scope.CREATE, "webhook endpoints")
    endpoint = WebhookEndpoint(
        account_id=bearer.account.id,
        subscriptions=["*"],
        signature_algorithm=ALGORITHMS[0],
        api_version=API_VERSION,
    )
    await _apply(endpoint, data, allow_private)
    endpoint.product_id = await _product(session, bearer, relationships)
    session.add(endpoint)
    await session.flush()
    await events.record(
        session, bearer, EventName.WEBHOOK_ENDPOINT_CREATED, endpoint.id, product=endpoint.product_id
    )
    return endpoint


async def _find(session: AsyncSession, bearer: Bearer, ref: str) -> WebhookEndpoint:
    endpoint_id = as_uuid(ref)
    found = None
    if endpoint_id is not None:
        found = await repository.endpoint(session, bearer.account.id, endpoint_id, _own_product(bearer))
    if found is None:
        raise NotFound("The requested webhook endpoint was not found", "NOT_FOUND")
    return found


async def get(session: AsyncSession, bearer: Bearer, ref: str) -> WebhookEndpoint:
    _may(bearer, Scope.READ, "webhook endpoints")
    return await _find(session, bearer, ref)


async def listing(
    session: AsyncSession, bearer: Bearer, asked: paging.Listed[None]
) -> paging.Page[WebhookEndpoint]:
    _may(bearer, Scope.READ, "webhook endpoints")
    return await repository.endpoint_page(session, bearer.account.id, _own_product(bearer), asked.paging)


async def update(
    session: AsyncSession,
    bearer: Bearer,
    ref: str,
    data: EndpointAttributes,
    relationships: EndpointRelationships | None,
    *,
    allow_private: bool,
) -> WebhookEndpoint:
    _may(bearer, Scope.UPDATE, "webhook endpoints")
    endpoint = await _find(session, bearer, ref)
    await _apply(endpoint, data, allow_private)
    if relationships is not None and relationships.product is not None:
        endpoint.product_id = await _product(session, bearer, relationships)
    await events.record(
        session,
        bearer,
        EventName.WEBHOOK_ENDPOINT_UPDATED,
        endpoint.id,
        changed=endpoint,
        product=endpoint.product_id,
    )
    endpoint.updated_at = clock.now()
    await session.flush()
    return endpoint


async def delete(session: AsyncSession, bearer: Bearer, ref: str) -> None:
    _may(bearer, Scope.DELETE, "webhook endpoints")
    endpoint = await _find(session, bearer, ref)
    await events.record(
        session, bearer, EventName.WEBHOOK_ENDPOINT_DELETED, endpoint.id, product=endpoint.product_id
    )
    await repository.give_up_on(session, endpoint.id)
    await session.delete(endpoint)
    await session.flush()


# -- deliveries ------------------------------------------------------------------------------


async def deliveries(
    session: AsyncSession, bearer: Bearer, asked: paging.Listed[tuple[str, ...]]
) -> paging.Page[WebhookEvent]:
    _may(bearer, Scope.READ, "webhook events")
    return await repository.delivery_page(
        session, bearer.account.id, _own_product(bearer), asked.filters, asked.paging
    )


async def delivery(session: AsyncSession, bearer: Bearer, ref: str) -> WebhookEvent:
    _may(bearer, Scope.READ, "webhook events")
    delivery_id = as_uuid(ref)
    found = None
    if delivery_id is not None:
        found = await repository.delivery(session, bearer.account.id, _own_product(bearer), delivery_id)
    if found is None:
        raise NotFound("The requested webhook event was not found", "NOT_FOUND")
    return found


async def retry(session: AsyncSession, bearer: Bearer, ref: str) -> WebhookEvent:
    """A new delivery of the same event, with the same payload, to the same endpoint (as
    Keygen retries: the original stays as it ended). 422 once the endpoint is gone."""
    _may(bearer, Scope.CREATE, "webhook events")
    original = await delivery(session, bearer, ref)
    endpoint = None
    if original.endpoint_id is not None:
        endpoint = await repository.endpoint(session, bearer.account.id, original.endpoint_id, None)
    if endpoint is None:
        raise InvalidResource("webhook event failed to retry", "WEBHOOK_ENDPOINT_NOT_FOUND")
    again = WebhookEvent.due_now(
        endpoint,
        original.event_id,
        original.event,
        original.resource_type,
        original.resource_id,
        original.api_version,
        clock.now(),
        original.payload,
    )
    session.add(again)
    await session.flush()
    await events.record(
        session,
        bearer,
        EventName.WEBHOOK_EVENT_RETRIED,
        again.id,
        metadata={"retried": str(original.id)},
        product=endpoint.product_id,
    )
    return again
