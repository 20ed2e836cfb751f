"""Webhooks in Keygen's JSON:API shapes: ``/webhook-endpoints`` (where the account's events
are sent) and ``/webhook-events`` (each delivery, its status and the receiver's last answer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from keyplane.kit.documents import Document, ListDocument, returns
from keyplane.kit.jsonapi import created, document, list_query, listing
from keyplane.kit.paging import Listed
from keyplane.services import services_of
from keyplane.web.dependencies import DbSession, LicensingBearer
from keyplane.webhooks import service
from keyplane.webhooks.schemas import (
    ENDPOINT_LIST,
    EVENT_LIST,
    EndpointCreate,
    EndpointResource,
    EndpointUpdate,
    EventResource,
    endpoint_resource,
    event_resource,
    parse_endpoint_list,
    parse_event_list,
)

router = APIRouter(tags=["Webhooks"])
EndpointList = Annotated[Listed[None], Depends(list_query(ENDPOINT_LIST, parse_endpoint_list))]
EventList = Annotated[Listed[tuple[str, ...]], Depends(list_query(EVENT_LIST, parse_event_list))]


def _allow_private(request: Request) -> bool:
    return services_of(request.app).settings.webhooks_allow_private


@router.post("/webhook-endpoints", status_code=201, responses=returns(Document[EndpointResource], 201))
async def create_webhook_endpoint(
    request: Request, session: DbSession, bearer: LicensingBearer, body: EndpointCreate
) -> JSONResponse:
    """Send the account's events to ``url`` (``https``, on a public address): those named in
    ``subscriptions`` (default ``["*"]``, every event), or with the ``product`` relationship
    only that product's. Each delivery is signed with the account's Ed25519 key as the API's
    answers are. Admins and developers, or a product token for its own product."""
    data = body.data
    endpoint = await service.create(
        session, bearer, data.attributes, data.relationships, allow_private=_allow_private(request)
    )
    return created(request, endpoint_resource(endpoint))


@router.get("/webhook-endpoints", responses=returns(ListDocument[EndpointResource]))
async def list_webhook_endpoints(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: EndpointList
) -> JSONResponse:
    """The account's webhook endpoints, newest first (a product token: its product's)."""
    page = await service.listing(session, bearer, asked)
    return listing(request, [endpoint_resource(endpoint) for endpoint in page.items], page)


@router.get("/webhook-endpoints/{endpoint}", responses=returns(Document[EndpointResource]))
async def get_webhook_endpoint(
    request: Request, endpoint: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One webhook endpoint by id."""
    return document(request, endpoint_resource(await service.get(session, bearer, endpoint)))


@router.patch("/webhook-endpoints/{endpoint}", responses=returns(Document[EndpointResource]))
async def update_webhook_endpoint(
    request: Request, endpoint: str, session: DbSession, bearer: LicensingBearer, body: EndpointUpdate
) -> JSONResponse:
    """Change an endpoint's URL, subscriptions, signature algorithm, API version or product;
    what is not sent stays as it is. Deliveries already made keep the URL they were made for."""
    data = body.data
    updated = await service.update(
        session, bearer, endpoint, data.attributes, data.relationships, allow_private=_allow_private(request)
    )
    return document(request, endpoint_resource(updated))


@router.delete("/webhook-endpoints/{endpoint}", status_code=204, response_class=Response)
async def delete_webhook_endpoint(endpoint: str, session: DbSession, bearer: LicensingBearer) -> Response:
    """Delete an endpoint; what it has not received yet is not sent (its deliveries stay, as
    ``FAILED``)."""
    await service.delete(session, bearer, endpoint)
    return Response(status_code=204)


@router.get("/webhook-events", responses=returns(ListDocument[EventResource]))
async def list_webhook_events(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: EventList
) -> JSONResponse:
    """Every delivery of the account's events, newest first, with its status (``DELIVERING``,
    ``DELIVERED``, ``FAILED``) and the receiver's last answer; ``events[]`` filters by event."""
    page = await service.deliveries(session, bearer, asked)
    return listing(request, [event_resource(delivery) for delivery in page.items], page)


@router.get("/webhook-events/{event}", responses=returns(Document[EventResource]))
async def get_webhook_event(
    request: Request, event: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One delivery by id."""
    return document(request, event_resource(await service.delivery(session, bearer, event)))


@router.post(
    "/webhook-events/{event}/actions/retry",
    status_code=201,
    responses=returns(Document[EventResource], 201),
)
async def retry_webhook_event(
    request: Request, event: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """Deliver the event again: a new webhook event with the same payload and idempotency
    token, sent to the endpoint's current URL (201, as Keygen answers). 422 if the endpoint
    is gone."""
    return created(request, event_resource(await service.retry(session, bearer, event)))
