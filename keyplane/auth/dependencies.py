"""FastAPI dependencies: the request's database session, and who may call (resolve the
account, authenticate, authorise)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Scope as AsgiScope

from keyplane import ratelimit
from keyplane.accounts.directory import AccountDirectory
from keyplane.auth import authentication
from keyplane.auth.authentication import Refusal
from keyplane.auth.headers import MALFORMED, license_key, presented
from keyplane.auth.network import Network, client_address
from keyplane.auth.principal import AccountRef, Bearer, Principal
from keyplane.auth.scopes import Role, Scope
from keyplane.credentials.engine import CredentialState
from keyplane.db import READ_METHODS
from keyplane.errors import Forbidden, NotFound, Unauthorized
from keyplane.kit import clock
from keyplane.kit.actor import NOWHERE, Origin, whodunnit
from keyplane.licenses.authentication import license_bearer, license_token_bearer
from keyplane.observe import exchange
from keyplane.services import services_of

_READ_ONLY = "__keyplane_read_only__"
F = TypeVar("F", bound=Callable[..., Any])


def read_only(endpoint: F) -> F:
    """Mark an endpoint that writes nothing although its method is unsafe (verification):
    its request gets a read transaction, which on SQLite takes no write lock."""
    setattr(endpoint, _READ_ONLY, True)
    return endpoint


_WRITES = "__keyplane_writes__"


def writes(endpoint: F) -> F:
    """Mark an endpoint that writes although its method is safe (Keygen's ``GET`` check-out
    records ``lastCheckOut`` and its event): its request gets a write transaction."""
    setattr(endpoint, _WRITES, True)
    return endpoint


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    database = services_of(request.app).db
    endpoint = request.scope.get("endpoint")
    writes = (request.method not in READ_METHODS or getattr(endpoint, _WRITES, False)) and not getattr(
        endpoint, _READ_ONLY, False
    )
    factory = database.writer if writes else database.reader
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        # One transaction per request, committed before the response leaves (the
        # dependency is function-scoped for exactly that).
        await session.commit()


DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
"""The request's one session (every dependency of a request shares it, so a request never
holds two pooled connections): a read transaction for safe methods and ``read_only``
endpoints, a write transaction for the rest (on SQLite: BEGIN IMMEDIATE, taking the single
write lock up front)."""


async def current_account(request: Request, session: DbSession) -> AccountRef:
    """The account named in the path (id or slug), or the default one for bare ``/v1``."""
    cached: AccountRef | None = getattr(request.state, "account", None)
    if cached is not None:
        return cached
    directory: AccountDirectory = services_of(request.app).accounts
    ref = request.path_params.get("account")
    account = await (directory.named(session, ref) if ref is not None else directory.default(session))
    if account is None:
        detail = "The requested account was not found" if ref else "No account exists yet"
        raise NotFound(detail, "NOT_FOUND", parameter="account" if ref else None)
    request.state.account = account
    return account


CurrentAccount = Annotated[AccountRef, Depends(current_account)]


def presented_credential(request: Request) -> str | None:
    """The credential from ``Authorization: Bearer`` (or ``Token``) or ``X-API-Key``
    (``keyplane.auth.headers.presented``); an ``Authorization`` header in another form is
    refused."""
    sent = presented(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if sent is MALFORMED:
        raise Unauthorized(
            "The Authorization header must be 'Bearer <credential>'",
            "TOKEN_MISSING",
            header="Authorization",
        )
    return sent


def _origin(
    client: tuple[str, int] | None,
    headers: Sequence[tuple[bytes, bytes]],
    request_id: str,
    proxies: Sequence[Network],
) -> Origin:
    address = client_address({"client": client, "headers": headers}, proxies)
    agent = next((value for name, value in headers if name == b"user-agent"), None)
    return Origin(
        request_id=request_id,
        address=None if address is None else str(address),
        user_agent=None if agent is None else agent.decode("latin-1"),
    )


def origin_in(scope: AsgiScope, proxies: Sequence[Network]) -> Origin:
    """The request an action comes with, as the event log records it: its id, its client's
    address, its ``User-Agent``."""
    return _origin(scope.get("client"), scope["headers"], exchange.request_id(scope), proxies)


def origin_later(scope: AsgiScope, proxies: Sequence[Network]) -> Callable[[], Origin]:
    """``origin_in(scope, proxies)``, built when called: what it is built from is kept as
    the request came (its id now, a fresh one later being another), so that a batched event
    builds it off the request's path."""
    return partial(_origin, scope.get("client"), scope["headers"], exchange.request_id(scope), proxies)


