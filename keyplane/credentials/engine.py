"""One check for every credential, whether it authenticates a request or is verified for a
vendor's backend.

``CredentialState`` is everything the check needs and nothing it does not (no plaintext),
so it can be kept in a cache and re-checked against the clock and the caller's address on
every use.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane import outages
from keyplane.auth.network import Address, allowed
from keyplane.auth.scopes import SCOPE_NAMES, Scope, role_scopes
from keyplane.cache import Caches, TaggedCache
from keyplane.credentials import repository
from keyplane.db import ReadFirst, holds_connection
from keyplane.kit.credentials import CredentialHasher, CredentialKind, generate, parse
from keyplane.kit.memo import Memo
from keyplane.models import Credential
from keyplane.models.credential import CredentialStatus


class Outcome(StrEnum):
    VALID = "VALID"
    MALFORMED = "MALFORMED"
    NOT_FOUND = "NOT_FOUND"
    REVOKED = "REVOKED"
    INACTIVE = "INACTIVE"
    EXPIRED = "EXPIRED"
    IP_NOT_ALLOWED = "IP_NOT_ALLOWED"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
    RATE_LIMITED = "RATE_LIMITED"


DETAILS = {
    Outcome.VALID: "is valid",
    Outcome.MALFORMED: "is not a well-formed Keyplane credential",
    Outcome.NOT_FOUND: "does not exist",
    Outcome.REVOKED: "has been deleted",
    Outcome.INACTIVE: "is inactive",
    Outcome.EXPIRED: "is expired",
    Outcome.IP_NOT_ALLOWED: "may not be used from this address",
    Outcome.INSUFFICIENT_SCOPE: "lacks a required scope",
    Outcome.RATE_LIMITED: "has exceeded its rate limit",
}


@dataclass(frozen=True, slots=True)
class CredentialState:
    id: uuid.UUID
    account_id: uuid.UUID
    user_id: uuid.UUID | None
    product_id: uuid.UUID | None
    """A product token's product (then ``user_id`` is None and ``role`` is ``product``)."""
    parent_id: uuid.UUID | None
    kind: CredentialKind
    digest: bytes
    role: str
    scopes: frozenset[Scope]
    """Effective scopes: the credential's own, within what its owner's role allows."""
    status: CredentialStatus
    deleted: bool
    expires_at: datetime | None
    whitelisted_ips: tuple[str, ...] | None
    api_version: str | None
    name: str | None
    rate_limit: tuple[int, int] | None
    """(requests, window seconds), or None for unlimited; for an access token, its key's."""
    limit_id: uuid.UUID
    """Whose budget a use counts against: the credential's own, or an access token's key's."""
    budget_id: uuid.UUID | None
    """The key whose budget a use spends too (``Credential.budget_id``; an access token's
    key's), or None."""
    budgets: tuple[tuple[str, int, int, bool], ...]
    """Every (counter, requests, window seconds, shared) one use counts against: ``rate_limit``
    under ``limit_id``, then the shared budget under ``budget_id``. Empty: unlimited, and no
    limiter call."""
    license_id: uuid.UUID | None = None
    """A license token's license (then ``user_id`` is None and ``role`` is ``license``)."""
    answers: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    """Verification answers rendered from this state, by code: they depend on nothing else
    (without a rate limit), and live and die with the state's cache entry."""
    noted_until: datetime = field(default=datetime.min.replace(tzinfo=UTC), compare=False, repr=False)
    """Uses before this instant need not be recorded (``UsageRecorder.record``): bookkeeping of
    this process, not part of what the state says (as ``served``)."""
    served: Served | None = field(default=None, compare=False, repr=False)
    """The last verification of this key answered from memory, kept for the next one by the
    same caller (``keyplane.api_keys.lean.verify_from_memory``): bookkeeping, like
    ``noted_until``, written by ``keep`` only. A field rather than an entry in a memo of
    its own: it lives and dies with the state's cache entry, and costs no lookup."""

    def keep(self, served: Served) -> None:
        """Keep ``served`` with this state (bookkeeping: the state itself stays as it is)."""
        object.__setattr__(self, "served", served)

    def verdict(
        self, now: datetime, address: Address | None, required: frozenset[Scope] = frozenset()
    ) -> Verdict:
        """The first rule this credential breaks for this use, in a fixed order, or VALID;
        and until when that stands. A rule that depends on the time gives its instant
        here, beside the rule itself: what is kept of a verdict (``keyplane.api_keys.lean``)
        is kept until then and no longer."""
        if self.deleted:
            return _REVOKED
        if self.status != CredentialStatus.ACTIVE:
            return _INACTIVE
        expires = self.expires_at
        if expires is not None and expires <= now:
            return _EXPIRED
        if self.whitelisted_ips is not None and not allowed(address, self.whitelisted_ips):
            return _IP_NOT_ALLOWED if expires is None else Verdict(Outcome.IP_NOT_ALLOWED, expires)
        if not required <= self.scopes:
            return _INSUFFICIENT_SCOPE if expires is None else Verdict(Outcome.INSUFFICIENT_SCOPE, expires)
        return _VALID if expires is None else Verdict(Outcome.VALID, expires)

    def evaluate(
        self, now: datetime, address: Address | None, required: frozenset[Scope] = frozenset()
    ) -> Outcome:
        """``verdict``'s outcome."""
        return self.verdict(now, address, required).outcome


