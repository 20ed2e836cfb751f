"""The lean handler (see ``keyplane.hot``) for ``POST /licenses/actions/validate-key``.

It answers a validation without a credential when the license (or the fact that no license
has the key) is cached, and signs the answer as the full application does. The rules are
``Snapshot.check``; the document is the route's, with ``status`` and ``lastValidated`` as
of now (``lastValidated`` is recorded in a batch, as the full route records it).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Scope, Send

from keyplane.accounts.signing import Signer
from keyplane.auth.principal import AccountRef
from keyplane.cache import Tag
from keyplane.db import lazy_session
from keyplane.events import service as events
from keyplane.hot import date_header, render_json, validated
from keyplane.kit import clock
from keyplane.kit.jsonapi import media_type_for
from keyplane.kit.memo import Memo
from keyplane.kit.timefmt import iso
from keyplane.licenses import lifecycle
from keyplane.licenses.lifecycle import Missing, Snapshot, cache_entry
from keyplane.licenses.schemas import ValidateKey, license_resource
from keyplane.licenses.validation import Result, meta
from keyplane.licenses.validation import Scope as ValidationScope
from keyplane.licensing.keystrings import digest
from keyplane.licensing.status import status
from keyplane.licensing.vocab import Code, LicenseStatus
from keyplane.negotiation import acceptable, readable
from keyplane.observe import metrics
from keyplane.services import Services
from keyplane.serving import Answer
from keyplane.signing import signed
from keyplane.web.dependencies import origin_later

_NOT_FOUND = Result(False, Code.NOT_FOUND)
_EMPTY_SCOPE = ValidationScope()
_ASIDE = frozenset((b"authorization", b"x-api-key", b"keygen-accept-signature"))
"""Headers that need the full route: a credential to check, a signature to negotiate."""


# Stand-ins for the two attributes that change with every validation: rendered into the
# kept JSON of a license, replaced in each answer. Random per process, so no stored value
# (metadata, a name) can ever be mistaken for one.
_MARK = "\x00" + secrets.token_hex(8)
_STATUS = render_json(_MARK + "status")
_VALIDATED = render_json(_MARK + "validated")


_ANSWER_TYPES: Memo[bytes, bytes] = Memo("validate-key content types by Accept", 64)
"""Content type of the answer by acceptable ``Accept`` value (the few that clients send)."""
_READABLE: Memo[bytes, bool] = Memo("validate-key body content types read", 64)
"""Whether a body with this ``Content-Type`` is read (``keyplane.negotiation.readable``)."""
_STATUSES: Memo[LicenseStatus, bytes] = Memo("license statuses as JSON", 64)
"""A license's status as it appears in its JSON, rendered once per status (a handful)."""
_OUTCOMES: Memo[tuple[Code, bool, str | None], bytes] = Memo("validation results as JSON", 256)
"""What ``meta`` renders after ``ts`` for a result (``"valid":…,"detail":…,"code":…``),
rendered once per result (a few dozen), by code, validity and wording (``Result``'s own
hash is Python code)."""
_AFTER_TS = len(b'{"ts":"",')
_SCOPE_JSON = ValidationScope.__pydantic_serializer__
"""Renders a sent scope as ``render_json(echoed(scope))`` does, byte for byte (all its
fields are strings or lists of strings, which both escape alike), in one call."""


def _meta(result: Result, stamp: str, scope: ValidationScope | None, nonce: int | None) -> bytes:
    """``render_json(meta(result, stamp, echoed(scope), nonce))``, byte for byte: ``meta``
    puts ``ts`` first and what was sent last, and a timestamp is JSON as it is."""
    kind = (result.code, result.valid, result.note)
    outcome = _OUTCOMES.get(kind)
    if outcome is None:
        outcome = _OUTCOMES.put(kind, render_json(meta(result, "", None, None))[_AFTER_TS:-1])
    rendered = b'{"ts":"' + stamp.encode() + b'",' + outcome
    if scope is not None:
        rendered += b',"scope":' + _SCOPE_JSON.to_json(scope, exclude_unset=True)
    if nonce is not None:
        rendered += b',"nonce":' + str(nonce).encode()
    return rendered + b"}"


def _resource(snapshot: Snapshot, now: datetime, stamp: str) -> bytes:
    """The license's JSON as the route renders it now, from a rendering kept with it."""
    template = snapshot.rendered
    if template is None:
        resource = license_resource(snapshot.license, snapshot.policy)
        resource["attributes"] |= {"status": _MARK + "status", "lastValidated": _MARK + "validated"}
        template = snapshot.rendered = render_json(resource)
    # The kept license has the lastValidated it was read with; the route shows it as of now.
    name = status(snapshot.license, now, validating=True)
    current = _STATUSES.get(name)
    if current is None:
        current = _STATUSES.put(name, render_json(name))
    return template.replace(_STATUS, current).replace(_VALIDATED, b'"' + stamp.encode() + b'"')


class _Asked(NamedTuple):
    """A validation the lean handler can answer once the license is at hand."""

    sent: ValidateKey
    headers: dict[bytes, bytes]
    content_type: bytes
    """Of the answer, as ``Accept`` asks."""
    signing: Signer
    cache_key: tuple[uuid.UUID, bytes]


