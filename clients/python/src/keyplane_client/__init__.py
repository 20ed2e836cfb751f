"""Keyplane's Python client: verify and manage API keys, licenses, pools, users, and read the
event log, with ``Keyplane`` (sync) or ``AsyncKeyplane`` (async), which take the same
arguments and offer the same calls."""

from keyplane_client._api_keys import UNSET
from keyplane_client._calls import Retries
from keyplane_client.aio import AsyncApiKeys, AsyncKeyplane
from keyplane_client.aio_resources import AsyncEvents, AsyncLicenses, AsyncPool, AsyncUsers
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
from keyplane_client.licensing import (
    Event,
    ImportReport,
    License,
    LicenseStatus,
    PoolKey,
    Refused,
    User,
    UserRole,
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
from keyplane_client.resources import Events, Licenses, Pool, Users

__all__ = [
    "UNSET",
    "ApiKey",
    "ApiKeyPage",
    "ApiKeys",
    "AsyncApiKeys",
    "AsyncEvents",
    "AsyncKeyplane",
    "AsyncLicenses",
    "AsyncPool",
    "AsyncUsers",
    "BadRequest",
    "Conflict",
    "CreatedApiKey",
    "Event",
    "Events",
    "Forbidden",
    "ImportReport",
    "Keyplane",
    "KeyplaneError",
    "License",
    "LicenseStatus",
    "Licenses",
    "NotFound",
    "Pool",
    "PoolKey",
    "RateLimit",
    "RateLimitStatus",
    "RateLimited",
    "Refused",
    "Retries",
    "Scope",
    "Status",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
    "Unreachable",
    "User",
    "UserRole",
    "Users",
    "Verification",
]
