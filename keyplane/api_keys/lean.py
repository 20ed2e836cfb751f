"""Lean handlers (see ``keyplane.hot``) for ``POST /api-keys/verify`` and ``GET /api-keys/{id}``.

Each answers only when the caller's credential is cached and valid here, and hands the
request to the full application otherwise; the rules and the rendering are the routes' own.
"""

from __future__ import annotations

import re

from starlette.types import Scope, Send

from keyplane.api_keys import repository, versions
from keyplane.api_keys.endpoints import (
    LEGACY_CODES,
    KeptKey,
    api_key_out,
    rendered,
    snapshot_tags,
    verification,
)
from keyplane.api_keys.schemas import VerifyRequest
from keyplane.auth.network import parse_address
from keyplane.auth.principal import AccountRef
from keyplane.auth.scopes import Scope as Power
from keyplane.cache import Tag
from keyplane.credentials.engine import Outcome
from keyplane.db import holds_connection, lazy_session
from keyplane.hot import (
    JSON_TYPE,
    PLAIN_ACCEPT,
    VERSION_REQUESTED,
    Services,
    answer,
    authenticated,
    charge_or_refuse,
    date_header,
    headers_of,
    negotiated_version,
    parse_uuid,
    plain_request,
    validated,
)
from keyplane.kit import clock

_CONTENT_TYPE = (b"content-type", JSON_TYPE)
_VERSION = versions.VERSION_HEADER.encode()


_READ = frozenset({Power.READ})
_SERVED: dict[str, tuple[bytes, bytes]] = {}


def _served(version: str) -> tuple[bytes, bytes]:
    """The version header of an answer (one per known version, made once)."""
    header = _SERVED.get(version)
    if header is None:
        header = _SERVED[version] = (_VERSION, version.encode())
    return header


_SPACE = rb"[ \t\n\r]*"
"""JSON's whitespace (a regex's whitespace class admits more)."""
_KEY_ONLY = re.compile(
    _SPACE
    + rb"\{"
    + _SPACE
    + rb'"key"'
    + _SPACE
    + rb":"
    + _SPACE
    + rb'"([A-Za-z0-9_]{1,512})"'
    + _SPACE
    + rb"\}"
    + _SPACE
)
"""A JSON body of just a key made of a credential's characters: what ``json.loads`` would make
of it, without the decoder (no escapes, no other member; anything else goes the long way)."""


def _cached_verification(
    services: Services, scope: Scope, headers: dict[bytes, bytes], account: AccountRef, body: bytes
) -> tuple[bytes, str] | None:
    """The answer (and the version it is served at) of the commonest verification, from
    memory and without awaiting anything: a plain JSON request with no query, a bearer
    caller, a body of just ``{"key": ...}``, caller and key both cached, neither with a rate
    limit to charge. None for anything else, which the general handler below (or the full
    route) answers.

    The rules are the same calls the route makes, in the same order; the plumbing between
    them is inlined. On a server the code of a request runs with cold processor caches
    (the kernel, uvicorn and the load generator run in between), and there each call of a
    small function costs several times what it costs in a loop: this path was measured
    call by call."""
    if (
        scope["query_string"]
        or headers.get(b"content-type") != JSON_TYPE
        or headers.get(b"accept", b"") not in PLAIN_ACCEPT
        or services.settings.trusted_proxies
    ):
        return None
    sent = _KEY_ONLY.fullmatch(body)
    authorization = headers.get(b"authorization")
    if sent is None or authorization is None or authorization[:7] != b"Bearer ":
        return None
    engine = services.credentials
    caller = engine.cached(authorization[7:].decode("latin-1"))
    if caller is None or caller.account_id != account.id or caller.user_id is None:
        return None
    if caller.rate_limit is not None:
        return None
    address = None
    if caller.whitelisted_ips is not None:
        client = scope.get("client")
        address = parse_address(client[0]) if client else None
    now = clock.now()
    if caller.evaluate(now, address, _READ) is not Outcome.VALID:
        return None
    asked = headers.get(VERSION_REQUESTED)
    version = versions.serving(None if asked is None else asked.decode("latin-1"), caller.api_version)
    if version is None:
        return None
    state = engine.cached(sent[1].decode("ascii"))
    if state is None or state.rate_limit is not None or state.account_id != account.id:
        return None
    outcome = state.evaluate(now, None)
    if version < versions.VERIFY_CODES_REVOKED_MALFORMED:
        outcome = LEGACY_CODES.get(outcome, outcome)
    usage = services.usage
    if outcome is Outcome.VALID:
        usage.record(state, now)
    usage.record(caller, now)
    return state.answers.get(outcome) or rendered(outcome, state, None), version


async def verify(
    services: Services, scope: Scope, account: AccountRef, _rest: list[str], body: bytes, send: Send
) -> bool:
    headers = dict(scope["headers"])
    cached = _cached_verification(services, scope, headers, account, body)
    if cached is not None:
        content, served = cached
        headers_out = [
            (b"content-length", str(len(content)).encode()),
            _CONTENT_TYPE,
            _served(served),
            (b"date", date_header()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers_out})
        await send({"type": "http.response.body", "body": content})
        return True
    if not plain_request(scope, headers, body=True):
        return False
    data: VerifyRequest | None = validated(VerifyRequest, body)
    if data is None or (data.ip is not None and parse_address(data.ip) is None):
        return False  # the route's 400 or 422
    session = lazy_session(services.db)
    try:
        caller = await authenticated(services, scope, headers, account, _READ, session)
        version = None if caller is None else negotiated_version(headers, caller.state)
        if caller is None or version is None:
            return False
        if not await charge_or_refuse(services, scope, caller.state, send):
            return True
        content = await verification(
            services.credentials,
            services.limiter,
            services.usage,
            session,
            caller.principal,
            version,
            data,
        )
    finally:
        await session.close()
    services.usage.record(caller.state, clock.now())
    await answer(send, 200, [_CONTENT_TYPE, _served(version), (b"date", date_header())], content)
    return True


async def get(
    services: Services, scope: Scope, account: AccountRef, rest: list[str], body: bytes, send: Send
) -> bool:
    headers = headers_of(scope)
    key_id = parse_uuid(rest[1])
    if key_id is None or body or not plain_request(scope, headers, body=False):
        return False
    session = lazy_session(services.db)
    try:
        caller = await authenticated(services, scope, headers, account, _READ, session)
        version = None if caller is None else negotiated_version(headers, caller.state)
        if caller is None or version is None:
            return False

        async def load() -> tuple[KeptKey, list[Tag]] | None:
            found = await repository.get(session, repository.visible(account.id, None, None), key_id)
            return None if found is None else (KeptKey.of(api_key_out(found)), snapshot_tags(found))

        key: KeptKey | None = services.api_keys.get(key_id) or await services.api_keys.fill(
            key_id, load, wait=not holds_connection(session)
        )
    finally:
        await session.close()
    if key is None or key.account_id != account.id:
        return False  # the route's 404
    if key.user_id != caller.principal.user_id and not caller.principal.has(Power.MANAGE):
        return False  # the route's 404
    if not await charge_or_refuse(services, scope, caller.state, send):
        return True
    services.usage.record(caller.state, clock.now())
    await answer(send, 200, [_CONTENT_TYPE, _served(version), (b"date", date_header())], key.body)
    return True
