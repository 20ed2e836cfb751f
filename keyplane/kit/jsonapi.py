"""JSON:API documents as Keygen shapes them, and the media-type answer to ``Accept``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

JSONAPI = "application/vnd.api+json"
JSON = "application/json"


def camel(name: str) -> str:
    """``max_machines`` -> ``maxMachines``: a Python name as Keygen spells it on the wire."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def attribute_pointer(name: str) -> str:
    return f"/data/attributes/{camel(name)}"


def media_type(request: Request) -> str:
    """JSON:API unless the client prefers plain JSON (Keygen answers the same way)."""
    return media_type_for(request.headers.get("accept", ""))


def media_type_for(accept: str) -> str:
    if JSON in accept and JSONAPI not in accept and "application/vnd.keygen+json" not in accept:
        return JSON
    return JSONAPI


def to_one(base: str, type_: str, id_: object | None, related: str) -> dict[str, Any]:
    return {
        "links": {"related": f"{base}/{related}" if related else base},
        "data": None if id_ is None else {"type": type_, "id": str(id_)},
    }


def document(
    request: Request, data: Any, status: int = 200, *, headers: dict[str, str] | None = None, **top: Any
) -> JSONResponse:
    return JSONResponse({"data": data, **top}, status, headers=headers, media_type=media_type(request))


def created(request: Request, resource: dict[str, Any]) -> JSONResponse:
    """201 with the new resource and its ``Location``."""
    return document(request, resource, 201, headers={"Location": resource["links"]["self"]})


def listing(request: Request, data: list[dict[str, Any]], links: dict[str, Any] | None) -> JSONResponse:
    """A list document; paged lists carry Keygen's top-level ``links`` (with ``meta``)."""
    return document(request, data) if links is None else document(request, data, links=links)


def resource(
    base: str, type_: str, id_: object, attributes: dict[str, Any], relationships: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": str(id_),
        "type": type_,
        "attributes": attributes,
        "relationships": relationships,
        "links": {"self": f"{base}/{type_}/{id_}"},
    }


def to_many(base: str, related: str, **meta: Any) -> dict[str, Any]:
    link: dict[str, Any] = {"links": {"related": f"{base}/{related}"}}
    if meta:
        link["meta"] = meta
    return link


def account_base(account_id: object) -> str:
    return f"/v1/accounts/{account_id}"
