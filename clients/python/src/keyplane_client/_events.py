"""The account's event log (``/v1/event-logs``), built once for both clients."""

from __future__ import annotations

from datetime import date

from keyplane_client import _wire as wire
from keyplane_client._calls import Call, Page
from keyplane_client.licensing import Event

_LIST = wire.ListDocument[wire.EventResource]


def _day(value: date | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d")


def first_page(
    *,
    event: str | None,
    resource_type: str | None,
    resource_id: str | None,
    whodunnit_type: str | None,
    whodunnit_id: str | None,
    start: date | None,
    end: date | None,
    page_size: int,
) -> Call[Page[Event]]:
    filters = {
        "event": event,
        "resource[type]": resource_type,
        "resource[id]": resource_id,
        "whodunnit[type]": whodunnit_type,
        "whodunnit[id]": whodunnit_id,
        "date[start]": _day(start),
        "date[end]": _day(end),
    }
    return wire.listing("/v1/event-logs", filters, page_size, _LIST, Event.of)