def origin_of(request: Request) -> Origin:
    return origin_in(request.scope, services_of(request.app).trusted_proxies)


async def _credential(request: Request, session: DbSession, account: AccountRef) -> CredentialState:
    """The request's credential, checked (``keyplane.auth.authentication``); any refusal is
    raised as its 401 or 403, and a use past the credential's rate limit as a 429."""
    plaintext = presented_credential(request)
    if plaintext is None:
        raise Unauthorized(
            "An API key or token is required (Authorization: Bearer <key>, or X-API-Key)",
            "TOKEN_MISSING",
        )
    services = services_of(request.app)
    now = clock.now()
    address = client_address(request.scope, services.trusted_proxies)
    state = await authentication.authenticate(
        services.credentials,
        session,
        plaintext,
        account,
        address,
        authentication.NOTHING,
        now,
        refused=lambda state, outcome: services.refused.authentication(state, outcome, origin_of(request)),
    )
    if isinstance(state, Refusal):
        raise state.error()
    await ratelimit.enforce(services.limiter, state)
    services.usage.record(state, now)
    exchange.noted_credential(request.scope, state.id)
    return state


async def authenticate(request: Request, session: DbSession, account: CurrentAccount) -> Principal:
    """A user's credential (product tokens are for the licensing API alone)."""
    state = await _credential(request, session, account)
    if state.user_id is None:
        raise Forbidden(
            "A product or license token can only be used with the licensing API", "TOKEN_NOT_ALLOWED"
        )
    return principal_for(state, account, origin_of(request))


def principal_for(state: CredentialState, account: AccountRef, origin: Origin = NOWHERE) -> Principal:
    """The caller a user's checked credential makes (the lean handlers, which only read, make
    it here too, with no origin)."""
    assert state.user_id is not None
    return Principal(
        account=account,
        user_id=state.user_id,
        role=Role(state.role),
        credential_id=state.id,
        credential_kind=state.kind,
        scopes=state.scopes,
        expires_at=state.expires_at,
        whitelisted_ips=state.whitelisted_ips,
        api_version=state.api_version,
        whodunnit=whodunnit(state.kind, state.id, state.user_id, state.product_id),
        rate_limit=state.rate_limit,
        budget_id=state.budget_id or state.limit_id,
        origin=origin,
    )


Authenticated = Annotated[Principal, Depends(authenticate)]


async def authenticate_bearer(request: Request, session: DbSession, account: CurrentAccount) -> Bearer:
    """Any credential of the account: a user's (any role), a product token, or a license key
    (``Authorization: License``) where its policy allows license authentication."""
    key = license_key(request.headers.get("authorization"))
    if key is not None:
        return await license_bearer(session, account, key, origin_of(request))
    state = await _credential(request, session, account)
    if state.license_id is not None:
        return await license_token_bearer(session, account, state, origin_of(request))
    return Bearer(
        account=account,
        role=Role(state.role),
        user_id=state.user_id,
        product_id=state.product_id,
        credential_id=state.id,
        scopes=state.scopes,
        whodunnit=whodunnit(state.kind, state.id, state.user_id, state.product_id),
        origin=origin_of(request),
    )


LicensingBearer = Annotated[Bearer, Depends(authenticate_bearer)]


def require(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through only callers whose effective scopes include ``scope``."""

    async def check(principal: Authenticated) -> Principal:
        if not principal.has(scope):
            raise Forbidden(
                f"This credential lacks the {scope.value} scope (or its owner's role does)",
                "INSUFFICIENT_SCOPE",
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(require(Scope.READ))]
Creator = Annotated[Principal, Depends(require(Scope.CREATE))]
Updater = Annotated[Principal, Depends(require(Scope.UPDATE))]
Deleter = Annotated[Principal, Depends(require(Scope.DELETE))]


async def optional_bearer(request: Request, session: DbSession, account: CurrentAccount) -> Bearer | None:
    """The caller if it sent any credential (then it must be good), else None."""
    if "authorization" not in request.headers and "x-api-key" not in request.headers:
        return None
    return await authenticate_bearer(request, session, account)
