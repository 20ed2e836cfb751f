"""Lean handlers (see ``keyplane.hot``) for ``POST /api-keys/verify`` and ``GET /api-keys/{id}``.

Each answers only when the caller's credential is cached and valid here, and hands the
request to the full application otherwise; the rules and the rendering are the routes' own.
"""

from __future__ import annotations

from starlette.types import Scope, Send

from keyplane.api_keys import repository, versions
from keyplane.api_keys.endpoints import api_key_out, snapshot_tags, verification
from keyplane.api_keys.schemas import ApiKeyOut, VerifyRequest
from keyplane.auth.network import parse_address
from keyplane.auth.principal import AccountRef
from keyplane.auth.scopes import Scope as Power
from keyplane.cache import Tag
from keyplane.db import lazy_session
from keyplane.hot import (
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

_CONTENT_TYPE = (b"content-type", b"application/json")
_VERSION = versions.VERSION_HEADER.encode()


_READ = frozenset({Power.READ})


async def verify(
    services: Services, scope: Scope, account: AccountRef, _rest: list[str], body: bytes, send: Send
) -> bool:
    headers = headers_of(scope)
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
    await answer(send, 200, [_CONTENT_TYPE, (_VERSION, version.encode()), (b"date", date_header())], content)
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

        async def load() -> tuple[ApiKeyOut, list[Tag]] | None:
            found = await repository.get(session, repository.visible(account.id, None, None), key_id)
            return None if found is None else (api_key_out(found), snapshot_tags(found))

        key: ApiKeyOut | None = services.api_keys.get(key_id) or await services.api_keys.fill(key_id, load)
    finally:
        await session.close()
    if key is None or key.organizationId != account.id:
        return False  # the route's 404
    if key.userId != caller.principal.user_id and not caller.principal.has(Power.MANAGE):
        return False  # the route's 404
    if not await charge_or_refuse(services, scope, caller.state, send):
        return True
    services.usage.record(caller.state, clock.now())
    headers_out = [_CONTENT_TYPE, (_VERSION, version.encode()), (b"date", date_header())]
    await answer(send, 200, headers_out, key.model_dump_json().encode())
    return True
