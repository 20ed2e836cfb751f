"""The lean handlers answer exactly as the full application does.

Every request here goes to two applications over one database: the usual one, whose hot
routes are served by ``keyplane.hot``, and one with ``hot_paths`` off, where FastAPI serves
everything. Status, headers and body must match byte for byte, errors included (apart from
what differs between any two answers: the date, the signature over it, a request id, a
timestamp), and the ordinary requests must really have been answered by a lean handler.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy.exc
from fastapi import FastAPI

from keyplane.app import Keyplane
from keyplane.config import Settings
from keyplane.kit import clock
from keyplane.services import services_of
from tests import factories
from tests.conftest import CLIENT_ADDRESS, shared_app
from tests.factories import Tenant, bearer

Request = tuple[str, str, dict[str, str], bytes | None]
_VARYING_HEADERS = frozenset({b"date", b"keygen-date", b"keygen-signature", b"x-request-id"})
"""Headers that differ between any two answers: the time, the signature over it, the id."""
_DIGESTS = frozenset({b"digest", b"keygen-digest"})
_VARYING_BODY = re.compile(rb'"(ts|lastValidated|requestId)":"[^"]*"|(\{"meta":\{"id":")[^"]*(")')
"""Members that differ between any two answers: a timestamp, a request id (in plain
errors, ``requestId``; in JSON:API errors, ``meta.id``)."""


@pytest.fixture
async def cold(settings: Settings) -> AsyncIterator[FastAPI]:
    """The same service with every route served by the framework."""
    application = shared_app(settings.model_copy(update={"hot_paths": False}))
    async with application.router.lifespan_context(application):
        yield application


async def _send(app: FastAPI, request: Request) -> httpx.Response:
    method, url, headers, body = request
    transport = httpx.ASGITransport(app=app, client=(CLIENT_ADDRESS, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.request(method, url, headers=headers, content=body)


def _varying(match: re.Match[bytes]) -> bytes:
    if match.group(1) is not None:
        return b'"' + match.group(1) + b'":"<varies>"'
    return match.group(2) + b"<varies>" + match.group(3)


def _raw(response: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The answer as sent (status, every header in order, the body's bytes), with only what
    differs between any two answers replaced: the date, a signature over it, a request id,
    a timestamp, and a body digest (checked here against the body first)."""
    body = response.content
    headers: list[tuple[bytes, bytes]] = []
    for name, value in response.headers.raw:
        lowered = name.lower()
        if lowered in _DIGESTS:
            assert value == b"sha-256=" + base64.b64encode(hashlib.sha256(body).digest()), name
            value = b"<digest>"
        elif lowered in _VARYING_HEADERS:
            value = b"<varies>"
        headers.append((name, value))
    return response.status_code, headers, _VARYING_BODY.sub(_varying, body)


