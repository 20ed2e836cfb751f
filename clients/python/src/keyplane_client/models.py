"""What Keyplane's API-key API answers and takes, as typed models.

Python names in snake_case, the wire's camelCase as aliases. Answers ignore fields this
version does not know (a newer server adds some); requests refuse unknown ones, as the
server does. A test in Keyplane's repository checks each alias and type against the
server's ``/openapi.json`` so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Scope = Literal["READ", "CREATE", "UPDATE", "DELETE", "MANAGE"]
"""What a key may do: every call needs one (MANAGE: users, other users' keys, settings)."""

Status = Literal["active", "inactive"]
"""A key's status: ``inactive`` keys (deactivated, or deleted for good) verify as refused."""


class _Answer(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class _Request(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class RateLimit(_Answer):
    """A key's budget: at most ``limit`` requests per ``duration`` seconds."""

    limit: int
    duration: int


class RateLimitStatus(_Answer):
    """A rate-limited key's budget in the current window, as a verification saw it."""

    limit: int
    remaining: int
    reset: int
    """When the window ends, in UTC epoch seconds."""


class ApiKey(_Answer):
    """An API key as Keyplane lists it: never the secret, only its ``start`` preview."""

    id: str
    name: str | None
    description: str | None
    scopes: list[str]
    owner_id: str = Field(alias="userId")
    account_id: str = Field(alias="organizationId")
    start: str
    """A short, non-secret preview of the key (brand and first characters)."""
    whitelisted_ips: list[str] | None = Field(alias="whitelistedIPs")
    rate_limit: RateLimit | None = Field(alias="rateLimit")
    status: str
    api_version: str | None = Field(alias="apiVersion")
    expires_at: datetime | None = Field(alias="expiresAt")
    last_used_at: datetime | None = Field(alias="lastUsedAt")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    deleted_at: datetime | None = Field(alias="deletedAt")


class CreatedApiKey(ApiKey):
    """A new key, with its secret ``key``: Keyplane shows it in this answer only. It is left
    out of the model's ``repr`` so that logging the object does not log the secret."""

    key: str = Field(repr=False)


class ApiKeyPage(_Answer):
    """One page of ``GET /v1/api-keys``; the client's ``list`` follows ``next_url``."""

    total: int
    count: int
    next_url: str | None = Field(alias="nextUrl")
    previous_url: str | None = Field(alias="previousUrl")
    data: list[ApiKey]


class Verification(_Answer):
    """A key checked with ``verify``: ``valid``, and ``code`` saying why (``VALID``,
    ``NOT_FOUND``, ``MALFORMED``, ``REVOKED``, ``INACTIVE``, ``EXPIRED``, ``IP_NOT_ALLOWED``,
    ``INSUFFICIENT_SCOPE``, ``RATE_LIMITED``). The key's details come with a known key."""

    valid: bool
    code: str
    detail: str
    key_id: str | None = Field(default=None, alias="keyId")
    name: str | None = None
    owner_id: str | None = Field(default=None, alias="userId")
    account_id: str | None = Field(default=None, alias="organizationId")
    scopes: list[str] = []
    expires_at: datetime | None = Field(default=None, alias="expiresAt")
    api_version: str | None = Field(default=None, alias="apiVersion")
    rate_limit: RateLimitStatus | None = Field(default=None, alias="rateLimit")


class RateLimitIn(_Request):
    limit: int
    duration: int


class VerifyBody(_Request):
    key: str
    ip: str | None = None
    scopes: list[Scope] | None = None


class ApiKeyCreateBody(_Request):
    name: str | None = None
    scopes: list[Scope] | None = None
    owner_id: str | None = Field(default=None, alias="userId")
    description: str | None = None
    whitelisted_ips: list[str] | None = Field(default=None, alias="whitelistedIPs")
    api_version: str | None = Field(default=None, alias="apiVersion")
    expires_at: datetime | None = Field(default=None, alias="expiresAt")
    rate_limit: RateLimitIn | None = Field(default=None, alias="rateLimit")


class ApiKeyUpdateBody(_Request):
    """Only the fields set are sent: an unset field stays as it is, ``None`` clears it."""

    name: str | None = None
    description: str | None = None
    scopes: list[Scope] | None = None
    whitelisted_ips: list[str] | None = Field(default=None, alias="whitelistedIPs")
    api_version: str | None = Field(default=None, alias="apiVersion")
    status: Status | None = None
    rate_limit: RateLimitIn | None = Field(default=None, alias="rateLimit")