def _asked(
    services: Services, scope: Scope, account: AccountRef, body: bytes, key: Signer | None
) -> _Asked | None:
    """What the request asks, when it is the ordinary case (else None: the application's),
    to be signed with ``key`` (the account's, None when not at hand)."""
    headers = dict(scope["headers"])
    if scope.get("query_string") or not _ASIDE.isdisjoint(headers):
        return None
    content_type = _answer_type(headers.get(b"accept", b""))
    if content_type is None:
        return None
    sent_type = headers.get(b"content-type")
    if sent_type is not None:
        read = _READABLE.get(sent_type)
        if read is None:
            read = _READABLE.put(sent_type, readable(sent_type.decode("latin-1")))
        if not read:
            return None  # the application refuses it
    sent: ValidateKey | None = validated(ValidateKey, body)
    if sent is None or not sent.meta.key.strip() or sent.meta.legacy:
        return None
    asked = sent.meta.scope
    if asked is not None and asked.entitlements:
        return None  # entitlements are not kept with the license: the route reads them
    if asked is not None and asked.components and asked.fingerprint:
        return None  # matched against the machine's components, which the cache does not keep
    if key is None:
        return None
    return _Asked(sent, headers, content_type, key, (account.id, digest(sent.meta.key)))


def _answer_type(accept: bytes) -> bytes | None:
    """The answer's content type for this ``Accept``, None when none is acceptable."""
    content_type = _ANSWER_TYPES.get(accept)
    if content_type is None:
        if not acceptable(accept.decode("latin-1")):
            return None
        content_type = _ANSWER_TYPES.put(accept, media_type_for(accept.decode("latin-1")).encode())
    return content_type


def validate_from_memory(services: Services, scope: Scope, account: AccountRef, body: bytes) -> Answer | None:
    """The answer of an ordinary validation whose license (or its absence) is cached, from
    memory (see ``keyplane.hot.FromMemory``); None for ``validate_key`` to answer."""
    asked = _asked(services, scope, account, body, services.keys.cached(account.id))
    if asked is None:
        return None
    cached: Snapshot | Missing | None = services.licenses.get(asked.cache_key)
    if cached is None:
        return None
    return _answered(services, scope, account, asked, cached)


def _answered(
    services: Services, scope: Scope, account: AccountRef, asked: _Asked, cached: Snapshot | Missing
) -> Answer | None:
    """The validation's signed answer, by ``Snapshot.check``, or None when it must write now."""
    now = clock.now()
    stamp = iso(now)
    sent = asked.sent
    if isinstance(cached, Missing):
        result, data = _NOT_FOUND, b"null"
    else:
        if cached.needs_write():
            return None
        result = cached.check(sent.meta.scope or _EMPTY_SCOPE, now)
        services.usage.validated(cached.license.id, now)
        license = cached.license
        events.validated(
            services.events,
            account.id,
            license.id,
            license.product_id,
            result.valid,
            result.code,
            None,
            origin_later(scope, services.trusted_proxies),
        )
        data = _resource(cached, now, stamp)
    metrics.validated(result.code)
    answered = _meta(result, stamp, sent.meta.scope, sent.meta.nonce)
    # What rendering {"data": ..., "meta": ...} in one piece gives, byte for byte.
    content = b'{"data":' + data + b',"meta":' + answered + b"}"
    signature = signed(scope, asked.headers, content, account, asked.signing, date_header().decode())
    length = (b"content-length", b"%d" % len(content))
    return Answer(content, [length, (b"content-type", asked.content_type), *signature])


async def validate_key(
    services: Services, scope: Scope, account: AccountRef, _rest: list[str], body: bytes, send: Send
) -> bool:
    """A validation ``validate_from_memory`` left: the account's signing key and the license
    read (and kept) first. The first validations after a start come here, all at once on a
    busy server: reads, they never wait for the turn to write that the route's transaction
    takes."""
    session = lazy_session(services.db)
    try:
        return await _validated(services, scope, account, body, send, session)
    finally:
        await session.close()


async def _validated(
    services: Services, scope: Scope, account: AccountRef, body: bytes, send: Send, session: AsyncSession
) -> bool:
    asked = _asked(services, scope, account, body, await services.keys.stored(session, account.id))
    if asked is None:
        return False
    cache_key = asked.cache_key
    cached: Snapshot | Missing | None = services.licenses.get(cache_key)
    if cached is None:
        license_key = asked.sent.meta.key

        async def load() -> tuple[Snapshot | Missing, list[Tag]]:
            found = await services.db.read(session, lambda sync: lifecycle.snapshot_of(sync, *cache_key))
            return cache_entry(account, license_key, found)

        cached = await services.licenses.fill(cache_key, load)
        if cached is None:
            return False
    made = _answered(services, scope, account, asked, cached)
    if made is None:
        return False
    await send({"type": "http.response.start", "status": 200, "headers": made.headers})
    await send({"type": "http.response.body", "body": made.body})
    return True
