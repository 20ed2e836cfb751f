"""Typed errors that carry their status, code and source.

Services raise ``AppError`` subclasses; ``keyplane.error_handlers`` renders them, one
renderer per API dialect, and nothing else decides how an error looks. The
licensing surface answers in JSON:API's envelope, the API-key surface in plain JSON; which
one a request gets depends on the route family, so a 401 from the shared credential check
still matches the envelope of the API that was called.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Access denied",
    404: "Not found",
    405: "Not supported",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable entity",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


ENCODING_DETAIL = (
    "The request could not be completed because it contains an invalid byte sequence (check encoding)"
)
"""Keygen's wording for text that is not UTF-8 (``ENCODING_INVALID``)."""


def generic_code(status: int) -> str:
    """The code of an error nothing more specific describes: its status's title
    (``UNSUPPORTED_MEDIA_TYPE``)."""
    return TITLES.get(status, "Error").upper().replace(" ", "_")


@dataclass(frozen=True, slots=True)
class ErrorItem:
    detail: str
    code: str
    """Every refusal names its kind: clients branch on the code, never on the wording."""
    pointer: str | None = None
    parameter: str | None = None
    header: str | None = None
    title: str | None = None


class AppError(Exception):
    """An error a client caused; rendered as ``status`` with its code and source."""

    status: ClassVar[int] = 400
    default_title: ClassVar[str | None] = None

    def __init__(
        self,
        detail: str,
        code: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        header: str | None = None,
        headers: dict[str, str] | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.title = title or self.default_title
        self.detail = detail
        self.code = code
        self.source = (pointer, parameter, header)
        self.headers = headers or {}

    def items(self) -> list[ErrorItem]:
        return [ErrorItem(self.detail, self.code, *self.source, title=self.title)]


class BadRequest(AppError):
    status = 400


class Unauthorized(AppError):
    status = 401


class Forbidden(AppError):
    status = 403


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    status = 409


class Unprocessable(AppError):
    status = 422


class TooManyRequests(AppError):
    """A credential's rate limit is spent; ``Retry-After`` and ``X-RateLimit-*`` say until when."""

    status = 429


class InvalidResource(Unprocessable):
    """A record that breaks a rule of its model (Keygen titles these differently from other
    422s): ``KEY_TAKEN``, ``POLICY_POOL_EMPTY``, ..."""

    default_title = "Unprocessable resource"


class InvalidResources(InvalidResource):
    """Several broken rules of one request, each with its own source (Keygen lists each,
    e.g. every duplicated component of a machine)."""

    def __init__(self, errors: list[InvalidResource]) -> None:
        first = errors[0]
        super().__init__(first.detail, first.code, pointer=first.source[0])
        self.errors = errors

    def items(self) -> list[ErrorItem]:
        return [item for error in self.errors for item in error.items()]


def upper_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("-", "_").upper()
