"""The rules of API keys. Flushes, never commits: the request's session does that."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane import ratelimit
from keyplane.api_keys import repository
from keyplane.api_keys.schemas import ApiKeyCreate, ApiKeyQuery, ApiKeyUpdate
from keyplane.auth.network import Network, parse_address, parse_network
from keyplane.auth.principal import Principal
from keyplane.auth.scopes import Scope, ordered, role_scopes
from keyplane.credentials import repository as credentials
from keyplane.credentials import versions
from keyplane.credentials.authentication import judge
from keyplane.credentials.engine import CredentialEngine, CredentialState, Outcome
from keyplane.errors import BadRequest, Forbidden, NotFound, Unprocessable
from keyplane.events import service as events
from keyplane.events.batch import EventBatch
from keyplane.events.names import EventName, ResourceType
from keyplane.kit import clock
from keyplane.kit.actor import ActorType, Origin, Whodunnit
from keyplane.kit.credentials import CredentialKind
from keyplane.models import Credential, Event
from keyplane.models.credential import CredentialStatus
from keyplane.ratelimit import Decision, RateLimiter
from keyplane.users import repository as users

REFUSALS_THAT_MATTER = frozenset({Outcome.REVOKED, Outcome.INACTIVE, Outcome.EXPIRED, Outcome.IP_NOT_ALLOWED})
"""A key that exists and was refused for what was done to it or where it came from: the
event log notes each such use (a malformed or unknown key names no key; a missing scope is
the caller's mistake, not the key's)."""


class RefusedUses:
    """Refused uses of API keys that matter, noted for the event log's next batch (a refusal
    is an answer, not a change: its event must not wait for, or roll back with, a transaction)."""

    def __init__(self, batch: EventBatch) -> None:
        self._batch = batch

    def _note(
        self, event: EventName, state: CredentialState, outcome: Outcome, who: Whodunnit, origin: Origin
    ) -> None:
        if outcome in REFUSALS_THAT_MATTER and state.kind is CredentialKind.API_KEY:
            self._batch.note(state.account_id, event, state.id, who, origin, {"code": outcome.value})

    def authentication(self, state: CredentialState, outcome: Outcome, origin: Origin) -> None:
        """The key was used on Keyplane's own API: whoever holds it acted."""
        who = Whodunnit(ActorType.API_KEY, state.id)
        self._note(EventName.API_KEY_AUTHENTICATION_REFUSED, state, outcome, who, origin)

    def verification(self, state: CredentialState, outcome: Outcome, who: Whodunnit, origin: Origin) -> None:
        """The key was presented to ``POST /api-keys/verify`` by ``who``."""
        self._note(EventName.API_KEY_VERIFICATION_REFUSED, state, outcome, who, origin)


def _owner_filter(principal: Principal) -> uuid.UUID | None:
    """Whose keys the caller may see: everyone's with MANAGE, else only its owner's."""
    return None if principal.has(Scope.MANAGE) else principal.user_id


def may_change(principal: Principal, key: Credential) -> bool:
    """Whether ``principal`` may change or delete ``key`` at all (its scopes aside): its own
    keys, or anyone's with MANAGE."""
    return key.user_id == principal.user_id or principal.has(Scope.MANAGE)


async def get(
    session: AsyncSession, principal: Principal, key_id: uuid.UUID, *, lock: bool = False
) -> Credential:
    conditions = repository.visible(principal.account.id, _owner_filter(principal), None)
    key = await repository.get(session, conditions, key_id, lock=lock)
    if key is None:
        raise NotFound("The requested API key was not found", "NOT_FOUND")
    return key


def _check_scopes(principal: Principal, scopes: set[Scope]) -> None:
    """No credential hands out scopes it does not hold itself."""
    excess = scopes - principal.scopes
    if excess:
        raise Forbidden(
            f"A credential cannot grant scopes it does not hold: {', '.join(ordered(excess))}",
            "SCOPE_NOT_GRANTABLE",
            pointer="scopes",
        )


