"""Request and response shapes of the API-key management API (plain JSON, camelCase).

Input also takes the names seed 002 uses (``key_name``, ``key_scope``,
``organization_id``); unknown fields are refused so a typo never passes silently.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from keyplane import examples as example
from keyplane.auth.network import parse_network
from keyplane.auth.scopes import Scope
from keyplane.credentials import versions
from keyplane.kit.instants import Instant
from keyplane.kit.query import Items, Param, Sort, Spec, last, refuse, sort, spec
from keyplane.kit.schemas import StrictInput
from keyplane.kit.timefmt import Timestamp
from keyplane.models.credential import CredentialStatus

Description = Annotated[str, Field(min_length=1, max_length=200)]
Name = Annotated[str, Field(min_length=1, max_length=255)]


def _scopes(value: Any) -> Any:
    # Seed 002 documents key_scope as an array but shows "READ,CREATE,..."; take both.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _networks(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    normalised = []
    for entry in value:
        try:
            normalised.append(str(parse_network(entry)))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IPv4/IPv6 address or CIDR block") from None
    return sorted(set(normalised), key=normalised.index)


def _version(value: str | None) -> str | None:
    if value is None:
        return None
    if not versions.is_date(value):
        raise ValueError("must be a date in the form YYYY-MM-DD")
    if value not in versions.KNOWN:
        known = ", ".join(sorted(versions.KNOWN))
        raise ValueError(f"{value} is not an API version this server knows ({known})")
    return value


class RateLimitIn(StrictInput):
    limit: Annotated[int, Field(strict=True, ge=1, le=1_000_000_000)]
    """Requests allowed in each window."""
    duration: Annotated[int, Field(strict=True, ge=1, le=86_400)]
    """The window's length in seconds (windows are aligned to the epoch)."""


class ApiKeyCreate(StrictInput):
    model_config = ConfigDict(json_schema_extra=example.of(example.API_KEY_CREATE))

    name: Name | None = Field(default=None, validation_alias=AliasChoices("name", "key_name"))
    scopes: list[Scope] | None = Field(default=None, validation_alias=AliasChoices("scopes", "key_scope"))
    user_id: uuid.UUID | None = Field(default=None, validation_alias=AliasChoices("userId", "user_id"))
    organization_id: str | int | None = Field(
        default=None, validation_alias=AliasChoices("organizationId", "organization_id", "companyId")
    )
    whitelisted_ips: list[str] | None = Field(
        default=None, validation_alias=AliasChoices("whitelistedIPs", "whitelisted_ips")
    )
    description: Description | None = None
    api_version: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = Field(
        default=None, validation_alias=AliasChoices("apiVersion", "api_version")
    )
    expires_at: Instant | None = Field(default=None, validation_alias=AliasChoices("expiresAt", "expires_at"))
    rate_limit: RateLimitIn | None = Field(
        default=None, validation_alias=AliasChoices("rateLimit", "rate_limit")
    )

    _split_scopes = field_validator("scopes", mode="before")(_scopes)
    _check_networks = field_validator("whitelisted_ips")(_networks)
    _check_version = field_validator("api_version")(_version)


class ApiKeyUpdate(StrictInput):
    """PUT and PATCH alike: only the fields sent change; ``null`` clears a nullable one."""

    name: Name | None = None
    description: Description | None = None
    scopes: list[Scope] | None = None
    whitelisted_ips: list[str] | None = Field(
        default=None, validation_alias=AliasChoices("whitelistedIPs", "whitelisted_ips")
    )
    api_version: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = Field(
        default=None, validation_alias=AliasChoices("apiVersion", "api_version")
    )
    status: CredentialStatus | None = None
    rate_limit: RateLimitIn | None = Field(
        default=None, validation_alias=AliasChoices("rateLimit", "rate_limit")
    )
    """``null`` removes the limit. Any change needs the MANAGE scope."""

    _split_scopes = field_validator("scopes", mode="before")(_scopes)
    _check_networks = field_validator("whitelisted_ips")(_networks)
    _check_version = field_validator("api_version")(_version)


class VerifyRequest(StrictInput):
    model_config = ConfigDict(json_schema_extra=example.of(example.VERIFY))

    key: Annotated[str, Field(min_length=1, max_length=512)]
    ip: str | None = None
    scopes: list[Scope] | None = None

    _split_scopes = field_validator("scopes", mode="before")(_scopes)


class RateLimitOut(BaseModel):
    limit: int
    duration: int


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str | None
    description: str | None
    scopes: list[Scope]
    userId: uuid.UUID
    organizationId: uuid.UUID
    companyId: uuid.UUID
    """The same account as ``organizationId``, under seed 003's name."""
    start: str
    """A short, non-secret preview of the key (brand and first characters)."""
    whitelistedIPs: list[str] | None
    rateLimit: RateLimitOut | None
    """At most ``limit`` requests per ``duration`` seconds; null for no limit."""
    status: CredentialStatus
    apiVersion: str | None
    apiVersionUpdatedAt: Timestamp | None
    apiVersionDowngradeNotAllowedAfter: Timestamp | None
    expiresAt: Timestamp | None
    lastUsedAt: Timestamp | None
    createdAt: Timestamp
    updatedAt: Timestamp
    deletedAt: Timestamp | None


