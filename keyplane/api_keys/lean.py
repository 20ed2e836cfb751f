"""Lean handlers (see ``keyplane.hot``) for ``POST /api-keys/verify`` and ``GET /api-keys/{id}``.

Each answers only when the caller's credential is cached and valid here, and hands the
request to the full application otherwise; the rules and the rendering are the routes' own.
"""

from __future__ import annotations

from datetime import datetime

from starlette.types import Scope, Send

from keyplane.api_keys import repository
from keyplane.api_keys.endpoints import (
    KeptKey,
    api_key_out,
    rendered,
    snapshot_tags,
    verification,
)
from keyplane.api_keys.schemas import VerifyRequest
from keyplane.api_keys.service import REFUSALS_THAT_MATTER
from keyplane.auth.headers import MALFORMED, presented
from keyplane.auth.network import client_address, parse_address
from keyplane.auth.principal import AccountRef
from keyplane.auth.scopes import Scope as Power
from keyplane.cache import Tag
from keyplane.credentials import versions
from keyplane.credentials.authentication import NOTHING, judge
from keyplane.credentials.engine import FOREVER, CredentialState, Outcome, Served
from keyplane.db import holds_connection, lazy_session
from keyplane.errors import AppError
from keyplane.hot import (
    JSON_TYPE,
    PLAIN_ACCEPT,
    VERSION_REQUESTED,
    answer,
    authenticated,
    charge_or_refuse,
    date_header,
    headers_of,
    negotiated_version,
    parse_uuid,
    plain_request,
    refuse,
    validated,
)
from keyplane.kit import clock
from keyplane.kit.actor import whodunnit
from keyplane.kit.memo import Memo
from keyplane.observe import metrics
from keyplane.observe.exchange import EXCHANGE
from keyplane.services import Services
from keyplane.serving import Answer
from keyplane.web.dependencies import origin_in

_CONTENT_TYPE = (b"content-type", JSON_TYPE)
_VERSION = VERSION_REQUESTED
"""The version header of an answer, as the framework's response writes it (lower case)."""


_READ = frozenset({Power.READ})
_SERVED: Memo[str, tuple[bytes, bytes]] = Memo("version headers", 64)


def _served(version: str) -> tuple[bytes, bytes]:
    """The version header of an answer (one per known version, made once)."""
    header = _SERVED.get(version)
    if header is None:
        header = _SERVED.put(version, (_VERSION, version.encode()))
    return header


_KEY_AT = {b'{"key": "': 9, b'{"key":"': 8}
"""How clients write a body of just a key (Python's ``json.dumps``; JavaScript's and Go's)."""


def _sent_key(body: bytes) -> str | None:
    """The key of a body written as ``{"key": "..."}`` or ``{"key":"..."}``, taken verbatim
    (anything else goes the long way, through the JSON decoder). Taking the bytes between
    the quotes as they are is right whenever the result is a cached credential: the cache
    holds well-formed credentials only, made of letters, digits and ``_``, which JSON reads
    verbatim. Any other body (escapes, more members, other spacing) yields no cached key
    and is parsed by the route's own rules."""
    start = _KEY_AT.get(body[:9]) or _KEY_AT.get(body[:8])
    if start is None or body[-2:] != b'"}':
        return None
    return body[start:-2].decode("latin-1")


_NOTED = frozenset(outcome.value for outcome in REFUSALS_THAT_MATTER)
"""Codes of answers served from memory whose verification the event log notes."""


