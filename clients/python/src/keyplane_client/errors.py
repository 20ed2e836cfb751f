"""Keyplane's refusals as typed exceptions.

The API-key API answers an error as ``{"status", "error": {"code", "message", "field"},
"requestId"}``, the licensing API (licenses, pools, users, events) as JSON:API's ``{"meta":
{"id"}, "errors": [{"code", "detail", "source"}]}``. Each status maps to one class, and every
instance carries the API's ``code`` (branch on it, never on the message), the HTTP status and
the request id to quote when reporting a problem.
"""

from __future__ import annotations

from typing import Any

import httpx


class KeyplaneError(Exception):
    """Any refusal or failure of a call to Keyplane."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        request_id: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        """The API's code (``NOT_FOUND``, ``RATE_LIMITED``, ...), or ``UNREACHABLE``."""
        self.status = status
        """The HTTP status; None when no answer came."""
        self.request_id = request_id
        self.field = field
        """The request's field, parameter or header the refusal is about, when it names one
        (on the licensing API, a JSON pointer such as ``/data/attributes/name``)."""

    def __str__(self) -> str:
        status = "" if self.status is None else f"{self.status} "
        request = "" if self.request_id is None else f" (request {self.request_id})"
        return f"{status}{self.code}: {self.message}{request}"


class BadRequest(KeyplaneError):
    """400: the request was malformed (a parameter or field of the wrong shape)."""


class Unauthorized(KeyplaneError):
    """401: the client's API key is missing, unknown, expired or revoked."""


class Forbidden(KeyplaneError):
    """403: the client's API key lacks a scope the call needs, or the record is not its to touch."""


class NotFound(KeyplaneError):
    """404: no such record in the account."""


class Conflict(KeyplaneError):
    """409: the record's state does not allow the call."""


class Unprocessable(KeyplaneError):
    """422: well-formed input that breaks a rule (a name too long, an address that is not one)."""


class RateLimited(KeyplaneError):
    """429: the client's API key has spent its rate limit; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int | None, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class Unavailable(KeyplaneError):
    """503: Keyplane cannot serve the call now (its database is busy or down); retried
    automatically for safe calls, raised once the retries are spent."""

    def __init__(self, message: str, *, retry_after: int | None, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class Unreachable(KeyplaneError):
    """No answer: the connection failed or timed out (after the retries of a safe call)."""


_BY_STATUS: dict[int, type[KeyplaneError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
}


def retry_after(response: httpx.Response) -> int | None:
    """The answer's ``Retry-After`` in whole seconds (Keyplane sends seconds, never a date)."""
    value = response.headers.get("Retry-After", "")
    return int(value) if value.isascii() and value.isdigit() else None


def _plain(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The API-key API's ``{"status", "error": {...}, "requestId"}``: (code, message, field), request id."""
    error = body.get("error")
    if not isinstance(error, dict):
        return {}, None
    found = {"code": error.get("code"), "message": error.get("message"), "field": error.get("field")}
    return found, body.get("requestId")


def _jsonapi(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The licensing API's ``{"meta": {"id"}, "errors": [{"code", "detail", "source"}]}``: its
    first error (the one a client acts on), and the request id."""
    errors, meta = body.get("errors"), body.get("meta")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    source = first.get("source")
    where = next(iter(source.values()), None) if isinstance(source, dict) and source else None
    found = {"code": first.get("code"), "message": first.get("detail") or first.get("title"), "field": where}
    return found, meta.get("id") if isinstance(meta, dict) else None


def error_from(response: httpx.Response) -> KeyplaneError:
    """The exception for an error answer, in either of Keyplane's envelopes (the API-key API's
    plain JSON or the licensing API's JSON:API), whatever its body (a proxy's HTML page included)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error: dict[str, Any] = {}
    request_id = None
    if isinstance(body, dict):
        error, request_id = _jsonapi(body) if "errors" in body else _plain(body)
    status = response.status_code
    details: dict[str, Any] = {
        "code": str(error.get("code") or f"HTTP_{status}"),
        "status": status,
        "request_id": request_id or response.headers.get("X-Request-Id"),
        "field": error.get("field"),
    }
    message = str(error.get("message") or response.reason_phrase or "error")
    if status == 429:
        return RateLimited(message, retry_after=retry_after(response), **details)
    if status == 503:
        return Unavailable(message, retry_after=retry_after(response), **details)
    return _BY_STATUS.get(status, KeyplaneError)(message, **details)
