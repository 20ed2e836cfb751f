"""The event log in Keygen's JSON:API shape: ``/event-logs`` (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from keyplane.events import service
from keyplane.events.schemas import (
    EVENT_LIST,
    EventFilters,
    EventLogResource,
    event_log_resource,
    parse_event_list,
)
from keyplane.kit.documents import Document, ListDocument, returns
from keyplane.kit.jsonapi import document, list_query, listing
from keyplane.kit.paging import Listed
from keyplane.web.dependencies import DbSession, LicensingBearer

router = APIRouter(tags=["Event logs"])
EventList = Annotated[Listed[EventFilters], Depends(list_query(EVENT_LIST, parse_event_list))]


@router.get("/event-logs", responses=returns(ListDocument[EventLogResource]))
async def list_event_logs(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: EventList
) -> JSONResponse:
    """What happened in the account, newest first: every change any interface made, with who
    made it (``whodunnit``) and through which request. Filters: ``event`` (or ``events[]``),
    ``resource[type]`` + ``resource[id]``, ``whodunnit[type]`` (+ ``whodunnit[id]``),
    ``request``, ``date[start]`` + ``date[end]`` (days, at most 31). Admins only."""
    page = await service.listing(session, bearer, asked)
    return listing(request, [event_log_resource(event) for event in page.items], page)


@router.get("/event-logs/{event}", responses=returns(Document[EventLogResource]))
async def get_event_log(
    request: Request, event: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One event by id. Admins only."""
    return document(request, event_log_resource(await service.get(session, bearer, event)))