def _check_networks(principal: Principal, networks: list[str] | None) -> None:
    """An IP-restricted credential only hands out keys restricted within its own ranges."""
    if principal.whitelisted_ips is None:
        return
    if not networks:  # None or []: both mean "anywhere", which this credential cannot grant
        raise Forbidden(
            "This credential is IP-restricted, so the keys it manages must be restricted too",
            "WHITELISTED_IPS_REQUIRED",
            pointer="whitelistedIPs",
        )
    mine = [parse_network(entry) for entry in principal.whitelisted_ips]
    for entry in networks:
        network = parse_network(entry)
        if not any(_within(network, own) for own in mine):
            raise Forbidden(
                f"{entry} lies outside this credential's own whitelistedIPs",
                "WHITELISTED_IPS_NOT_GRANTABLE",
                pointer="whitelistedIPs",
            )


def _within(network: Network, outer: Network) -> bool:
    if isinstance(network, IPv4Network) and isinstance(outer, IPv4Network):
        return network.subnet_of(outer)
    if isinstance(network, IPv6Network) and isinstance(outer, IPv6Network):
        return network.subnet_of(outer)
    return False


def _check_role(role: str, scopes: set[Scope]) -> None:
    excess = scopes - role_scopes(role)
    if excess:
        raise Unprocessable(
            f"The key's owner has role '{role}', which does not allow {', '.join(ordered(excess))}",
            "SCOPES_NOT_ALLOWED",
            pointer="scopes",
        )


async def create(
    session: AsyncSession, engine: CredentialEngine, principal: Principal, data: ApiKeyCreate
) -> tuple[Credential, str]:
    """A new API key and its plaintext, which the caller shows once and forgets."""
    if data.organization_id is not None and str(data.organization_id) not in (
        str(principal.account.id),
        principal.account.slug,
    ):
        raise Unprocessable(
            "organizationId must be the account this request is made in",
            "ORGANIZATION_ID_INVALID",
            pointer="organizationId",
        )
    owner_id = data.user_id or principal.user_id
    if owner_id is None:  # the system owns no keys: it makes them for a user it names
        raise Unprocessable("userId names the key's owner", "USER_NOT_FOUND", pointer="userId")
    if owner_id != principal.user_id and not principal.has(Scope.MANAGE):
        raise Forbidden("Creating a key for another user needs the MANAGE scope", "INSUFFICIENT_SCOPE")
    owner = await users.by_id(session, principal.account.id, owner_id)
    if owner is None:
        raise Unprocessable(
            f"User '{owner_id}' does not exist in this account", "USER_NOT_FOUND", pointer="userId"
        )
    owner_scopes = role_scopes(owner.role)
    scopes = set(data.scopes) if data.scopes is not None else set(principal.scopes & owner_scopes)
    if not scopes:
        raise Unprocessable("A key needs at least one scope", "SCOPES_MISSING", pointer="scopes")
    networks = data.whitelisted_ips
    if networks is None and principal.whitelisted_ips is not None:
        networks = list(principal.whitelisted_ips)
    _check_scopes(principal, scopes)
    _check_networks(principal, networks)
    _check_role(owner.role, scopes)
    rate_limit = _bounded_rate_limit(principal, data)

    now = clock.now()
    expires_at = data.expires_at
    if expires_at is not None and expires_at <= now:
        raise Unprocessable("expiresAt must be in the future", "EXPIRES_AT_INVALID", pointer="expiresAt")
    if principal.expires_at is not None and (expires_at is None or expires_at > principal.expires_at):
        # A key made by an expiring credential cannot outlive it.
        expires_at = principal.expires_at

    key, plaintext = engine.mint(
        CredentialKind.API_KEY,
        account_id=principal.account.id,
        user_id=owner.id,
        name=data.name,
        description=data.description,
        scopes=ordered(scopes),
        whitelisted_ips=networks or None,
        api_version=data.api_version or versions.CURRENT,
        expires_at=expires_at,
        rate_limit=rate_limit[0] if rate_limit else None,
        rate_limit_duration=rate_limit[1] if rate_limit else None,
        budget_id=_shared_budget(principal),
    )
    added = await repository.add(session, key)
    await events.record(session, principal, EventName.API_KEY_CREATED, added.id)
    return added, plaintext


