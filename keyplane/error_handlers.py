"""The one renderer per API dialect, and the application's exception handlers: every error
(``AppError``, a request that fails validation, an outage, the framework's own) is answered
here, in the envelope of the API that was called.

The licensing surface answers in JSON:API's envelope, the API-key surface in plain JSON,
OAuth in RFC 6749's; which one a request gets depends on the route family, so a 401 from the
shared credential check still matches the envelope of the API that was called.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from keyplane import outages
from keyplane.accounts.signing import SealError
from keyplane.errors import ENCODING_DETAIL, TITLES, AppError, ErrorItem, generic_code, upper_snake
from keyplane.kit.families import dialect, is_plain
from keyplane.kit.jsonapi import JSONAPI, camel
from keyplane.licensing.schemas import METADATA_TOO_DEEP
from keyplane.observe import exchange
from keyplane.observe.observer import route_of

log = logging.getLogger("keyplane")


def render(request: Request, status: int, items: Iterable[ErrorItem], **headers: str) -> JSONResponse:
    request_id = exchange.request_id(request.scope)
    items = list(items)
    kind = dialect(request.url.path)
    if kind == "oauth":
        first = items[0]
        code = first.code if first.code.islower() else "invalid_request"
        return JSONResponse(
            {"error": code, "error_description": first.detail},
            status,
            headers={"Cache-Control": "no-store", **headers},
        )
    if kind == "plain":
        first = items[0]
        body: dict[str, Any] = {
            "status": status,
            "error": {
                "code": first.code,
                "message": first.detail,
                "field": first.pointer or first.parameter or first.header,
            },
            "requestId": request_id,
        }
        if len(items) > 1:
            body["error"]["details"] = [
                {"code": i.code, "message": i.detail, "field": i.pointer or i.parameter} for i in items
            ]
        return JSONResponse(body, status, headers=headers or None)
    errors = []
    for item in items:
        entry: dict[str, Any] = {"title": item.title or TITLES.get(status, "Error"), "detail": item.detail}
        entry["code"] = item.code
        if item.pointer is not None:
            entry["source"] = {"pointer": item.pointer}
        elif item.parameter is not None:
            entry["source"] = {"parameter": item.parameter}
        elif item.header is not None:
            entry["source"] = {"header": item.header}
        errors.append(entry)
    return JSONResponse(
        {"meta": {"id": request_id}, "errors": errors},
        status,
        headers=headers or None,
        media_type=JSONAPI,
    )


# -- request-shape validation ---------------------------------------------------------------

_MALFORMED = ("missing", "extra_forbidden", "json_invalid", "json_type", "model_type", "dict_type")


def _kind(error_type: str) -> str:
    if error_type == "missing":
        return "MISSING"
    if error_type == "extra_forbidden":
        return "NOT_PERMITTED"
    if error_type.endswith("too_long"):
        return "TOO_LONG"
    if error_type.endswith("too_short"):
        return "TOO_SHORT"
    if error_type == "int_too_large":
        return "TOO_LARGE"
    return "INVALID"


STORAGE_LIMITS = frozenset({2**31 - 1, 2**63 - 1})
"""The largest integers a column holds (32- and 64-bit): a bound at one of them is the
storage's, not a rule of the resource."""


def _too_large(error: Any) -> bool:
    if error.get("type") != "less_than_equal" or not isinstance(error.get("input"), int):
        return False
    return (error.get("ctx") or {}).get("le") in STORAGE_LIMITS


def _is_malformed(error_type: str) -> bool:
    return (
        error_type in _MALFORMED
        or error_type == METADATA_TOO_DEEP
        or error_type.endswith(("_type", "_parsing"))
    )


def validation_items(errors: Sequence[Any], plain: bool) -> tuple[int, list[ErrorItem]]:
    """Pydantic errors as (status, items): malformed input 400, broken rules 422.

    When anything is malformed the whole request is a 400 and the malformed parts are
    listed first, so the headline error explains the status.
    """
    status = 422
    items: list[ErrorItem] = []
    errors = sorted(
        errors,
        key=lambda e: (
            not (
                e.get("loc", ("body",))[0] != "body"
                or _is_malformed(str(e.get("type", "")))
                or (not plain and _too_large(e))
            )
        ),
    )
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        source, path = (loc[0], loc[1:]) if loc else ("body", [])
        etype = str(error.get("type", ""))
        if source != "body" or _is_malformed(etype):
            status = 400
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        if not plain and _too_large(error):
            # Past what a column holds: Keygen's 400 "integer is too large" (its RangeError).
            status = 400
            etype, message = "int_too_large", "integer is too large"
        if etype == "json_invalid":
            items.append(ErrorItem("The request body is not valid JSON", "JSON_INVALID", pointer=""))
            continue
        named = [p for p in path if not p.isdigit()]
        kind = _kind(etype)
        if etype == METADATA_TOO_DEEP:
            # Keygen's typed_params: a 400 pointing at the first value nested too deep.
            status = 400
            kind = "TOO_DEEP"
            path = [*path, *(error.get("ctx") or {}).get("path", [])]
        if not plain and etype in ("literal_error", "enum"):
            kind = "NOT_ALLOWED"  # Keygen's code for a value outside an enumeration
        code = f"{upper_snake(named[-1] if named else 'body')}_{kind}"
        if source in ("query", "path"):
            items.append(ErrorItem(message, code, parameter=camel(path[-1]) if plain else path[-1]))
        elif source == "header":
            items.append(ErrorItem(message, code, header=path[-1] if path else None))
        elif plain:
            items.append(ErrorItem(message, code, pointer=".".join(path) or None))
        else:
            title = "Unprocessable resource" if status == 422 else None
            items.append(ErrorItem(message, code, pointer="/" + "/".join(path), title=title))
    return status, items