class Served(NamedTuple):
    """A verification of a key answered from memory, as ``keyplane.api_keys.lean`` keeps it
    on the key's state for the next one by the same caller asking for the same version."""

    caller: CredentialState
    """The verifying credential's state (compared by identity: a changed caller is a new state)."""
    asked: bytes | None
    """The ``Keyplane-Version`` the request asked for, as sent."""
    until: datetime
    """The first instant the answer may change: the earlier of the two verdicts' ``until``,
    or a use of either credential that is due to be recorded."""
    body: bytes
    length: tuple[bytes, bytes]
    """The ``Content-Length`` header."""
    version: tuple[bytes, bytes]
    """The ``Keyplane-Version`` header."""
    code: str
    """The verification's code (for the metrics)."""


FOREVER = datetime.max.replace(tzinfo=UTC)
"""The instant a verdict that no time can change stands until."""


class Verdict(NamedTuple):
    outcome: Outcome
    until: datetime
    """The first instant at which the same use (address, scopes) may come out otherwise: an
    expiry; ``FOREVER`` when only a change of the credential itself (which replaces its
    state) can change it."""


# The verdicts no time changes, made once (a verdict is made on every request).
_REVOKED = Verdict(Outcome.REVOKED, FOREVER)
_INACTIVE = Verdict(Outcome.INACTIVE, FOREVER)
_EXPIRED = Verdict(Outcome.EXPIRED, FOREVER)
_IP_NOT_ALLOWED = Verdict(Outcome.IP_NOT_ALLOWED, FOREVER)
_INSUFFICIENT_SCOPE = Verdict(Outcome.INSUFFICIENT_SCOPE, FOREVER)
_VALID = Verdict(Outcome.VALID, FOREVER)


_blake2s = hashlib.blake2s


def cache_key(plaintext: str) -> bytes:
    """What the caches know a presented credential by: its BLAKE2s-256 hash, a third of the
    stored HMAC's cost, on every request. No secret is needed here: a credential has 256
    bits of entropy, so its hash reveals nothing and nobody finds another credential with
    the same one; the HMAC, which keeps a database dump useless without the server secret,
    is computed only to compare with the stored digest on a miss."""
    return _blake2s(plaintext.encode()).digest()


Rehash = Callable[[uuid.UUID, bytes, bytes], None]
"""Told (credential id, stored digest, digest under the current secret) of a credential found
hashed under a former server secret."""

