"""Lean handlers for the hottest routes, in front of the framework.

``POST /api-keys/verify``, ``GET /api-keys/{id}`` and ``POST /licenses/actions/validate-key``
(bare and under ``/v1/accounts/{account}``) run on every request of a vendor's backend and
on every start of every customer's app. FastAPI's routing, dependency injection and
validation cost several times what the work itself costs, so these routes are answered
here when everything they need is already in memory: the account, the caller's verified
credential, the key or license asked about.

A lean handler answers only the ordinary case and hands every other request, untouched
(its body replayed), to the full application: anything unusual in the headers, a body the
schema refuses, a credential that is refused or not cached yet, a record not cached yet,
a write that must happen now. The full application fills the caches as it answers, so
the next such request is lean. Both paths call the same functions for the rules, the
result and its rendering, and a test compares their answers byte for byte: the API, its
OpenAPI description and its errors are the same whichever path answers.

A route's commonest case may also be answered from memory, synchronously (``FromMemory``):
under ``keyplane serve`` the protocol asks for that answer as soon as the request's body is
in, and writes it without starting an ASGI task (``keyplane.serving``,
``keyplane.app.Keyplane.answer_at_once``); through any other server the same function
answers inside ``HotPaths.__call__``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from keyplane import outages, ratelimit
from keyplane.auth.headers import MALFORMED, presented
from keyplane.auth.network import client_address
from keyplane.auth.principal import AccountRef, Principal
from keyplane.auth.scopes import Scope as Power
from keyplane.credentials import versions
from keyplane.credentials.authentication import Refusal, authenticate
from keyplane.credentials.engine import CredentialState
from keyplane.error_handlers import error_response, outage_response
from keyplane.errors import AppError
from keyplane.kit import clock
from keyplane.kit.families import is_signed, split
from keyplane.kit.memo import Memo
from keyplane.kit.nul import ESCAPED as ESCAPED_NUL
from keyplane.observe import exchange
from keyplane.observe.observer import route_of
from keyplane.services import Services
from keyplane.serving import Answer
from keyplane.signing import signed
from keyplane.web.dependencies import principal_for

log = logging.getLogger("keyplane.hot")

Handler = Callable[["Services", Scope, AccountRef, list[str], bytes, Send], Awaitable[bool]]
"""Answers the request (True) or leaves it, untouched, to the full application (False)."""
FromMemory = Callable[["Services", Scope, AccountRef, bytes], Answer | None]
"""A route's commonest case answered from memory without awaiting anything, or None for the
route's ``Handler`` to answer."""

JSON_TYPE = b"application/json"
VERSION_REQUESTED = versions.VERSION_HEADER.lower().encode()
"""The request header naming an API version, as ASGI spells header names."""
PLAIN_ACCEPT = frozenset({b"", b"*/*", JSON_TYPE, b"application/*"})
"""``Accept`` values plain JSON satisfies without parsing."""


LEAN_BODY_BYTES = 65_536
"""Most of a body a lean handler reads: its routes take a few hundred bytes. Past it, the
application reads the rest, under its own cap (``keyplane.kit.bodies``)."""


async def _small_body(message: Message, receive: Receive) -> bytes | Receive:
    """The whole body, from ``message`` on, if it ends within ``LEAN_BODY_BYTES``; else the
    ``receive`` that gives the application what was read and then the rest."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] != "http.request":
            return replay_message(message, receive)
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
        if size > LEAN_BODY_BYTES:
            read = {"type": "http.request", "body": b"".join(chunks), "more_body": True}
            return replay_message(read, receive)
        message = await receive()


def replay_message(message: Message, receive: Receive) -> Receive:
    """``receive`` that gives ``message`` first, then the real channel's."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return message
        return await receive()

    return replayed


def replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the full application: the body already read, then the real channel."""
    return replay_message({"type": "http.request", "body": body, "more_body": False}, receive)


class _Clock:
    """The ``Date`` header, formatted once a second."""

    second = -1
    value = b""

    @classmethod
    def date(cls) -> bytes:
        now = int(time.time())
        if now != cls.second:
            cls.value = formatdate(now, usegmt=True).encode()
            cls.second = now
        return cls.value


date_header = _Clock.date
"""The ``Date`` header's value now."""