class ApiKeyCreated(ApiKeyOut):
    model_config = ConfigDict(json_schema_extra=example.of(example.API_KEY_CREATED))

    key: str
    """The full key. It appears in this response only; Keyplane keeps just a keyed hash."""


class ApiKeyList(BaseModel):
    model_config = ConfigDict(json_schema_extra=example.of(example.API_KEY_LIST))

    status: int
    total: int
    count: int
    nextUrl: str | None
    previousUrl: str | None
    data: list[ApiKeyOut]


class RateLimitStatus(BaseModel):
    limit: int
    remaining: int
    reset: int
    """When the current window ends, in UTC epoch seconds."""


class VerifyResult(BaseModel):
    model_config = ConfigDict(json_schema_extra=example.of(example.VERIFIED))

    valid: bool
    code: str
    detail: str
    keyId: uuid.UUID | None = None
    kind: str | None = None
    name: str | None = None
    userId: uuid.UUID | None = None
    organizationId: uuid.UUID | None = None
    scopes: list[Scope] = []
    expiresAt: Timestamp | None = None
    apiVersion: str | None = None
    rateLimit: RateLimitStatus | None = None
    """The key's budget in the current window, when the key has a rate limit."""


class ApiVersionOut(BaseModel):
    version: str
    summary: str


class ApiVersionList(BaseModel):
    current: str
    data: list[ApiVersionOut]


# -- the list's query --------------------------------------------------------------------------

SORTS = ("createdAt", "lastUsedAt")
"""What ``GET /api-keys`` sorts by (``-`` in front: descending); ties go by id."""

API_KEY_LIST: Spec = spec(
    Param("status", "active (the default) or inactive: deactivated or deleted keys"),
    Param("limit", "How many keys (1 to 100, default 25)"),
    Param("offset", "How many keys to skip (default 0)"),
    Param("startingAfter", "The page after this key id (nextUrl carries it)"),
    Param("endingBefore", "The page before this key id (previousUrl carries it)"),
    Param("name", "Only keys whose name contains this, in any case"),
    Param("userId", "Only this user's keys"),
    Param("sort", "createdAt, -createdAt, lastUsedAt or -lastUsedAt (default: newest first)"),
)


@dataclass(frozen=True, slots=True)
class ApiKeyQuery:
    """What a ``GET /api-keys`` asks for, parsed."""

    status: CredentialStatus = CredentialStatus.ACTIVE
    limit: int = 25
    offset: int = 0
    starting_after: uuid.UUID | None = None
    ending_before: uuid.UUID | None = None
    name: str | None = None
    user_id: uuid.UUID | None = None
    sort: Sort | None = None
    search: str | None = None
    """A part of the name, of the owner's email or of the ``start`` preview, in any case (the
    console's search box; the API's list takes ``name`` and ``userId`` instead)."""


def _code(name: str) -> str:
    """The API-key surface's code for a bad value: ``userId`` -> ``USER_ID_INVALID``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper() + "_INVALID"


def _count(items: Items, name: str, low: int, high: int | None, default: int) -> int:
    value = last(items, name)
    if value is None:
        return default
    number = int(value) if value.isascii() and value.isdigit() and len(value) <= 4000 else low - 1
    if number < low or (high is not None and number > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise refuse(name, f"must be a whole number {bounds}", _code(name))
    return number


def _id(items: Items, name: str, what: str) -> uuid.UUID | None:
    value = last(items, name)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise refuse(name, f"{name} must be {what}", _code(name)) from None


def api_key_query(items: Items) -> ApiKeyQuery:
    API_KEY_LIST.refuse_unknown(items)
    try:
        status = CredentialStatus(last(items, "status") or CredentialStatus.ACTIVE)
    except ValueError:
        raise refuse("status", "must be active or inactive", _code("status")) from None
    name = last(items, "name")
    if name is not None and not 1 <= len(name) <= 255:
        raise refuse("name", "must be 1 to 255 characters", _code("name"))
    given = last(items, "sort")
    return ApiKeyQuery(
        status=status,
        limit=_count(items, "limit", 1, 100, 25),
        offset=_count(items, "offset", 0, None, 0),
        starting_after=_id(items, "startingAfter", "an API key id"),
        ending_before=_id(items, "endingBefore", "an API key id"),
        name=name,
        user_id=_id(items, "userId", "a user id"),
        sort=None if given is None else sort(given, SORTS, "sort", _code("sort")),
    )


API_KEY_HISTORY: Spec = spec(Param("limit", "How many events (1 to 100, default 50), newest first"))


def history_limit(items: Items) -> int:
    """The ``limit`` of a ``GET /api-keys/{id}/events``."""
    API_KEY_HISTORY.refuse_unknown(items)
    return _count(items, "limit", 1, 100, 50)