async def _same(app: FastAPI, cold: FastAPI, request: Request, *, lean: bool) -> httpx.Response:
    """Send ``request`` to both; their answers must match, and ``lean`` says whether the hot
    application's lean handler (rather than the framework) must have answered it."""
    assert isinstance(app, Keyplane)
    assert app.hot is not None
    before = app.hot.answered
    hot = await _send(app, request)
    answered = app.hot.answered - before
    framework = await _send(cold, request)
    assert _raw(hot) == _raw(framework), request
    assert answered == (1 if lean else 0), (request, hot.status_code, hot.text)
    return hot


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def test_verify_answers_match(
    app: FastAPI, cold: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    url = f"{acme.base}/api-keys/verify"
    auth = {**bearer(acme.key), "Content-Type": "application/json"}
    key = await factories.api_key(client, acme, name="customer", scopes=["READ"])
    restricted = await factories.api_key(client, acme, name="office", whitelistedIPs=["10.0.0.0/8"])
    gone = await factories.api_key(client, acme, name="gone")
    assert (
        await client.delete(f"{acme.base}/api-keys/{gone['id']}", headers=bearer(acme.key))
    ).status_code == 204
    unknown = "kp_" + "A" * 61

    # Warm both caches the way traffic does, then compare.
    await _send(app, ("POST", url, auth, _json({"key": key["key"]})))
    for body, lean in (
        ({"key": key["key"]}, True),
        ({"key": key["key"], "scopes": ["READ"]}, True),
        ({"key": key["key"], "scopes": ["MANAGE"]}, True),
        ({"key": restricted["key"]}, True),
        ({"key": restricted["key"], "ip": "10.1.2.3"}, True),
        ({"key": restricted["key"], "ip": "192.168.0.1"}, True),
        ({"key": gone["key"]}, True),
        ({"key": unknown}, True),
        ({"key": "not a key"}, True),
        ({"key": acme.key}, True),
        ({"key": key["key"], "ip": "nonsense"}, False),
        ({"key": key["key"], "extra": 1}, False),
        ({"key": ""}, False),
        ({}, False),
    ):
        await _same(app, cold, ("POST", url, auth, _json(body)), lean=lean)
    # The same key written other ways JSON allows: spacing, an escaped character, a member
    # repeated (the last one counts), another encoding.
    plain = str(key["key"])
    escaped = plain.replace("_", "\\u005f", 1)
    for raw, lean in (
        (f'{{"key":"{plain}"}}'.encode(), True),
        (f'{{"key": "{plain}", "ip": "10.1.2.3"}}'.encode(), True),
        (f'{{"key": "{unknown}", "key": "{restricted["key"]}"}}'.encode(), True),
        (f'\n {{ "key" :\t"{plain}" }}\r\n'.encode(), True),
        (f'{{"key": "{escaped}"}}'.encode(), True),
        (f'{{"key": "{unknown}", "key": "{plain}"}}'.encode(), True),
        (f'{{"key": "{plain}"}}'.encode("utf-16"), False),
        (f'{{"key": "{plain}"}}\x0b'.encode(), False),
    ):
        await _same(app, cold, ("POST", url, auth, raw), lean=lean)
    # Legacy API versions, bare /v1, X-API-Key: still lean.
    await _same(
        app,
        cold,
        ("POST", url, {**auth, "Keyplane-Version": "2024-05-22"}, _json({"key": gone["key"]})),
        lean=True,
    )
    bare = ("POST", "/v1/api-keys/verify", auth, _json({"key": key["key"]}))
    await _same(app, cold, bare, lean=True)  # the lean handler reads the default account first
    await _same(app, cold, bare, lean=True)
    api_key_auth = {"X-API-Key": acme.key, "Content-Type": "application/json"}
    await _same(app, cold, ("POST", url, api_key_auth, _json({"key": key["key"]})), lean=True)
    # Anything unusual is the framework's, with its errors.
    for request in (
        ("POST", url, {**auth, "Keyplane-Version": "1999-01-01"}, _json({"key": key["key"]})),
        ("POST", url, {"Content-Type": "application/json"}, _json({"key": key["key"]})),
        ("POST", url, {**auth, "Authorization": "Basic abc"}, _json({"key": key["key"]})),
        ("POST", url, {**auth, "Authorization": f"Bearer {unknown}"}, _json({"key": key["key"]})),
        ("POST", url, {**auth, "Authorization": f"Bearer {key['key']}x"}, _json({"key": key["key"]})),
        ("POST", url, {**auth, "Content-Type": "text/plain"}, _json({"key": key["key"]})),
        ("POST", url, {**auth, "Accept": "text/html"}, _json({"key": key["key"]})),
        ("POST", url, auth, b"{not json"),
        ("POST", url + "?x=1", auth, _json({"key": key["key"]})),
        ("POST", "/v1/accounts/nope/api-keys/verify", auth, _json({"key": key["key"]})),
    ):
        await _same(app, cold, request, lean=False)


async def test_a_verification_kept_in_memory_follows_the_clock(
    app: FastAPI, cold: FastAPI, client: httpx.AsyncClient, acme: Tenant, settings: Settings
) -> None:
    """The lean path keeps a verification's conclusion on the key's cached state for the
    next verification by the same caller (``CredentialState.served``). Repeated, it must
    still record the key's use once the recorded one is older than the resolution, and
    turn EXPIRED the moment the key expires, like the framework's answer."""
    url = f"{acme.base}/api-keys/verify"
    auth = {**bearer(acme.key), "Content-Type": "application/json"}
    # It expires between two recorded uses, so that only the expiry can end what was kept.
    expires = clock.now() + timedelta(seconds=settings.usage_resolution_seconds * 1.5)
    key = await factories.api_key(client, acme, name="trial", expiresAt=expires.isoformat())
    request: Request = ("POST", url, auth, _json({"key": key["key"]}))

    async def last_used() -> str | None:
        await services_of(app).usage.flush()
        shown = await client.get(f"{acme.base}/api-keys/{key['id']}", headers=bearer(acme.key))
        value: str | None = shown.json()["lastUsedAt"]
        return value

    await _send(app, request)  # caches the key
    for _ in range(3):
        answer = await _same(app, cold, request, lean=True)
        assert answer.json()["code"] == "VALID"
    first = await last_used()
    assert first is not None

    clock.advance(timedelta(seconds=settings.usage_resolution_seconds + 1))
    for _ in range(3):
        answer = await _same(app, cold, request, lean=True)
        assert answer.json()["code"] == "VALID"
    second = await last_used()
    assert second is not None
    assert second > first

    clock.advance(expires - clock.now())
    answer = await _same(app, cold, request, lean=True)
    assert answer.json()["code"] == "EXPIRED"


async def test_behind_a_trusted_proxy_a_verification_is_checked_from_the_forwarded_address(
    settings: Settings, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """With trusted proxies, the caller's address is the one the proxy forwards, not the
    proxy's. A caller restricted to the proxy's own network is refused for a client outside
    it every time: the lean path, which reads only the peer address, leaves such requests
    to the framework."""
    caller = await factories.api_key(client, acme, name="backend", whitelistedIPs=["203.0.113.0/24"])
    key = await factories.api_key(client, acme, name="customer")
    proxied = shared_app(
        settings.model_copy(update={"trusted_proxies": [ipaddress.ip_network("203.0.113.0/24")]})
    )
    headers = {
        **bearer(str(caller["key"])),
        "Content-Type": "application/json",
        "X-Forwarded-For": "198.51.100.9",
    }
    request: Request = ("POST", f"{acme.base}/api-keys/verify", headers, _json({"key": key["key"]}))
    inside = {**headers, "X-Forwarded-For": "203.0.113.50"}
    async with proxied.router.lifespan_context(proxied):
        assert isinstance(proxied, Keyplane)
        assert proxied.hot is not None
        for _ in range(2):  # caches the caller and the key
            allowed = await _send(proxied, ("POST", request[1], inside, request[3]))
            assert allowed.status_code == 200, allowed.text
            assert allowed.json()["code"] == "VALID"
        for _ in range(2):
            refused = await _send(proxied, request)
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "IP_NOT_ALLOWED"


async def test_get_api_key_answers_match(
    app: FastAPI, cold: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    key = await factories.api_key(client, acme, name="mine", description="shown")
    user_id, user_key = await factories.role_key(app, client, acme, "read-only")
    theirs = f"{acme.base}/api-keys/{key['id']}"
    auth = bearer(acme.key)
    for request, lean in (
        (("GET", theirs, auth, None), True),
        (("GET", theirs, auth, None), True),
        (("GET", f"/v1/api-keys/{key['id']}", auth, None), True),  # reads the default account
        (("GET", f"/v1/api-keys/{key['id']}", auth, None), True),
        (("GET", theirs, {**auth, "Keyplane-Version": "2024-05-22"}, None), True),
        (("GET", theirs, bearer(user_key), None), False),  # not theirs: 404
        (("GET", f"{acme.base}/api-keys/{uuid.uuid4()}", auth, None), False),
        (("GET", f"{acme.base}/api-keys/not-an-id", auth, None), False),
        (("GET", theirs + "?status=active", auth, None), False),
        (("GET", theirs, {}, None), False),
        (("GET", theirs, {**auth, "Keyplane-Version": "nope"}, None), False),
    ):
        await _same(app, cold, request, lean=lean)
    assert user_id

    # A change is seen at once by the lean handler (the cache forgets it on commit).
    changed = await client.patch(theirs, json={"name": "renamed"}, headers=auth)
    assert changed.status_code == 200
    seen = await _same(app, cold, ("GET", theirs, auth, None), lean=True)
    assert seen.json()["name"] == "renamed"


async def test_validate_key_answers_match(
    app: FastAPI, cold: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    product = await factories.product(client, acme)
    policy = await factories.policy(client, acme, product, strict=True)
    license = await factories.license(client, acme, policy)
    machine = {
        "data": {
            "type": "machines",
            "attributes": {"fingerprint": "fp-1"},
            "relationships": {"license": factories.ref("licenses", license["id"])},
        }
    }
    assert (
        await client.post(f"{acme.base}/machines", json=machine, headers=bearer(acme.key))
    ).status_code == 201
    pooled = await factories.policy(client, acme, product, usePool=True)
    pool_key = await factories.pool_key(client, acme, pooled, "POOLED-KEY-0001")
    url = f"{acme.base}/licenses/actions/validate-key"
    jsonapi = {"Content-Type": "application/vnd.api+json", "Accept": "application/vnd.api+json"}
    key = license["attributes"]["key"]

    def body(meta: dict[str, Any]) -> bytes:
        return _json({"meta": meta})

    for request, lean in (
        (("POST", url, jsonapi, body({"key": key, "scope": {"fingerprint": "fp-1"}})), True),
        (("POST", url, jsonapi, body({"key": key, "scope": {"fingerprint": "fp-1"}})), True),
        (("POST", url, jsonapi, body({"key": key, "scope": {"fingerprint": "other"}})), True),
        (("POST", url, jsonapi, body({"key": key, "nonce": 7})), True),
        (("POST", url, jsonapi, body({"key": key, "scope": {"product": product}})), True),
        (("POST", url, {"Accept": "application/json"}, body({"key": key})), True),
        (("POST", url, {}, body({"key": "UNKNOWN-KEY-123"})), True),
        (("POST", url, {}, body({"key": pool_key["attributes"]["key"]})), True),
        # The default account, read by the lean handler the first time.
        (("POST", "/v1/licenses/actions/validate-key", {}, body({"key": key})), True),
        (("POST", "/v1/licenses/actions/validate-key", {}, body({"key": key})), True),
        (("POST", url, jsonapi, body({"key": " "})), False),
        (("POST", url, jsonapi, body({"key": key, "bogus": 1})), False),
        (("POST", url, jsonapi, b"nope"), False),
        (("POST", url, {"Accept": "text/html"}, body({"key": key})), False),
        (("POST", url, bearer(acme.key), body({"key": key})), False),
        (("POST", url, {"Keygen-Accept-Signature": 'algorithm="ed25519"'}, body({"key": key})), False),
        # A null user is compared by the one rule both paths use; Keygen's legacy lookup and
        # an unsupported content type are answered by the application alone.
        (("POST", url, jsonapi, body({"key": key, "scope": {"user": None}})), True),
        (("POST", url, jsonapi, body({"key": key, "encrypted": False})), True),
        (("POST", url, jsonapi, body({"key": key, "encrypted": True})), False),
        (("POST", url, jsonapi, body({"key": key, "legacyEncrypted": True})), False),
        (("POST", url, {"Content-Type": "text/plain"}, body({"key": key})), True),
        (("POST", url, {"Content-Type": "vnd.api+xml"}, body({"key": key})), False),
        (("POST", url, {"Content-Type": "application/xml"}, body({"key": key})), False),
    ):
        await _same(app, cold, request, lean=lean)

    # A suspension is seen at once; a new license with a key asked about before, too.
    suspended = await client.post(
        f"{acme.base}/licenses/{license['id']}/actions/suspend", headers=bearer(acme.key)
    )
    assert suspended.status_code == 200
    answer = await _same(app, cold, ("POST", url, jsonapi, body({"key": key})), lean=True)
    assert answer.json()["meta"]["code"] == "SUSPENDED"
    later = {
        "data": {
            "type": "licenses",
            "attributes": {"key": "UNKNOWN-KEY-123"},
            "relationships": {"policy": factories.ref("policies", policy)},
        }
    }
    assert (
        await client.post(f"{acme.base}/licenses", json=later, headers=bearer(acme.key))
    ).status_code == 201
    answer = await _same(app, cold, ("POST", url, {}, body({"key": "UNKNOWN-KEY-123"})), lean=True)
    assert answer.json()["meta"]["code"] != "NOT_FOUND"


async def test_the_first_validations_after_a_start_are_answered_by_the_lean_handler(
    settings: Settings, cold: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """A process just started has resolved no account and opened no signing key. Its first
    validations, arriving together, read both (and the license) themselves: sent to the
    route instead, each took the turn to write for its transaction, one at a time, and on
    a busy SQLite server some waited past their timeout (503)."""
    policy = await factories.policy(client, acme)
    key = (await factories.license(client, acme, policy))["attributes"]["key"]
    url = f"{acme.base}/licenses/actions/validate-key"
    request: Request = ("POST", url, {}, _json({"meta": {"key": key}}))
    expected = _raw(await _send(cold, request))
    missing: Request = ("POST", "/v1/accounts/no-such-account/licenses/actions/validate-key", {}, request[3])
    started = shared_app(settings.model_copy(update={"cache_size": settings.cache_size + 1}))
    async with started.router.lifespan_context(started):
        assert isinstance(started, Keyplane)
        assert started.hot is not None
        services = services_of(started)
        assert services.accounts.known(acme.slug) is None
        assert services.keys.cached(acme.id) is None

        answers = await asyncio.gather(*(_send(started, request) for _ in range(20)))

        assert started.hot.answered == 20
        assert [_raw(answer) for answer in answers] == [expected] * 20
        # An account that does not exist is still the application's to answer.
        assert _raw(await _send(started, missing)) == _raw(await _send(cold, missing))
        assert started.hot.answered == 20


async def test_validate_key_echoes_any_scope_byte_for_byte(
    app: FastAPI, cold: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """The lean handler renders the echoed scope with pydantic's serializer, the route with
    ``json.dumps``: escapes, non-ASCII text, empty strings and lists come out the same bytes."""
    policy = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy)
    url = f"{acme.base}/licenses/actions/validate-key"
    key = license["attributes"]["key"]
    # Control characters, but not NUL, which no text may hold (tests/test_nul.py).
    awkward = 'q"b\\s/\x01\x1f\n\t\x7f é 漢 😀 \u2028\u2029'
    scopes: list[dict[str, Any]] = [
        {"fingerprint": awkward},
        {"fingerprints": [awkward, "", "fp"], "product": ""},
        {"version": "1.0.0", "checksum": awkward, "components": []},
        {"entitlements": []},
        {},
    ]
    for scope in scopes:
        request: Request = ("POST", url, {}, _json({"meta": {"key": key, "scope": scope}}))
        hot = await _same(app, cold, request, lean=True)
        assert hot.json()["meta"]["scope"] == scope


async def test_validate_key_with_entitlements_is_answered_by_the_route(
    app: FastAPI, cold: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Entitlements are not kept with a cached license: a scope that names some is passed to
    the route (which reads them in one query), an empty one is answered from the cache."""
    policy = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy)
    feature = await factories.entitlement(client, acme, "FEATURE")
    assert (
        await factories.attach(client, acme, f"licenses/{license['id']}", [feature["id"]])
    ).status_code == 200
    url = f"{acme.base}/licenses/actions/validate-key"
    key = license["attributes"]["key"]
    await _same(app, cold, ("POST", url, {}, _json({"meta": {"key": key}})), lean=True)  # cached now
    for entitlements, lean, code in (
        (["FEATURE"], False, "VALID"),
        (["FEATURE", "OTHER"], False, "ENTITLEMENTS_MISSING"),
        ([], True, "ENTITLEMENTS_SCOPE_EMPTY"),
    ):
        body = _json({"meta": {"key": key, "scope": {"entitlements": entitlements}}})
        answer = await _same(app, cold, ("POST", url, {}, body), lean=lean)
        assert answer.json()["meta"]["code"] == code


async def test_validating_a_license_untouched_for_90_days_shows_it_active(
    app: FastAPI, cold: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """A license nobody validated for 90 days is INACTIVE until it is validated: the answer
    to that validation shows it just validated, so ACTIVE, from either path."""
    policy = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy)
    clock.advance(timedelta(days=91))
    url = f"{acme.base}/licenses/{license['id']}"
    shown = await client.get(url, headers=bearer(acme.key))
    assert shown.json()["data"]["attributes"]["status"] == "INACTIVE"

    validate = f"{acme.base}/licenses/actions/validate-key"
    body = _json({"meta": {"key": license["attributes"]["key"]}})
    for _ in range(2):  # the first fills the lean handler's cache, the second is read from it
        answer = await _same(app, cold, ("POST", validate, {}, body), lean=True)
        assert answer.json()["meta"]["code"] == "VALID"
        assert answer.json()["data"]["attributes"]["status"] == "ACTIVE"


async def test_a_database_failure_in_a_lean_handler_gets_the_frameworks_answer(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lean handler that meets a busy database (no pooled connection in time) answers as
    the framework does, in the API's envelope, without waiting for the database again: a
    503 with Retry-After while the database stays busy, the usual answer once it is back.
    Never a bare 500."""
    key = await factories.api_key(client, acme, name="cold")
    assert isinstance(app, Keyplane)
    engine = services_of(app).credentials
    real = engine.resolve
    busy = True

    async def resolve(session: Any, plaintext: str) -> Any:
        if busy:
            raise sqlalchemy.exc.TimeoutError("QueuePool limit reached")
        return await real(session, plaintext)

    monkeypatch.setattr(engine, "resolve", resolve)
    url = f"{acme.base}/api-keys/verify"
    refused = await client.post(url, json={"key": key["key"]}, headers=bearer(acme.key))
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "SERVICE_UNAVAILABLE"

    busy = False
    answered = await client.post(url, json={"key": key["key"]}, headers=bearer(acme.key))
    assert answered.status_code == 200
    assert answered.json()["valid"] is True
