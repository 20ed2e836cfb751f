"""The console's event log: the account's events, newest first, with the API's filters (event,
resource, whodunnit, dates), read through ``keyplane.events.service`` (admins only). The
filters are parsed by the API's own parser, so a bad one is refused in the same words."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from keyplane.console import repository
from keyplane.console.pages import PREFIX, Caller, ConsoleRoute, render
from keyplane.errors import BadRequest
from keyplane.events import service
from keyplane.events.names import ResourceType
from keyplane.events.schemas import EventFilters, event_filters
from keyplane.kit import paging
from keyplane.kit.actor import ActorType
from keyplane.web.dependencies import DbSession

router = APIRouter(prefix=f"{PREFIX}/events", route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 50
FIELDS = {
    "event": "event",
    "resource_type": "resource[type]",
    "resource_id": "resource[id]",
    "who_type": "whodunnit[type]",
    "who_id": "whodunnit[id]",
    "start": "date[start]",
    "end": "date[end]",
}
"""The form's fields and the API's parameters they are."""
Field = Annotated[str, Query(max_length=200)]


@router.get("")
async def list_events(
    request: Request,
    session: DbSession,
    console: Caller,
    event: Field = "",
    resource_type: Field = "",
    resource_id: Field = "",
    who_type: Field = "",
    who_id: Field = "",
    start: Field = "",
    end: Field = "",
    before: Field = "",
) -> Response:
    values = {
        "event": event.strip(),
        "resource_type": resource_type.strip(),
        "resource_id": resource_id.strip(),
        "who_type": who_type.strip(),
        "who_id": who_id.strip(),
        "start": start.strip(),
        "end": end.strip(),
    }
    context: dict[str, Any] = {
        "values": values,
        "resource_types": list(ResourceType),
        "who_types": list(ActorType),
    }
    try:
        filters = event_filters([(FIELDS[name], value) for name, value in values.items() if value])
        cursor = uuid.UUID(before) if before else None
    except BadRequest as error:
        # Whether the caller may read the log at all is the service's to say first.
        await service.listing(
            session, console.bearer, paging.Listed(paging.Paging("limit", 1), EventFilters())
        )
        parameter = error.source[1]
        problem = f"{parameter}: {error.detail}" if parameter else error.detail
        return render(
            request, "events/list.html", 400, events=[], names={}, older=None, problem=problem, **context
        )
    except ValueError:
        cursor = None
    asked = paging.Listed(paging.Paging("cursor", PAGE_SIZE, cursor=cursor), filters)
    found = await service.listing(session, console.bearer, asked)
    people = {each.whodunnit_id for each in found.items if each.whodunnit_type == ActorType.USER.value}
    names = await repository.emails(session, console.signed.account.id, (p for p in people if p is not None))
    older = None
    if found.next_cursor is not None:
        older = {**{name: value for name, value in values.items() if value}, "before": str(found.next_cursor)}
    return render(
        request, "events/list.html", events=found.items, names=names, older=older, problem=None, **context
    )