async def answer(
    send: Send,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    first: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """Send the answer with its headers in the order the framework's response has them:
    the route's own (``first``), ``Content-Length``, then ``headers``."""
    headers = [*first, (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
"""The encoder ``json.dumps`` makes anew on every call with Starlette's arguments."""


def render_json(content: Any) -> bytes:
    """Exactly as Starlette's ``JSONResponse`` renders (``json.dumps`` with its arguments)."""
    return _JSON.encode(content).encode()


@dataclass(frozen=True, slots=True)
class Caller:
    state: CredentialState
    principal: Principal


def headers_of(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def presented_in(headers: dict[bytes, bytes]) -> str | None:
    """The credential the request presents (``keyplane.auth.headers.presented``), or None
    when it presents none or a malformed one (the full application refuses it)."""
    sent = presented(_text(headers.get(b"authorization")), _text(headers.get(b"x-api-key")))
    return None if sent is MALFORMED else sent


async def authenticated(
    services: Services,
    scope: Scope,
    headers: dict[bytes, bytes],
    account: AccountRef,
    needs: frozenset[Power],
    session: AsyncSession,
) -> Caller | None:
    """The request's user credential when it is valid here and holds ``needs`` (read through
    the cache; ``session`` opens only on a miss), else None: the full application refuses it."""
    plaintext = presented_in(headers)
    if plaintext is None:
        return None
    address = client_address(scope, services.trusted_proxies)
    state = await authenticate(services.credentials, session, plaintext, account, address, needs, clock.now())
    if isinstance(state, Refusal) or state.user_id is None:
        return None
    exchange.noted_credential(scope, state.id)
    return Caller(state, principal_of(state, account))


def principal_of(state: CredentialState, account: AccountRef) -> Principal:
    """The ``Principal`` the full application would make of this credential (kept per state)."""
    memo = _PRINCIPALS.get(state.id)
    if memo is not None and memo[0] is state and memo[1] is account:
        return memo[2]
    principal = principal_for(state, account)
    _PRINCIPALS.put(state.id, (state, account, principal))
    return principal


_PRINCIPALS: Memo[uuid.UUID, tuple[CredentialState, AccountRef, Principal]] = Memo("principals", 10_000)


async def charge_or_refuse(services: Services, scope: Scope, state: CredentialState, send: Send) -> bool:
    """Count the request against its credential's rate limit; past it, answer the route's
    429 here (the request is counted once, whichever path answers) and return False."""
    if not state.budgets:
        return True
    try:
        await ratelimit.enforce(services.limiter, state)
    except AppError as refused:
        await refuse(scope, refused, send)
        return False
    return True


async def refuse(scope: Scope, refused: AppError, send: Send) -> None:
    """Answer ``refused`` as the route's error handler would (its envelope, its headers)."""
    response = error_response(Request(scope), refused)
    response.headers["date"] = date_header().decode()
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def negotiated_version(headers: dict[bytes, bytes], state: CredentialState) -> str | None:
    asked = headers.get(VERSION_REQUESTED)
    return versions.serving(None if asked is None else asked.decode("latin-1"), state.api_version)


def plain_request(scope: Scope, headers: dict[bytes, bytes], *, body: bool) -> bool:
    """No query, an Accept that plain JSON satisfies, and (with a body) a JSON content type."""
    if scope.get("query_string"):
        return False
    accept = headers.get(b"accept", b"")
    if accept not in PLAIN_ACCEPT:
        return False
    if body:
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if content_type != JSON_TYPE:
            return False
    return True


_EXACT_PATHS = 4096
"""Bound on remembered exact paths: a few hot routes times the accounts in use."""


class _Matched(NamedTuple):
    """A request's path that a lean handler serves, its account not yet looked up."""

    ref: str | None
    rest: list[str]
    name: tuple[str, ...]
    handler: Handler
    variable: bool
    """Whether the path has a variable part (an id): such paths are not remembered."""


class Route(NamedTuple):
    """A lean route found for a request: its handlers, the account and the rest of its path."""

    handler: Handler
    from_memory: FromMemory | None
    account: AccountRef
    rest: list[str]


class HotPaths:
    """Dispatches the few lean routes; everything else goes straight to the application."""

    def __init__(
        self, handlers: dict[tuple[str, ...], Handler], from_memory: dict[tuple[str, ...], FromMemory]
    ) -> None:
        self._handlers = handlers
        self._from_memory = from_memory
        self._exact: dict[tuple[str, str], Route] = {}
        """(method, path) of a route without a variable part, for a known account: found
        once, then a single dictionary read. Accounts never change their id or slug."""
        self.answered = 0
        """Requests answered by a lean handler (the rest of theirs went to the application)."""

    def _matched(self, scope: Scope) -> _Matched | None:
        found = split(scope["path"])
        if found is None:
            return None
        ref, rest = found
        name = (scope["method"], *rest)
        handler = self._handlers.get(name)
        variable = handler is None
        if variable and len(rest) == 2:
            name = (scope["method"], rest[0], "*")
            handler = self._handlers.get(name)
        if handler is None:
            return None
        return _Matched(ref, rest, name, handler, variable)

    def _chosen(self, scope: Scope, matched: _Matched, account: AccountRef) -> Route:
        """The route of ``matched``, remembered when its path has no variable part."""
        chosen = Route(matched.handler, self._from_memory.get(matched.name), account, matched.rest)
        if not matched.variable and len(self._exact) < _EXACT_PATHS:
            self._exact[(scope["method"], scope["path"])] = chosen
        return chosen

    def find(self, services: Services, scope: Scope) -> Route | None:
        """The handler of a path not yet remembered in ``_exact`` (which ``__call__`` reads
        first), for an account this process has resolved already."""
        matched = self._matched(scope)
        if matched is None:
            return None
        account = services.accounts.known(matched.ref)
        return None if account is None else self._chosen(scope, matched, account)

    def route(self, services: Services, scope: Scope) -> Route | None:
        """The lean route of a request, if it has one."""
        return self._exact.get((scope["method"], scope["path"])) or self.find(services, scope)

    async def _found(self, services: Services, scope: Scope) -> Route | None:
        """``route``, reading the account a lean handler's path names when this process has
        not resolved it yet: the first requests after a start, which would otherwise all go
        to the application (whose validation takes the turn to write, one at a time). None
        for a path no lean handler serves, and for an account that does not exist or cannot
        be read now (the application answers either)."""
        found = self._exact.get((scope["method"], scope["path"]))
        if found is not None:
            return found
        matched = self._matched(scope)
        if matched is None:
            return None
        directory, ref = services.accounts, matched.ref
        account = directory.known(ref)
        if account is None:
            try:
                async with services.db.reader() as session:
                    account = await (
                        directory.default(session) if ref is None else directory.named(session, ref)
                    )
            except Exception as error:
                if not (outages.unavailable(error) or isinstance(error, SQLAlchemyError)):
                    raise
                return None
        return None if account is None else self._chosen(scope, matched, account)

    def from_memory(self, services: Services, scope: Scope, route: Route, body: bytes) -> Answer | None:
        """The route's answer from memory, if it has one for this request."""
        if route.from_memory is None:
            return None
        scope[exchange.EXCHANGE].account = route.account
        made = route.from_memory(services, scope, route.account, body)
        if made is not None:
            self.answered += 1
        return made

    async def __call__(
        self, services: Services, scope: Scope, receive: Receive, send: Send
    ) -> Receive | None:
        """None when answered here; else the ``receive`` the application must use."""
        found = await self._found(services, scope)
        if found is None:
            return receive
        scope[exchange.EXCHANGE].account = found.account
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            body: bytes = message.get("body", b"")
        else:
            read = await _small_body(message, receive)
            if not isinstance(read, bytes):
                return read
            body = read
        made = self.from_memory(services, scope, found, body)
        if made is not None:
            await send({"type": "http.response.start", "status": 200, "headers": made.headers})
            await send({"type": "http.response.body", "body": made.body})
            return None
        account = found.account
        try:
            done = await found.handler(services, scope, account, found.rest, body, send)
        except Exception as error:
            done = await self._failed(services, scope, account, send, error)
        if done:
            self.answered += 1
            return None
        return replay(body, receive)

    @staticmethod
    async def _failed(
        services: Services, scope: Scope, account: AccountRef, send: Send, error: Exception
    ) -> bool:
        """After a lean handler raised (it reads, on a cache miss, before it sends anything):
        True when the database is unavailable and the request got the full application's
        503 here (the full application would only wait for the database again), False for
        the full application to answer any other database error; anything else is raised."""
        response = outage_response(Request(scope), error)
        if response is None:
            if not isinstance(error, SQLAlchemyError):
                raise error
            log.warning("hot.fallback", extra={"route": route_of(scope), "error": type(error).__name__})
            return False
        date = date_header().decode()
        key = services.keys.cached(account.id) if is_signed(scope["path"]) else None
        if key is None:
            response.headers["date"] = date
        else:  # signed as the full application signs it
            for name, value in signed(scope, headers_of(scope), bytes(response.body), account, key, date):
                response.headers[name.decode()] = value.decode()
        await response(scope, _no_body, send)
        return True


def parse_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def validated(model: Any, body: bytes) -> Any:
    """``model`` from a JSON body, or None when the route would refuse it (or might)."""
    if ESCAPED_NUL in body:
        return None  # the application refuses it (``keyplane.kit.nul``)
    try:
        return model.model_validate_json(body)
    except (ValueError, ValidationError):
        return None
