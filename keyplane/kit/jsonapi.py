"""JSON:API documents as Keygen shapes them, the media-type answer to ``Accept``, and the
edge of every list: its query string parsed into typed values, its page links.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from fastapi import Query, Request
from fastapi.responses import JSONResponse

T = TypeVar("T")

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


class Paged(Protocol):
    """A page of a list (``keyplane.kit.paging.Page``): it knows its links."""

    def links(self, path: str, query: Sequence[tuple[str, str]]) -> dict[str, Any] | None: ...


def listing(request: Request, data: list[dict[str, Any]], page: Paged) -> JSONResponse:
    """A list document; paged lists carry Keygen's top-level ``links`` (with ``meta``), made
    from the page and the request's own path and query."""
    links = page.links(request.url.path, request.query_params.multi_items())
    return document(request, data) if links is None else document(request, data, links=links)


class Declared(Protocol):
    """A query parameter a list declares (``keyplane.kit.query.Param``)."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def many(self) -> bool: ...


class Declaring(Protocol):
    @property
    def params(self) -> Sequence[Declared]: ...


def list_query(spec: Declaring, parse: Callable[[Sequence[tuple[str, str]]], T]) -> Callable[..., T]:
    """A route dependency: the request's query string, parsed by ``parse`` (which refuses what
    ``spec`` does not declare) into the typed value the service takes.

    Its signature declares every parameter of ``spec`` (an optional string, or a list of them
    for a repeatable one), so the OpenAPI document lists them; the values FastAPI reads into
    it are not used: ``parse`` reads the query string itself (bracketed names, families and
    repeats included), so one set of rules decides, whatever FastAPI would have coerced.
    """

    def dependency(request: Request, **_declared: object) -> T:
        return parse(request.query_params.multi_items())

    parameters = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)]
    for index, param in enumerate(spec.params):
        default = Query(None, alias=param.name, description=param.description)
        parameters.append(
            inspect.Parameter(
                f"q{index}",
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=list[str] | None if param.many else str | None,
            )
        )
    dependency.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return dependency


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