def _bounded_rate_limit(principal: Principal, data: ApiKeyCreate) -> tuple[int, int] | None:
    """The new key's (requests, window seconds). A caller whose own key is rate-limited, and
    who may not set limits (no MANAGE), cannot make an unlimited key to get round its own:
    the new key gets the caller's limit when none is asked for, and may ask only for one as
    tight or tighter (no more requests a window, no shorter window). Its uses spend its own
    budget and the caller's (``_shared_budget``)."""
    asked = data.rate_limit
    wanted = (asked.limit, asked.duration) if asked else None
    bound = principal.rate_limit
    if bound is None or principal.has(Scope.MANAGE):
        return wanted
    if "rate_limit" not in data.model_fields_set:
        return bound
    if wanted is None or wanted[0] > bound[0] or wanted[1] < bound[1]:
        raise Forbidden(
            f"A key made by a key limited to {bound[0]} requests per {bound[1]} seconds cannot have "
            "a looser rateLimit without the MANAGE scope",
            "INSUFFICIENT_SCOPE",
            pointer="rateLimit",
        )
    return wanted


def _shared_budget(principal: Principal) -> uuid.UUID | None:
    """The budget a new key spends besides its own: its maker's, when the maker is held to
    a limit it may not lift (no MANAGE). Otherwise a limited key could make keys, each with
    a budget as large as its own, and multiply its requests."""
    if principal.rate_limit is None or principal.has(Scope.MANAGE):
        return None
    return principal.budget_id


def _change_version(key: Credential, target: str) -> None:
    current = key.api_version or versions.CURRENT
    if target == current:
        return
    now = clock.now()
    if target > current:
        key.api_version_previous = current
        key.api_version_updated_at = now
        key.api_version_downgrade_not_allowed_after = now + versions.DOWNGRADE_WINDOW
        key.api_version = target
        return
    window = key.api_version_downgrade_not_allowed_after
    if window is None or now > window or target != key.api_version_previous:
        allowed = (
            f" (only back to {key.api_version_previous} until {window.isoformat()})"
            if window and now <= window
            else ""
        )
        raise Unprocessable(
            f"This key cannot be downgraded from {current} to {target}{allowed}",
            "API_VERSION_DOWNGRADE_NOT_ALLOWED",
            pointer="apiVersion",
        )
    key.api_version = target
    key.api_version_previous = None
    key.api_version_updated_at = now
    key.api_version_downgrade_not_allowed_after = now


def _change_rate_limit(principal: Principal, key: Credential, data: ApiKeyUpdate) -> None:
    """A key's limit is its vendor's to set: without MANAGE, a customer could lift it."""
    limit = data.rate_limit
    wanted = (limit.limit, limit.duration) if limit else (None, None)
    if wanted == (key.rate_limit, key.rate_limit_duration):
        return
    if not principal.has(Scope.MANAGE):
        raise Forbidden(
            "Changing a key's rateLimit needs the MANAGE scope", "INSUFFICIENT_SCOPE", pointer="rateLimit"
        )
    key.rate_limit, key.rate_limit_duration = wanted
    key.budget_id = None  # the vendor set this key's limit: from now on its budget is its own


