"""The API-key API's calls, built once for both clients."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx

from keyplane_client._calls import Call, body, model, nothing
from keyplane_client.models import (
    ApiKey,
    ApiKeyCreateBody,
    ApiKeyPage,
    ApiKeyUpdateBody,
    CreatedApiKey,
    RateLimit,
    RateLimitIn,
    Scope,
    Status,
    Verification,
    VerifyBody,
)

PATH = "/v1/api-keys"


class Unset(enum.Enum):
    UNSET = "UNSET"


UNSET: Literal[Unset.UNSET] = Unset.UNSET
"""An ``update`` argument not given: the field stays as it is (``None`` clears it)."""


def _limit(rate_limit: RateLimit | None) -> RateLimitIn | None:
    return None if rate_limit is None else RateLimitIn(limit=rate_limit.limit, duration=rate_limit.duration)


def _key_path(key_id: str) -> str:
    return f"{PATH}/{quote(key_id, safe='')}"


def verify(key: str, ip: str | None, scopes: Sequence[Scope] | None) -> Call[Verification]:
    request = VerifyBody(key=key, ip=ip, scopes=None if scopes is None else list(scopes))
    # A verification changes nothing but a use count: safe to send again.
    return Call("POST", f"{PATH}/verify", model(Verification), body=body(request), safe=True)


def create(
    *,
    name: str | None = None,
    scopes: Sequence[Scope] | None = None,
    owner_id: str | None = None,
    description: str | None = None,
    whitelisted_ips: Sequence[str] | None = None,
    api_version: str | None = None,
    expires_at: datetime | None = None,
    rate_limit: RateLimit | None = None,
) -> Call[CreatedApiKey]:
    given = {
        "name": name,
        "scopes": None if scopes is None else list(scopes),
        "owner_id": owner_id,
        "description": description,
        "whitelisted_ips": None if whitelisted_ips is None else list(whitelisted_ips),
        "api_version": api_version,
        "expires_at": expires_at,
        "rate_limit": _limit(rate_limit),
    }
    request = ApiKeyCreateBody(**{field: value for field, value in given.items() if value is not None})
    return Call("POST", PATH, model(CreatedApiKey), body=body(request))


def get(key_id: str) -> Call[ApiKey]:
    return Call("GET", _key_path(key_id), model(ApiKey), safe=True)


def update(key_id: str, changes: dict[str, Any]) -> Call[ApiKey]:
    """``changes``: the ``update`` arguments given (``UNSET`` ones left out by the caller)."""
    if "rate_limit" in changes:
        changes = {**changes, "rate_limit": _limit(changes["rate_limit"])}
    if "scopes" in changes and changes["scopes"] is not None:
        changes = {**changes, "scopes": list(changes["scopes"])}
    if "whitelisted_ips" in changes and changes["whitelisted_ips"] is not None:
        changes = {**changes, "whitelisted_ips": list(changes["whitelisted_ips"])}
    return Call("PATCH", _key_path(key_id), model(ApiKey), body=body(ApiKeyUpdateBody(**changes)))


def delete(key_id: str) -> Call[None]:
    return Call("DELETE", _key_path(key_id), nothing, safe=True)


def first_page(
    *, status: Status | None, name: str | None, owner_id: str | None, page_size: int
) -> Call[ApiKeyPage]:
    params = {"limit": str(page_size)}
    if status is not None:
        params["status"] = status
    if name is not None:
        params["name"] = name
    if owner_id is not None:
        params["userId"] = owner_id
    return Call("GET", PATH, model(ApiKeyPage), params=params, safe=True)


def next_page(page: ApiKeyPage) -> Call[ApiKeyPage] | None:
    """The page after ``page``: its ``nextUrl``'s query on this client's own base URL (the
    server's idea of its own address may differ from the one the client reaches it at)."""
    if page.next_url is None:
        return None
    params = dict(httpx.URL(page.next_url).params)
    return Call("GET", PATH, model(ApiKeyPage), params=params, safe=True)


def changes(**arguments: Any) -> dict[str, Any]:
    """The ``update`` arguments that were given."""
    return {name: value for name, value in arguments.items() if value is not UNSET}
