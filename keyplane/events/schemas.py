"""Event logs in Keygen's JSON:API shape (``event-logs``), their list filters, and the plain
JSON history of one API key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from keyplane.events.names import ResourceType
from keyplane.kit.actor import ActorType
from keyplane.kit.documents import InstantOut, MetadataOut, Output, SelfLink, ToOne
from keyplane.kit.jsonapi import account_base, resource, to_one
from keyplane.kit.paging import listing_spec, parser
from keyplane.kit.query import Items, Param, Spec, family, identifier, last, refuse
from keyplane.kit.timefmt import Timestamp, iso
from keyplane.models import Event

_WHO_PLURALS = {
    ActorType.USER: "users",
    ActorType.API_KEY: "api-keys",
    ActorType.TOKEN: "tokens",
    ActorType.PRODUCT: "products",
    ActorType.LICENSE: "licenses",
}
"""The system has no record to point at: its whodunnit is ``null``."""
_RESOURCE_NAMES = {name: kind for kind in ResourceType for name in (kind.value, kind.plural)}
_WHO_NAMES = {name: kind for kind in ActorType for name in (kind.value, _WHO_PLURALS.get(kind, kind.value))}

MAX_DAYS = 31
"""The longest ``date[start]``..``date[end]`` range, as Keygen allows."""

EVENT_LIST: Spec = listing_spec(
    Param("event", "Only this event (e.g. license.created)"),
    Param("events[]", "Only these events (repeat the parameter)", many=True),
    Param("resource[type]", "With resource[id]: only events of this resource (e.g. license)"),
    Param("resource[id]", "With resource[type]: the resource's id"),
    Param(
        "whodunnit[type]",
        "Only events by this kind of actor (user, api-key, token, product, license, system)",
    ),
    Param("whodunnit[id]", "With whodunnit[type]: the actor's id"),
    Param("request", "Only events of this request (its X-Request-Id)"),
    Param("date[start]", f"With date[end]: from this day (YYYY-MM-DD, at most {MAX_DAYS} days)"),
    Param("date[end]", "With date[start]: to this day, included"),
)


@dataclass(frozen=True, slots=True)
class EventFilters:
    events: tuple[str, ...] = ()
    resource_type: ResourceType | None = None
    resource_id: uuid.UUID | None = None
    whodunnit_type: ActorType | None = None
    whodunnit_id: uuid.UUID | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _kind(value: str, names: dict[str, Any], parameter: str) -> Any:
    found = names.get(value.strip().lower())
    if found is None:
        choices = ", ".join(sorted({str(kind) for kind in names.values()}))
        raise refuse(parameter, f"must be one of: {choices}")
    return found


def _day(value: str, parameter: str) -> datetime:
    try:
        day = datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise refuse(parameter, f"must be a date, YYYY-MM-DD (got {value!r})") from None
    return datetime.combine(day, time.min, UTC)


def event_filters(items: Items) -> EventFilters:
    events = tuple(value for key, value in items if key in ("event", "events[]"))
    resource = dict(family(items, "resource"))
    who = dict(family(items, "whodunnit"))
    if set(resource) - {"type", "id"} or ("id" in resource and "type" not in resource):
        raise refuse("resource", "must be resource[type] with resource[id]")
    if set(who) - {"type", "id"} or ("id" in who and "type" not in who):
        raise refuse("whodunnit", "must be whodunnit[type], optionally with whodunnit[id]")
    start, end = last(items, "date[start]"), last(items, "date[end]")
    since = until = None
    if (start is None) != (end is None):
        raise refuse("date", "must be date[start] with date[end]")
    if start is not None and end is not None:
        since, until = _day(start, "date[start]"), _day(end, "date[end]") + timedelta(days=1)
        days = (until - since).days
        if not 1 <= days <= MAX_DAYS:
            raise refuse("date", f"date range must be between 1 and {MAX_DAYS} days (got {days})")
    return EventFilters(
        events=events,
        resource_type=_kind(resource["type"], _RESOURCE_NAMES, "resource[type]")
        if "type" in resource
        else None,
        resource_id=identifier(resource["id"], "resource[id]") if "id" in resource else None,
        whodunnit_type=_kind(who["type"], _WHO_NAMES, "whodunnit[type]") if "type" in who else None,
        whodunnit_id=identifier(who["id"], "whodunnit[id]") if "id" in who else None,
        request_id=last(items, "request"),
        since=since,
        until=until,
    )


parse_event_list = parser(EVENT_LIST, event_filters)


def event_log_resource(event: Event) -> dict[str, Any]:
    """An event as Keygen's ``event-logs`` resource."""
    base = account_base(event.account_id)
    kind = ResourceType(event.resource_type)
    who = ActorType(event.whodunnit_type)
    who_type = _WHO_PLURALS.get(who)
    return resource(
        base,
        "event-logs",
        event.id,
        {
            "event": event.event,
            "metadata": event.meta,
            "created": iso(event.created_at),
            "updated": iso(event.created_at),
        },
        {
            "account": to_one(base, "accounts", event.account_id, ""),
            "resource": to_one(base, kind.plural, event.resource_id, f"{kind.plural}/{event.resource_id}"),
            "whodunnit": (
                to_one(base, who_type, event.whodunnit_id, f"{who_type}/{event.whodunnit_id}")
                if who_type is not None and event.whodunnit_id is not None
                else {"data": None}
            ),
            "request": {
                "data": None if event.request_id is None else {"type": "requests", "id": event.request_id}
            },
        },
    )


def history_entry(event: Event) -> dict[str, Any]:
    """An event in the API-key surface's plain JSON (``GET /api-keys/{id}/events``)."""

    return {
        "id": str(event.id),
        "event": event.event,
        "actor": {
            "type": event.whodunnit_type,
            "id": None if event.whodunnit_id is None else str(event.whodunnit_id),
        },
        "requestId": event.request_id,
        "ip": event.address,
        "userAgent": event.user_agent,
        "metadata": event.meta,
        "createdAt": iso(event.created_at),
    }


# -- answers ---------------------------------------------------------------------------------


class EventLogAttributesOut(Output):
    event: str
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class RequestRef(Output):
    type: Literal["requests"]
    id: str


class RequestLinkage(Output):
    data: RequestRef | None


class Unlinked(Output):
    data: None


class EventLogRelationships(Output):
    account: ToOne
    resource: ToOne
    whodunnit: ToOne | Unlinked
    request: RequestLinkage


class EventLogResource(Output):
    id: str
    type: Literal["event-logs"]
    attributes: EventLogAttributesOut
    relationships: EventLogRelationships
    links: SelfLink


class ActorOut(BaseModel):
    type: str
    id: str | None


class HistoryEntry(Output):
    id: str
    event: str
    actor: ActorOut
    requestId: str | None
    ip: str | None
    userAgent: str | None
    metadata: MetadataOut
    createdAt: Timestamp


class History(Output):
    """One API key's history, newest first."""

    data: list[HistoryEntry]