_UNKNOWN = Outcome.NOT_FOUND
# Shared by every cached state that has them, so that a large cache holds one copy each: a
# few combinations of scopes, a few accounts.
_SCOPE_SETS: Memo[frozenset[Scope], frozenset[Scope]] = Memo("scope sets of credentials", 1_024)
_ACCOUNTS: Memo[uuid.UUID, uuid.UUID] = Memo("account ids of credentials", 10_000)
_FAILED = object()
_UNAVAILABLE = object()


class CredentialEngine:
    """Mints credentials and resolves presented ones, through a cache of verified states.

    A hit costs a BLAKE2s hash (``cache_key``) and a dictionary read: no I/O. An unknown key is
    remembered briefly too (in a smaller cache of its own, so a flood of made-up keys cannot
    push out the real ones), and a malformed one never gets past the format check.
    """

    def __init__(
        self,
        hasher: CredentialHasher,
        caches: Caches | None = None,
        *,
        size: int = 0,
        ttl: float = 60.0,
        miss_ttl: float = 5.0,
        read_first: ReadFirst | None = None,
        previous: tuple[CredentialHasher, ...] = (),
        rehash: Rehash | None = None,
    ) -> None:
        self.hasher = hasher
        self._previous = previous
        """Hashers of the former server secrets (``secret_key_previous``), tried on a miss
        only when the current one does not match: a rotation under way."""
        self._rehash = rehash
        """Told of each credential found hashed under a former secret, to store its digest
        under the current one (``UsageRecorder.rehash``: batched, off the request's path)."""
        self.caches = caches or Caches()
        self._read_first = read_first
        """``Database.read_first``: a miss read without a session when the database allows."""
        self._known: TaggedCache[bytes, CredentialState] = self.caches.cache("credentials", size, ttl)
        self._loading: dict[bytes, asyncio.Future[CredentialState | object | None]] = {}
        self._unknown: TaggedCache[bytes, Outcome] = self.caches.cache(
            "unknown credentials", max(size // 10, min(size, 1_000)), miss_ttl
        )

    def cached(self, plaintext: str) -> CredentialState | None:
        """The verified state of a cached credential (no I/O), or None.

        Only well-formed credentials are ever cached, so a hit needs no format check.
        """
        return self._known.get(_blake2s(plaintext.encode()).digest())  # cache_key, inlined

    def peek(self, plaintext: str) -> tuple[Outcome, CredentialState | None] | None:
        """What ``resolve`` answers when that needs no I/O (cached, malformed), else None."""
        return self._peek(plaintext, cache_key(plaintext))

    def _peek(self, plaintext: str, key: bytes) -> tuple[Outcome, CredentialState | None] | None:
        state = self._known.get(key)
        if state is not None:
            return Outcome.VALID, state
        if parse(plaintext) is None:
            return Outcome.MALFORMED, None
        if self._unknown.get(key) is not None:
            return Outcome.NOT_FOUND, None
        return None

    def mint(self, kind: CredentialKind, **columns: Any) -> tuple[Credential, str]:
        """A new active credential row (not yet in a session) and its plaintext.

        The plaintext is for the caller to show once; the row keeps only the lookup handle,
        the keyed digest and the non-secret ``start`` preview.
        """
        plaintext, parsed = generate(kind)
        row = Credential(
            kind=kind,
            lookup=parsed.lookup,
            digest=self.hasher.digest(plaintext),
            start=parsed.start,
            status=CredentialStatus.ACTIVE,
            **columns,
        )
        return row, plaintext

    async def resolve(self, session: AsyncSession, plaintext: str) -> tuple[Outcome, CredentialState | None]:
        """MALFORMED or NOT_FOUND, or the credential's state (to be evaluated by the caller).

        A malformed credential costs no I/O. A wrong secret behind a real lookup handle is
        NOT_FOUND, the same answer as an unknown handle, compared in constant time.
        """
        key = cache_key(plaintext)
        peeked = self._peek(plaintext, key)
        if peeked is not None:
            return peeked
        parsed = parse(plaintext)
        assert parsed is not None
        leader = self._loading.get(key)
        if leader is not None and not holds_connection(session):
            # Another request is reading this very credential: its answer is ours too, so
            # a cold or expired entry under load costs one database read, not one each. A
            # request already holding a pooled connection reads for itself instead: were it
            # to wait, the leader could be waiting for that very connection.
            loaded = await asyncio.shield(leader)
            if loaded is _UNAVAILABLE:
                raise outages.DatabaseUnavailable(
                    "the read this request waited for could not reach the database"
                )
            if loaded is None:
                return Outcome.NOT_FOUND, None
            if isinstance(loaded, CredentialState):
                return Outcome.VALID, loaded
        generation = self.caches.generation()
        future: asyncio.Future[CredentialState | object | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            state = await self._load(session, parsed.lookup, plaintext, self.hasher.digest(plaintext))
        except BaseException as error:
            # The others read it themselves; unless the database is unavailable: then they
            # fail at once, rather than wait out its timeout a second time.
            future.set_result(_UNAVAILABLE if outages.unavailable(error) else _FAILED)
            raise
        else:
            future.set_result(state)
        finally:
            if self._loading.get(key) is future:
                del self._loading[key]
        if state is None:
            # A key is random: one that is unknown now can only become known by being
            # minted with the same 256 bits, so the miss needs no tags.
            self._unknown.put(key, _UNKNOWN, (), generation)
            return Outcome.NOT_FOUND, None
        tags = (
            state.id,
            state.parent_id,
            state.user_id,
            state.product_id,
            state.account_id,
            state.budget_id,
            state.license_id,
        )
        self._known.put(key, state, tags, generation)
        return Outcome.VALID, state

    async def _load(
        self, session: AsyncSession, lookup: str, plaintext: str, digest: bytes
    ) -> CredentialState | None:
        row = await repository.state_row(session, lookup, self._read_first)
        if row is None:
            return None
        if not hmac.compare_digest(digest, row.digest) and not self._formerly(row, plaintext, digest):
            return None
        stored = frozenset(Scope(scope) for scope in row.scopes if scope in SCOPE_NAMES)
        # An access token shares its key's budget: minting tokens never buys more requests.
        own = (
            _pair(row.parent_rate_limit, row.parent_rate_limit_duration)
            if row.parent_id is not None
            else _pair(row.rate_limit, row.rate_limit_duration)
        )
        limit_id = row.parent_id or row.id
        budgets = [(str(limit_id), *own, False)] if own else []
        shared = _pair(row.budget_rate_limit, row.budget_rate_limit_duration)
        if shared is not None and row.budget_id != limit_id:
            budgets.append((str(row.budget_id), *shared, True))
        scopes = stored & role_scopes(row.role)
        return CredentialState(
            id=row.id,
            account_id=_ACCOUNTS.keep(row.account_id, row.account_id),
            user_id=row.user_id,
            product_id=row.product_id,
            parent_id=row.parent_id,
            kind=CredentialKind(row.kind),
            digest=digest,
            role=row.role,
            scopes=_SCOPE_SETS.keep(scopes, scopes),
            status=row.status,
            deleted=row.deleted_at is not None,
            expires_at=row.expires_at,
            whitelisted_ips=tuple(row.whitelisted_ips) if row.whitelisted_ips else None,
            api_version=row.api_version,
            name=row.name,
            rate_limit=own,
            limit_id=limit_id,
            budget_id=row.budget_id,
            budgets=tuple(budgets),
            license_id=row.license_id,
        )

    def _formerly(self, row: Row[Any], plaintext: str, digest: bytes) -> bool:
        """Whether the stored digest is the credential's under a former server secret; if so,
        its digest under the current one (``digest``) is to take its place."""
        for hasher in self._previous:
            if hasher.matches(plaintext, row.digest):
                if self._rehash is not None:
                    self._rehash(row.id, row.digest, digest)
                return True
        return False


def _pair(limit: int | None, duration: int | None) -> tuple[int, int] | None:
    return (limit, duration) if limit is not None and duration is not None else None
