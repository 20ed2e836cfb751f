"""A FastAPI (or Starlette-routed FastAPI) guard: ``require_key(scopes=[...])``, a dependency
that verifies the key each request presents with Keyplane and hands the handler the
verification. Install with ``pip install 'keyplane-client[fastapi]'``.

    from typing import Annotated
    from fastapi import Depends, FastAPI
    from keyplane_client import Verification
    from keyplane_client.fastapi import require_key

    app = FastAPI()
    Reader = Annotated[Verification, Depends(require_key(scopes=["READ"]))]

    @app.get("/reports")
    async def reports(key: Reader) -> dict[str, str | None]:
        return {"owner": key.owner_id}

Refusals (``{"detail": {"code", "message"}}``): 401 for a missing key (``KEY_MISSING``) and
for ``MALFORMED``, ``NOT_FOUND``, ``REVOKED``, ``INACTIVE``, ``EXPIRED``; 403 for
``IP_NOT_ALLOWED`` and ``INSUFFICIENT_SCOPE``; 429 with ``Retry-After`` for ``RATE_LIMITED``;
503 with ``Retry-After`` when Keyplane cannot be reached (``KEYPLANE_UNAVAILABLE``) and 503
when it refuses the guard's own API key (``KEYPLANE_REFUSED``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from keyplane_client.aio import AsyncKeyplane
from keyplane_client.guard import (
    AsyncGuard,
    Clock,
    Refusal,
    cache_for,
    client_ip,
    presented_key,
    settings_from_env,
)
from keyplane_client.models import Scope, Verification

# Declared so that the app's OpenAPI document (and its Swagger UI's "Authorize") shows both
# ways to send a key; the guard reads the headers itself, with the rule both guards share.
_bearer = HTTPBearer(auto_error=False, scheme_name="bearerAuth", description="An API key as a bearer token")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKeyHeader")


@functools.cache
def default_client() -> AsyncKeyplane:
    """The process's client of the Keyplane named by ``KEYPLANE_URL`` and ``KEYPLANE_API_KEY``,
    made at the first ``require_key`` without a client and shared by every such guard."""
    url, api_key = settings_from_env()
    return AsyncKeyplane(url, api_key)


def refused(refusal: Refusal) -> HTTPException:
    headers = {}
    if refusal.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if refusal.retry_after is not None:
        headers["Retry-After"] = str(refusal.retry_after)
    return HTTPException(refusal.status, detail=refusal.body()["detail"], headers=headers or None)


def require_key(
    scopes: Sequence[Scope] = (),
    *,
    client: AsyncKeyplane | None = None,
    fail_open: bool = False,
    cache_ttl: float = 0,
    clock: Clock = time.monotonic,
) -> Callable[..., Awaitable[Verification]]:
    """A dependency that lets a request through only with a key Keyplane verifies for
    ``scopes`` from the request's address (``request.client.host``), and gives the handler
    that ``Verification``.

    ``client``: the ``AsyncKeyplane`` to verify with (its timeout and retries apply); by
    default one made from ``KEYPLANE_URL`` and ``KEYPLANE_API_KEY`` (a ValueError now if
    either is unset), shared by every guard of the process.

    ``fail_open``: when Keyplane cannot be reached (connection failed, timed out, or 503
    after the client's retries), let the request through with a verification whose ``code``
    is ``UNVERIFIED`` (``valid`` false, no key details) instead of answering 503. Dangerous:
    during an outage any string passes as a key, revoked keys included; the handler must
    check ``code`` itself. A guard's own key that Keyplane refuses never fails open.

    ``cache_ttl``: seconds (more than 0, at most 1.0; else ValueError) to reuse a valid
    verification of the same key, address and scopes without asking Keyplane. A revoked or
    deactivated key then still passes for up to that long, and cached uses are not counted
    as the key's uses (a rate-limited key is never cached). 0, the default, caches nothing.
    ``clock``: the cache's monotonic clock, for tests.
    """
    guard = AsyncGuard(
        client if client is not None else default_client(),
        fail_open=fail_open,
        cache=cache_for(cache_ttl, clock),
    )
    wanted = tuple(scopes)

    async def verified(
        request: Request,
        _bearer_key: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        _header_key: Annotated[str | None, Depends(_header)],
    ) -> Verification:
        headers = request.headers
        key = presented_key(headers.get("Authorization"), headers.get("X-API-Key"))
        address = None if request.client is None else client_ip(request.client.host)
        outcome = await guard.check(key, address, wanted)
        if isinstance(outcome, Refusal):
            raise refused(outcome)
        return outcome

    return verified