def verify_from_memory(services: Services, scope: Scope, account: AccountRef, body: bytes) -> Answer | None:
    """The answer of the commonest verification (see ``keyplane.hot.FromMemory``), from memory: a
    plain JSON request with no query, a bearer caller, a body of just ``{"key": ...}``,
    caller and key both cached, neither with a rate limit to charge. None for anything
    else, which ``verify`` (or the full route) answers.

    The rules are the same calls the route makes, in the same order (``_verified``). What
    they conclude is kept on the key's state (``CredentialState.served``) for the next
    verification by the same caller asking for the same version, until the first instant
    it could change: an expiry of either credential, or a use of either that is due to be
    recorded. Both states are immutable and replaced whenever what they say changes, so
    the same caller object and key object, before that instant, mean the same answer. On a
    server the code of a request runs with cold processor caches (the kernel, uvicorn and
    the load generator run in between), and there each call of a small function costs
    several times what it costs in a loop: this path was measured call by call."""
    headers = dict(scope["headers"])
    if (
        scope["query_string"]
        or headers.get(b"content-type") != JSON_TYPE
        or headers.get(b"accept", b"") not in PLAIN_ACCEPT
        or services.behind_proxies
    ):
        return None
    sent = _sent_key(body)
    authorization = headers.get(b"authorization")
    if sent is None or authorization is None:
        return None
    plaintext = presented(authorization.decode("latin-1"), None)
    if plaintext is None or plaintext is MALFORMED:
        return None
    engine = services.credentials
    # Not this account's: the route refuses (``judge`` decides; this only leaves it to the
    # route). Ids compared as ints: UUID's == is Python code.
    account_number = account.id.int
    caller = engine.cached(plaintext)
    if caller is None or caller.account_id.int != account_number or caller.user_id is None:
        return None
    state = engine.cached(sent)
    if state is None or caller.budgets or state.budgets or state.account_id.int != account_number:
        return None
    asked = headers.get(VERSION_REQUESTED)
    now = clock.now()
    served = state.served
    if served is None or served.caller is not caller or served.asked != asked or now >= served.until:
        served = _verified(services, scope, account, caller, state, asked, now)
        if served is None:
            return None
    scope[EXCHANGE].credential = caller.id
    metrics.verified(served.code)
    if served.code in _NOTED:
        who = whodunnit(caller.kind, caller.id, caller.user_id, caller.product_id)
        services.refused.verification(
            state, Outcome(served.code), who, origin_in(scope, services.trusted_proxies)
        )
    return Answer(served.body, [served.version, served.length, _CONTENT_TYPE, (b"date", date_header())])


def _verified(
    services: Services,
    scope: Scope,
    account: AccountRef,
    caller: CredentialState,
    state: CredentialState,
    asked: bytes | None,
    now: datetime,
) -> Served | None:
    """The verification by ``caller`` of ``state`` now, by the route's rules (``judge``, the
    version gate, the rendering), with its uses recorded; kept on ``state`` when it does not
    depend on the caller's address. None when the caller may not verify here (the route
    refuses). It stands until the earlier of the two verdicts' ``until`` (the instants the
    rules themselves give), or until a use of either must be recorded again."""
    address = client_address(scope, services.trusted_proxies)
    checked = judge(Outcome.VALID, caller, account.id, address, _READ, now)
    if checked.outcome is not Outcome.VALID:
        return None
    version = versions.serving(None if asked is None else asked.decode("latin-1"), caller.api_version)
    if version is None:
        return None
    verdict = judge(Outcome.VALID, state, account.id, None, NOTHING, now)
    outcome = versions.spoken(verdict.outcome, version)
    usage = services.usage
    if outcome is Outcome.VALID:
        usage.record(state, now)
    usage.record(caller, now)
    content = state.answers.get(outcome) or rendered(outcome, state, None)
    until = min(
        checked.until,
        verdict.until,
        caller.noted_until,
        state.noted_until if outcome is Outcome.VALID else FOREVER,
    )
    length = (b"content-length", b"%d" % len(content))
    served = Served(caller, asked, until, content, length, _served(version), outcome.value)
    if caller.whitelisted_ips is None:
        state.keep(served)
    return served


async def verify(
    services: Services, scope: Scope, account: AccountRef, _rest: list[str], body: bytes, send: Send
) -> bool:
    headers = dict(scope["headers"])
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
        who = caller.principal.whodunnit

        def noted(state: CredentialState, outcome: Outcome) -> None:
            services.refused.verification(state, outcome, who, origin_in(scope, services.trusted_proxies))

        try:
            content = await verification(
                services.credentials,
                services.limiter,
                services.usage,
                session,
                caller.principal,
                version,
                data,
                noted,
            )
        except AppError as refused:  # the verified key's rate limit cannot be checked
            await refuse(scope, refused, send)
            return True
    finally:
        await session.close()
    services.usage.record(caller.state, clock.now())
    await answer(send, 200, [_CONTENT_TYPE, (b"date", date_header())], content, (_served(version),))
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
            conditions = repository.visible(account.id, None, None)
            found = await services.db.read(session, lambda sync: repository.get_in(sync, conditions, key_id))
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
    # As the route's response has them: its version header is set on the injected Response,
    # which FastAPI adds after the document's own.
    await answer(send, 200, [_CONTENT_TYPE, _served(version), (b"date", date_header())], key.body)
    return True
