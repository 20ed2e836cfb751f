"""What the web-framework guards share, with no framework imported: where the presented key
is read from, which answer each verification code gets, what happens when Keyplane cannot be
reached, and the opt-in cache. ``keyplane_client.fastapi`` and ``keyplane_client.django``
only adapt ``Guard`` and ``AsyncGuard`` to their framework.

Every refusal is answered with its HTTP status and a body ``{"detail": {"code", "message"}}``
whose ``code`` is Keyplane's verification code (``REVOKED``, ``INSUFFICIENT_SCOPE``, ...) or
one of the guard's own (``KEY_MISSING``, ``KEYPLANE_UNAVAILABLE``, ``KEYPLANE_REFUSED``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from keyplane_client.aio import AsyncKeyplane
from keyplane_client.client import Keyplane
from keyplane_client.errors import KeyplaneError, Unavailable, Unreachable
from keyplane_client.models import Scope, Verification

logger = logging.getLogger("keyplane_client.guard")

Clock = Callable[[], float]
"""Seconds from any fixed point (``time.monotonic``); the cache reads only differences."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request the guard turns away: its status, code and message, and for a 429 or 503
    the seconds to send as ``Retry-After``."""

    status: int
    code: str
    message: str
    retry_after: int | None = None

    def body(self) -> dict[str, dict[str, str]]:
        return {"detail": {"code": self.code, "message": self.message}}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    message: str


ANSWERS: Mapping[str, Answer | None] = {
    "VALID": None,  # let through: the handler receives the verification
    "MALFORMED": Answer(401, "The API key is not well formed"),
    "NOT_FOUND": Answer(401, "The API key is not known"),
    "REVOKED": Answer(401, "The API key has been revoked"),
    "INACTIVE": Answer(401, "The API key is inactive"),
    "EXPIRED": Answer(401, "The API key has expired"),
    "IP_NOT_ALLOWED": Answer(403, "The API key may not be used from this address"),
    "INSUFFICIENT_SCOPE": Answer(403, "The API key lacks a scope this endpoint needs"),
    "RATE_LIMITED": Answer(429, "The API key has spent its rate limit; retry after Retry-After seconds"),
}
"""The answer to each verification code Keyplane sends (a test checks this table against the
server's codes). A code this table does not know, from a newer server, is refused with 401."""

UNKNOWN_CODE = Answer(401, "The API key was refused")
KEY_MISSING = Refusal(401, "KEY_MISSING", "Send an API key as Authorization: Bearer <key> or X-API-Key")
UNAVAILABLE_MESSAGE = "The API key cannot be checked now; retry after Retry-After seconds"
REFUSED_MESSAGE = "The API key cannot be checked now"

UNVERIFIED = Verification(
    valid=False,
    code="UNVERIFIED",
    detail="Keyplane could not be reached and the guard fails open: the key was not checked",
)
"""What a handler receives from a guard with ``fail_open=True`` while Keyplane cannot be
reached: no key details, since nothing was checked."""

MAX_CACHE_TTL = 1.0
"""Keyplane's revocation bound: a revoked key stops working within a second. A client-side
cache may not stretch it further."""


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a request presents: ``Authorization: Bearer <key>`` (the scheme in any case),
    else ``X-API-Key: <key>``; None when neither holds one."""
    if authorization:
        scheme, _, credential = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return credential.strip()
    if x_api_key and x_api_key.strip():
        return x_api_key.strip()
    return None


def client_ip(host: str | None) -> str | None:
    """The caller's address as Keyplane takes it, or None when the framework's idea of it is
    not an IP address (a test client's name, a Unix socket): an IP-restricted key is then
    refused with ``IP_NOT_ALLOWED``, as Keyplane refuses one verified without an address."""
    if not host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def judge(verification: Verification, now: float) -> Refusal | None:
    """None to let the request through, else how to refuse it. ``now``: epoch seconds, for
    the ``Retry-After`` of ``RATE_LIMITED`` (until the key's window resets)."""
    code = verification.code
    answer = ANSWERS.get(code, UNKNOWN_CODE)
    if answer is None:
        return None
    retry_after = None
    if answer.status == 429:
        rate = verification.rate_limit
        retry_after = 1 if rate is None else max(1, rate.reset - int(now))
    return Refusal(answer.status, code, answer.message, retry_after)


def failed(error: KeyplaneError) -> Refusal:
    """The answer when Keyplane did not verify the key: 503 either way. Unreachable or busy,
    ``KEYPLANE_UNAVAILABLE`` (a fail-open guard lets it through); Keyplane refusing the guard's
    own API key (wrong, lacking ``READ``, rate limited), ``KEYPLANE_REFUSED``, never let
    through: that is a misconfiguration, not an outage."""
    if isinstance(error, Unreachable | Unavailable):
        told = error.retry_after if isinstance(error, Unavailable) else None
        return Refusal(503, "KEYPLANE_UNAVAILABLE", UNAVAILABLE_MESSAGE, told or 1)
    if error.field == "key" and error.status in (400, 422):
        # The presented key is not one Keyplane would even look up (too long, a NUL in it).
        return Refusal(401, "MALFORMED", "The API key is not well formed")
    told = getattr(error, "retry_after", None)
    return Refusal(503, "KEYPLANE_REFUSED", REFUSED_MESSAGE, told if isinstance(told, int) else None)


class VerificationCache:
    """Valid verifications kept for at most ``ttl`` seconds (at most ``MAX_CACHE_TTL``),
    found by key (its SHA-256, never the key itself), address and scopes, at most ``size``
    of them (the oldest goes first). A revoked or deactivated key may pass for up to ``ttl``
    more seconds. Refusals are never kept (a key made valid again works at once), nor
    verifications of a rate-limited key: each of its uses must reach Keyplane to be counted.
    Thread-safe."""

    def __init__(self, ttl: float, *, size: int = 10_000, clock: Clock = time.monotonic) -> None:
        if not 0 < ttl <= MAX_CACHE_TTL:
            raise ValueError(f"cache_ttl must be more than 0 and at most {MAX_CACHE_TTL} s, not {ttl}")
        if size < 1:
            raise ValueError(f"the cache's size must be at least 1, not {size}")
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._kept: OrderedDict[tuple[bytes, str | None, tuple[str, ...]], tuple[float, Verification]]
        self._kept = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _entry(key: str, ip: str | None, scopes: Sequence[str]) -> tuple[bytes, str | None, tuple[str, ...]]:
        return hashlib.sha256(key.encode()).digest(), ip, tuple(sorted(scopes))

    def get(self, key: str, ip: str | None, scopes: Sequence[str]) -> Verification | None:
        entry = self._entry(key, ip, scopes)
        with self._lock:
            found = self._kept.get(entry)
            if found is None:
                return None
            if self._clock() >= found[0]:
                del self._kept[entry]
                return None
            return found[1]

    def put(self, key: str, ip: str | None, scopes: Sequence[str], verification: Verification) -> None:
        if not verification.valid or verification.rate_limit is not None:
            return
        entry = self._entry(key, ip, scopes)
        with self._lock:
            self._kept.pop(entry, None)
            self._kept[entry] = (self._clock() + self.ttl, verification)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


def cache_for(ttl: float, clock: Clock) -> VerificationCache | None:
    """The cache a guard with ``cache_ttl=ttl`` keeps: none for 0 (the default)."""
    if ttl == 0:
        return None
    return VerificationCache(ttl, clock=clock)


def settings_from(values: Mapping[str, str | None]) -> tuple[str, str]:
    """``KEYPLANE_URL`` and ``KEYPLANE_API_KEY`` from ``values``, or a ValueError naming what
    is missing."""
    url, api_key = values.get("KEYPLANE_URL"), values.get("KEYPLANE_API_KEY")
    missing = [name for name, value in (("KEYPLANE_URL", url), ("KEYPLANE_API_KEY", api_key)) if not value]
    if missing or url is None or api_key is None:
        raise ValueError(f"set {' and '.join(missing)} (or pass a client) for Keyplane's guard")
    return url, api_key


def settings_from_env() -> tuple[str, str]:
    return settings_from(os.environ)


class _Rules:
    """What a guard decides around the call to Keyplane, shared by both guards."""

    def __init__(self, fail_open: bool, cache: VerificationCache | None) -> None:
        self.fail_open = fail_open
        self.cache = cache

    def failed(self, error: KeyplaneError) -> Verification | Refusal:
        refusal = failed(error)
        if refusal.code == "KEYPLANE_UNAVAILABLE" and self.fail_open:
            logger.warning("keyplane.guard.failed_open: %s", error.code)
            return UNVERIFIED
        if refusal.status == 503:
            logger.warning("keyplane.guard.%s: %s", refusal.code.lower(), error)
        return refusal

    def verified(
        self, key: str, ip: str | None, scopes: Sequence[str], verification: Verification
    ) -> Verification | Refusal:
        if self.cache is not None:
            self.cache.put(key, ip, scopes, verification)
        return judge(verification, time.time()) or verification


class Guard:
    """Checks a request's key with the sync client: the verification to hand to the
    handler, or the refusal to answer with."""

    def __init__(self, client: Keyplane, *, fail_open: bool = False, cache: VerificationCache | None = None):
        self.client = client
        self._rules = _Rules(fail_open, cache)

    def check(self, key: str | None, ip: str | None, scopes: Sequence[Scope]) -> Verification | Refusal:
        if key is None:
            return KEY_MISSING
        cache = self._rules.cache
        kept = None if cache is None else cache.get(key, ip, scopes)
        if kept is not None:
            return kept
        try:
            verification = self.client.api_keys.verify(key, ip=ip, scopes=scopes)
        except KeyplaneError as error:
            return self._rules.failed(error)
        return self._rules.verified(key, ip, scopes, verification)


class AsyncGuard:
    """``Guard`` with the async client."""

    def __init__(
        self, client: AsyncKeyplane, *, fail_open: bool = False, cache: VerificationCache | None = None
    ):
        self.client = client
        self._rules = _Rules(fail_open, cache)

    async def check(self, key: str | None, ip: str | None, scopes: Sequence[Scope]) -> Verification | Refusal:
        if key is None:
            return KEY_MISSING
        cache = self._rules.cache
        kept = None if cache is None else cache.get(key, ip, scopes)
        if kept is not None:
            return kept
        try:
            verification = await self.client.api_keys.verify(key, ip=ip, scopes=scopes)
        except KeyplaneError as error:
            return self._rules.failed(error)
        return self._rules.verified(key, ip, scopes, verification)