async def update(
    session: AsyncSession, principal: Principal, key_id: uuid.UUID, data: ApiKeyUpdate
) -> Credential:
    key = await get(session, principal, key_id, lock=True)
    if key.deleted_at is not None:
        raise Unprocessable("A deleted key cannot be changed", "API_KEY_DELETED")
    if not may_change(principal, key):
        raise Forbidden("Changing another user's key needs the MANAGE scope", "INSUFFICIENT_SCOPE")
    sent = data.model_fields_set
    was_active = key.status is CredentialStatus.ACTIVE
    if "rate_limit" in sent:
        _change_rate_limit(principal, key, data)
    if "whitelisted_ips" not in sent:
        # An IP-restricted caller manages only keys it could have created itself.
        _check_networks(principal, key.whitelisted_ips)
    narrowed = False
    if "scopes" in sent:
        if not data.scopes:
            raise Unprocessable("A key needs at least one scope", "SCOPES_MISSING", pointer="scopes")
        scopes = set(data.scopes)
        _check_scopes(principal, scopes - set(map(Scope, key.scopes)))
        owner = key.user_id and await users.by_id(session, principal.account.id, key.user_id)
        _check_role(owner.role if owner else "", scopes)
        narrowed |= not scopes >= set(map(Scope, key.scopes))
        key.scopes = ordered(scopes)
    if "whitelisted_ips" in sent:
        _check_networks(principal, data.whitelisted_ips)
        narrowed = True
        key.whitelisted_ips = data.whitelisted_ips or None
    if "name" in sent:
        key.name = data.name
    if "description" in sent:
        key.description = data.description
    if "api_version" in sent and data.api_version is not None:
        _change_version(key, data.api_version)
    if "status" in sent and data.status is not None and data.status != key.status:
        if (
            data.status == CredentialStatus.ACTIVE
            and key.deactivated_by not in (None, principal.user_id)
            and not principal.has(Scope.MANAGE)
        ):
            # An administrator's deactivation sticks: the owner cannot simply undo it.
            raise Forbidden(
                "This key was deactivated by someone else; reactivating it needs the MANAGE scope",
                "REACTIVATION_NOT_ALLOWED",
                pointer="status",
            )
        narrowed |= data.status == CredentialStatus.INACTIVE
        key.status = data.status
        key.deactivated_by = principal.user_id if data.status == CredentialStatus.INACTIVE else None
    event = EventName.API_KEY_UPDATED
    if was_active != (key.status is CredentialStatus.ACTIVE):
        event = (
            EventName.API_KEY_REACTIVATED
            if key.status is CredentialStatus.ACTIVE
            else EventName.API_KEY_DEACTIVATED
        )
    await events.record(session, principal, event, key.id, changed=key)
    key.updated_at = clock.now()
    if narrowed:
        # Access tokens issued for this key carry its old power: they go.
        await credentials.revoke_children(session, key.id, key.updated_at)
    await session.flush()
    return key


async def expiring(
    session: AsyncSession, principal: Principal, until: datetime, limit: int
) -> Sequence[Credential]:
    """The active keys the caller may see that expire by ``until``, soonest first."""
    conditions = repository.visible(principal.account.id, _owner_filter(principal), CredentialStatus.ACTIVE)
    return await repository.expiring(session, conditions, until, limit)


async def history(session: AsyncSession, principal: Principal, key_id: uuid.UUID, limit: int) -> list[Event]:
    """The key's latest ``limit`` events, newest first, for whoever may see the key (deleted
    keys included: their history outlives them)."""
    key = await get(session, principal, key_id)
    return await events.of_resource(session, principal.account, ResourceType.API_KEY, key.id, limit)


