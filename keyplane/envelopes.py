"""The error bodies of each API dialect, as models: what ``keyplane.error_handlers.render`` writes,
published in the contract (``/openapi.json``). Each lists every member and refuses others,
so validating a real error against it catches a renderer and its model that differ."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import SkipJsonSchema


class PlainErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    field: str | None


class PlainErrorBody(PlainErrorDetail):
    details: list[PlainErrorDetail] | SkipJsonSchema[None] = None
    """Every error, when there is more than one (the first is the headline)."""


class PlainError(BaseModel):
    """An error on the API-key surface and the operations endpoints."""

    model_config = ConfigDict(extra="forbid")

    status: int
    error: PlainErrorBody
    requestId: str
    """The request's id (also in ``X-Request-Id`` and the server's log lines)."""


class JsonApiErrorSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pointer: str | SkipJsonSchema[None] = None
    parameter: str | SkipJsonSchema[None] = None
    header: str | SkipJsonSchema[None] = None


class JsonApiErrorObject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    detail: str
    code: str
    source: JsonApiErrorSource | SkipJsonSchema[None] = None
    """What was wrong: a JSON pointer into the body, a query parameter or a header."""


class JsonApiRequestMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    """The request's id (also in ``X-Request-Id`` and the server's log lines)."""


class JsonApiErrors(BaseModel):
    """An error on the licensing API (Keygen's envelope)."""

    model_config = ConfigDict(extra="forbid")

    meta: JsonApiRequestMeta
    errors: list[JsonApiErrorObject]


class OAuthError(BaseModel):
    """An error of ``/oauth/token`` (RFC 6749 §5.2)."""

    model_config = ConfigDict(extra="forbid")

    error: str
    """``invalid_request``, ``invalid_client``, ``invalid_scope``, ``unsupported_grant_type``,
    ``rate_limited`` or ``temporarily_unavailable``."""
    error_description: str


ENVELOPES: dict[str, type[BaseModel]] = {"plain": PlainError, "jsonapi": JsonApiErrors, "oauth": OAuthError}
"""The model of each dialect's error body."""