def error_response(request: Request, exc: AppError) -> JSONResponse:
    headers = dict(exc.headers)
    if exc.status == 401 and dialect(request.url.path) != "oauth":
        headers.setdefault("WWW-Authenticate", 'Bearer realm="keyplane"')
    return render(request, exc.status, exc.items(), **headers)


RETRY_AFTER = "1"
"""Seconds a client is told to wait before retrying a request the database could not serve."""
_UNAVAILABLE = (
    outages.DatabaseUnavailable,
    sqlalchemy.exc.SQLAlchemyError,
    TimeoutError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)
"""Every kind of error that may mean the database is unavailable (``keyplane.outages``)."""


def unavailable_response(
    request: Request, message: str = "The database is busy or unavailable; retry shortly"
) -> JSONResponse:
    """The answer to a request the database could not serve in time (down, unreachable,
    saturated, locked): a 503 with ``Retry-After``, in the envelope of the API called."""
    oauth = dialect(request.url.path) == "oauth"
    code = "temporarily_unavailable" if oauth else "SERVICE_UNAVAILABLE"
    return render(request, 503, [ErrorItem(message, code)], **{"Retry-After": RETRY_AFTER})


def outage_response(request: Request, error: BaseException) -> JSONResponse | None:
    """The 503 for ``error`` when it means this process cannot serve the request now and a
    retry may succeed: the database is unavailable, or an account's signing key is sealed
    under a secret this process was not given (a rotation under way: a process still on
    the old secret answers this until it is restarted with the new one). None otherwise."""
    if isinstance(error, SealError):
        log.error(
            "secret.outdated",
            extra={
                "route": route_of(request.scope),
                "fix": "another process rotated the server secret: restart this one with the new "
                "KEYPLANE_SECRET_KEY (and the old one in KEYPLANE_SECRET_KEY_PREVIOUS)",
            },
        )
        return unavailable_response(request, "The service is restarting; retry shortly")
    if not outages.unavailable(error):
        return None
    # Saturation (no pooled connection in time, SQLite's lock held past busy_timeout) or a
    # database that is down: the request changed nothing and may be retried. The error is
    # named, not quoted: a driver's message may carry the statement's parameters.
    log.warning(
        "database.unavailable", extra={"route": route_of(request.scope), "error": type(error).__name__}
    )
    return unavailable_response(request)


def install_handlers(app: FastAPI) -> None:
    async def app_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return error_response(request, exc)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        status, items = validation_items(exc.errors(), is_plain(request.url.path))
        return render(request, status, items)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            # Keygen's wording (app/controllers/application_controller.rb ``render_not_found``).
            item = ErrorItem(
                "The requested endpoint was not found (check your HTTP method, Accept header, and URL path)",
                "NOT_FOUND",
            )
        elif exc.status_code == 405:
            item = ErrorItem(f"{request.method} is not supported on this endpoint", "METHOD_NOT_ALLOWED")
        elif (
            exc.status_code == 400
            and isinstance(exc.__cause__, UnicodeDecodeError)
            and dialect(request.url.path) == "jsonapi"
        ):
            # A body that is not UTF-8: Keygen's ENCODING_INVALID, in its wording.
            item = ErrorItem(ENCODING_DETAIL, "ENCODING_INVALID")
        elif exc.status_code == 400:
            # FastAPI's answer to a body it could not decode at all (nested too deep): the
            # same error as any other malformed JSON, not one without a code.
            item = ErrorItem("The request body is not valid JSON", "JSON_INVALID", pointer="")
        elif exc.status_code == 413:
            item = ErrorItem(str(exc.detail), "BODY_TOO_LARGE")
        else:
            item = ErrorItem(str(exc.detail), generic_code(exc.status_code))
        return render(request, exc.status_code, [item], **(exc.headers or {}))

    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request.crashed", extra={"route": route_of(request.scope)})
        return render(request, 500, [ErrorItem("Something went wrong on our side", "INTERNAL_ERROR")])

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        answer = outage_response(request, exc)
        return await crash(request, exc) if answer is None else answer

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for kind in (*_UNAVAILABLE, SealError):
        app.add_exception_handler(kind, unavailable)
    app.add_exception_handler(Exception, crash)