async def delete(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> None:
    key = await get(session, principal, key_id, lock=True)
    if not may_change(principal, key):
        raise Forbidden("Deleting another user's key needs the MANAGE scope", "INSUFFICIENT_SCOPE")
    if key.deleted_at is not None:
        raise NotFound("The requested API key was not found", "NOT_FOUND")
    now = clock.now()
    key.deleted_at = now
    key.status = CredentialStatus.INACTIVE
    await events.record(session, principal, EventName.API_KEY_DELETED, key.id)
    key.updated_at = now
    await credentials.revoke_children(session, key.id, now)
    await session.flush()


@dataclass(frozen=True, slots=True)
class Page:
    keys: Sequence[Credential]
    total: int
    next_after: uuid.UUID | None
    previous_before: uuid.UUID | None


async def _anchor(
    session: AsyncSession, conditions: list[ColumnElement[bool]], anchor: uuid.UUID | None, name: str
) -> Credential | None:
    if anchor is None:
        return None
    key = await repository.get(session, conditions, anchor)
    if key is None:
        raise BadRequest(f"{name} names no API key in this list", f"{_snake(name)}_INVALID", parameter=name)
    return key


def _snake(name: str) -> str:
    return "".join(f"_{c}" if c.isupper() else c.upper() for c in name)


async def list_page(session: AsyncSession, principal: Principal, query: ApiKeyQuery) -> Page:
    if query.starting_after is not None and query.ending_before is not None:
        raise BadRequest(
            "Use startingAfter or endingBefore, not both", "PARAMETERS_INVALID", parameter="endingBefore"
        )
    owner = _owner_filter(principal)
    conditions = repository.filtered(
        repository.visible(principal.account.id, owner, query.status),
        name=query.name,
        user_id=query.user_id,
        search=query.search,
    )
    # A cursor may name a key that changed status (or name) since the page was served: the
    # order is total, so it still marks the place, as long as the caller may see that key.
    anyone = repository.visible(principal.account.id, owner, None)
    after = await _anchor(session, anyone, query.starting_after, "startingAfter")
    before = await _anchor(session, anyone, query.ending_before, "endingBefore")
    sort = query.sort
    keys, more = await repository.page(
        session,
        conditions,
        limit=query.limit,
        offset=query.offset,
        after=after,
        before=before,
        sort=None if sort is None else sort.field,
        descending=True if sort is None else sort.descending,
    )
    total = await repository.count(session, conditions)
    if not keys:
        return Page(keys, total, None, None)
    if before is not None:
        has_next, has_previous = True, more
    else:
        has_next, has_previous = more, after is not None or query.offset > 0
    return Page(
        keys,
        total,
        keys[-1].id if has_next else None,
        keys[0].id if has_previous else None,
    )


async def verify(
    session: AsyncSession,
    engine: CredentialEngine,
    principal: Principal,
    plaintext: str,
    ip: str | None,
    scopes: Sequence[Scope],
) -> tuple[Outcome, CredentialState | None]:
    """Check a key a vendor's customer presented, exactly as a request would be checked."""
    address = None
    if ip is not None:
        address = parse_address(ip)
        if address is None:
            raise Unprocessable(f"{ip!r} is not an IPv4 or IPv6 address", "IP_INVALID", pointer="ip")
    resolved, state = await engine.resolve(session, plaintext)
    outcome = judge(resolved, state, principal.account.id, address, frozenset(scopes), clock.now()).outcome
    if state is not None and state.account_id != principal.account.id:
        return outcome, None  # another account's key says nothing about itself
    return outcome, state


@dataclass(frozen=True, slots=True)
class Verification:
    outcome: Outcome
    state: CredentialState | None
    rate: Decision | None
    """The key's budget when it has a limit: after this use if the use was counted (VALID or
    RATE_LIMITED), else as it stands; None for a key without a limit (or no key)."""


async def verify_and_count(
    session: AsyncSession,
    engine: CredentialEngine,
    limiter: RateLimiter,
    principal: Principal,
    plaintext: str,
    ip: str | None,
    scopes: Sequence[Scope],
) -> Verification:
    """``verify``, then one use of a VALID key against its rate limit (an access token's is its
    key's): past the limit the answer is RATE_LIMITED. A key without a limit costs no limiter
    call."""
    outcome, state = await verify(session, engine, principal, plaintext, ip, scopes)
    if state is None or not state.budgets:
        return Verification(outcome, state, None)
    if outcome is not Outcome.VALID:
        return Verification(outcome, state, await ratelimit.standing(limiter, state))
    decision = await ratelimit.charge(limiter, state)
    if decision is not None and not decision.allowed:
        outcome = Outcome.RATE_LIMITED
    return Verification(outcome, state, decision)
