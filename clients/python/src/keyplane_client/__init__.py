"""Keyplane's Python client: verify and manage API keys, with ``Keyplane`` (sync) or
``AsyncKeyplane`` (async), which take the same arguments and offer the same calls."""

from keyplane_client._api_keys import UNSET
from keyplane_client._calls import Retries
from keyplane_client.aio import AsyncApiKeys, AsyncKeyplane
from keyplane_client.client import ApiKeys, Keyplane
from keyplane_client.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    KeyplaneError,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    Unprocessable,
    Unreachable,
)
from keyplane_client.models import (
    ApiKey,
    ApiKeyPage,
    CreatedApiKey,
    RateLimit,
    RateLimitStatus,
    Scope,
    Status,
    Verification,
)

__all__ = [
    "UNSET",
    "ApiKey",
    "ApiKeyPage",
    "ApiKeys",
    "AsyncApiKeys",
    "AsyncKeyplane",
    "BadRequest",
    "Conflict",
    "CreatedApiKey",
    "Forbidden",
    "Keyplane",
    "KeyplaneError",
    "NotFound",
    "RateLimit",
    "RateLimitStatus",
    "RateLimited",
    "Retries",
    "Scope",
    "Status",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
    "Unreachable",
    "Verification",
]
