"""License validation: Keygen's result codes, in Keygen's order (the first failure wins).

``check`` is pure: it takes the license, its policy, its machines and owner, the scope the
client sent, and the time, and answers (valid, code, detail). Quick validation (``GET``)
skips the scope checks.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, assert_never

from pydantic import Field

from keyplane.kit.schemas import StrictInput
from keyplane.licensing import heartbeat
from keyplane.licensing.heartbeat import HeartbeatStatus
from keyplane.licensing.machine_limits import OVERAGE_FACTORS, leased, machine_limit, per_user
from keyplane.licensing.status import overdue
from keyplane.licensing.vocab import Code
from keyplane.models import License, Machine, Policy, User
from keyplane.models.policy import ExpirationStrategy, MachineMatchingStrategy, OverageStrategy

Ref = Annotated[str, Field(max_length=255)]
DETAILS: dict[Code, str] = {
    Code.VALID: "is valid",
    Code.NOT_FOUND: "does not exist",
    Code.SUSPENDED: "is suspended",
    Code.EXPIRED: "is expired",
    Code.OVERDUE: "is overdue for check in",
    Code.PRODUCT_SCOPE_MISMATCH: "product scope does not match",
    Code.PRODUCT_SCOPE_REQUIRED: "product scope is required",
    Code.POLICY_SCOPE_MISMATCH: "policy scope does not match",
    Code.POLICY_SCOPE_REQUIRED: "policy scope is required",
    Code.USER_SCOPE_MISMATCH: "user scope does not match",
    Code.USER_SCOPE_REQUIRED: "user scope is required",
    Code.ENTITLEMENTS_SCOPE_EMPTY: "entitlements scope is empty",
    Code.ENTITLEMENTS_MISSING: "is missing one or more required entitlements",
    Code.MACHINE_SCOPE_MISMATCH: "machine scope does not match",
    Code.MACHINE_SCOPE_REQUIRED: "machine scope is required",
    Code.FINGERPRINT_SCOPE_EMPTY: "fingerprint scope is empty",
    Code.FINGERPRINT_SCOPE_MISMATCH: "fingerprint is not activated (does not match any associated machines)",
    Code.FINGERPRINT_SCOPE_REQUIRED: "fingerprint scope is required",
    Code.COMPONENTS_SCOPE_EMPTY: "components scope is empty",
    Code.COMPONENTS_SCOPE_MISMATCH: (
        "one or more component is not activated (does not match any associated components)"
    ),
    Code.COMPONENTS_SCOPE_REQUIRED: "components scope is required",
    Code.CHECKSUM_SCOPE_REQUIRED: "checksum scope is required",
    Code.VERSION_SCOPE_REQUIRED: "version scope is required",
    Code.HEARTBEAT_NOT_STARTED: "machine heartbeat is required",
    Code.HEARTBEAT_DEAD: "machine heartbeat is dead",
    Code.NO_MACHINE: "must have exactly 1 associated machine",
    Code.NO_MACHINES: "must have at least 1 associated machine",
    Code.TOO_MANY_MACHINES: "has too many associated machines",
    Code.TOO_MANY_CORES: "has too many associated machine cores",
    Code.TOO_MUCH_MEMORY: "has too much associated machine memory",
    Code.TOO_MUCH_DISK: "has too much associated machine disk",
    Code.TOO_MANY_USERS: "has too many associated users",
}
"""Every code's ``detail`` (a test holds that each code has one)."""


class Scope(StrictInput):
    """What the client says the license should be for (``meta.scope``)."""

    product: Ref | None = None
    policy: Ref | None = None
    user: Ref | None = None
    machine: Ref | None = None
    fingerprint: Ref | None = None
    fingerprints: Annotated[list[Ref], Field(max_length=100)] | None = None
    entitlements: Annotated[list[Ref], Field(max_length=100)] | None = None
    components: Annotated[list[Ref], Field(max_length=100)] | None = None
    """Component fingerprints of the machine named by ``fingerprint``."""
    environment: Ref | None = None
    checksum: Ref | None = None
    version: Ref | None = None


@dataclass(frozen=True, slots=True)
class Result:
    valid: bool
    code: Code
    note: str | None = None
    """Keygen's own wording where one code has several (the components scope's); the lean
    ``validate-key`` handler never answers those."""

    @property
    def detail(self) -> str:
        return self.note or DETAILS[self.code]


@dataclass(frozen=True, slots=True)
class People:
    """Who a ``user`` scope is compared with: the license's licensees (its users besides the
    owner) and the email of each user validation may name (the owner, the licensees and the
    machines' owners). Keygen's ``license.users`` and ``machine.owner``."""

    licensees: frozenset[uuid.UUID] = frozenset()
    emails: Mapping[uuid.UUID, str] = field(default_factory=dict)


NOBODY = People()


def user_limit(license: License, policy: Policy) -> int | None:
    """``maxUsers``: the license's own, else its policy's (None: no limit)."""
    return policy.max_users if license.max_users is None else license.max_users


def users_count(license: License) -> int:
    """A license's users: its licensees and its owner (Keygen's ``License#users_count``)."""
    return license.licensees_count + (license.owner_id is not None)


_MACHINE_OWNER_MISMATCH = Result(
    False, Code.USER_SCOPE_MISMATCH, "user scope does not match (does not match associated machine owner)"
)
_MACHINE_OWNERS_MISMATCH = Result(
    False, Code.USER_SCOPE_MISMATCH, "user scope does not match (does not match associated machine owners)"
)
_COMPONENTS_NEED_FINGERPRINT = Result(
    False, Code.FINGERPRINT_SCOPE_REQUIRED, "fingerprint scope is required when using the components scope"
)
_COMPONENTS_MISMATCH = {
    MachineMatchingStrategy.MATCH_ANY: "does not match any associated components",
    MachineMatchingStrategy.MATCH_TWO: "does not match at least 2 associated components",
    MachineMatchingStrategy.MATCH_MOST: "does not match enough associated components",
    MachineMatchingStrategy.MATCH_ALL: "does not match all associated components",
}


def _given(value: str | None) -> bool:
    """Clients send empty strings for scopes they do not use (keygen-py always sends product)."""
    return bool(value)


def _expired(license: License, now: datetime) -> bool:
    return license.expiry is not None and license.expiry <= now


_ACCESS_AFTER_EXPIRY = frozenset({ExpirationStrategy.MAINTAIN_ACCESS, ExpirationStrategy.ALLOW_ACCESS})


def _expired_result(policy: Policy) -> Result:
    return Result(policy.expiration_strategy in _ACCESS_AFTER_EXPIRY, Code.EXPIRED)


def _alive(machines: Sequence[Machine], policy: Policy, now: datetime) -> list[Machine]:
    if not policy.require_heartbeat:
        return list(machines)
    return [m for m in machines if heartbeat.status(m, policy, now) != HeartbeatStatus.DEAD]


def _needed(strategy: MachineMatchingStrategy, asked: int) -> int:
    match strategy:
        case MachineMatchingStrategy.MATCH_ANY:
            return 1
        case MachineMatchingStrategy.MATCH_TWO:
            return min(2, asked)
        case MachineMatchingStrategy.MATCH_MOST:
            return math.ceil(asked / 2)
        case MachineMatchingStrategy.MATCH_ALL:
            return asked
        case _:
            assert_never(strategy)


def _scopes(
    license: License,
    policy: Policy,
    machines: Sequence[Machine],
    owner: User | None,
    scope: Scope,
    now: datetime,
    entitled: frozenset[str],
    components: Collection[str],
    people: People,
) -> Code | Result | None:
    """The first scope the license fails, as a result code."""
    if _given(scope.product) and scope.product != str(license.product_id):
        return Code.PRODUCT_SCOPE_MISMATCH
    if policy.require_product_scope and not _given(scope.product):
        return Code.PRODUCT_SCOPE_REQUIRED
    if _given(scope.policy) and scope.policy != str(license.policy_id):
        return Code.POLICY_SCOPE_MISMATCH
    if policy.require_policy_scope and not _given(scope.policy):
        return Code.POLICY_SCOPE_REQUIRED
    user = (scope.user or "").lower() if _given(scope.user) else None
    if user is not None:
        # The owner or one of the licensees (Keygen's ``license.users``), by id or email.
        if not any(_names(user, id, owner, people) for id in (license.owner_id, *people.licensees)):
            return Code.USER_SCOPE_MISMATCH
    elif scope.user is None and "user" in scope.model_fields_set:
        # A null user is compared, as Keygen compares it: it matches a license without an owner.
        if owner is not None:
            return Code.USER_SCOPE_MISMATCH
    elif policy.require_user_scope:
        return Code.USER_SCOPE_REQUIRED
    if scope.entitlements is not None:
        # Keygen's ``license.entitlements.where(code: codes).count != codes.uniq.size``: every
        # code asked for, exactly as written, must be one of the license's or its policy's.
        if not scope.entitlements:
            return Code.ENTITLEMENTS_SCOPE_EMPTY
        if not entitled.issuperset(scope.entitlements):
            return Code.ENTITLEMENTS_MISSING
    if _given(scope.machine):
        if not machines:
            return Code.NO_MACHINES if policy.floating else Code.NO_MACHINE
        found = next((m for m in machines if str(m.id) == scope.machine), None)
        if found is None:
            return Code.MACHINE_SCOPE_MISMATCH
        if user is not None and not _owned_by(user, owner, people)(found):
            return _MACHINE_OWNER_MISMATCH
        if policy.require_heartbeat:
            state = heartbeat.status(found, policy, now)
            if state == HeartbeatStatus.NOT_STARTED:
                return Code.HEARTBEAT_NOT_STARTED
            if state == HeartbeatStatus.DEAD:
                return Code.HEARTBEAT_DEAD
    elif policy.require_machine_scope:
        return Code.MACHINE_SCOPE_REQUIRED
    owned = None if user is None else _owned_by(user, owner, people)
    failed = _fingerprints(policy, machines, scope, now, owned)
    if failed is not None:
        return failed
    if scope.components is not None:
        matched = _components(policy, scope, components)
        if matched is not None:
            return matched
    elif policy.require_components_scope:
        return Code.COMPONENTS_SCOPE_REQUIRED
    if policy.require_checksum_scope and not _given(scope.checksum):
        return Code.CHECKSUM_SCOPE_REQUIRED
    if policy.require_version_scope and not _given(scope.version):
        return Code.VERSION_SCOPE_REQUIRED
    return None


def _components(policy: Policy, scope: Scope, components: Collection[str]) -> Code | Result | None:
    """Enough of the component fingerprints sent are components of the machine named by the
    ``fingerprint`` scope, by the policy's ``componentMatchingStrategy`` (Keygen's
    app/services/license_validation_service.rb)."""
    if scope.fingerprint is None:
        return _COMPONENTS_NEED_FINGERPRINT
    asked = set(scope.components or ())
    if not asked:
        return Code.COMPONENTS_SCOPE_EMPTY
    found = len(asked.intersection(components))
    strategy = policy.component_matching_strategy
    match strategy:
        case MachineMatchingStrategy.MATCH_ANY:
            needed = 1
        case MachineMatchingStrategy.MATCH_TWO:
            needed = 2
        case MachineMatchingStrategy.MATCH_MOST:
            needed = math.ceil(len(asked) / 2)
        case MachineMatchingStrategy.MATCH_ALL:
            needed = len(asked)
        case _:
            assert_never(strategy)
    if found >= needed:
        return None
    detail = f"one or more component is not activated ({_COMPONENTS_MISMATCH[strategy]})"
    return Result(False, Code.COMPONENTS_SCOPE_MISMATCH, detail)


def _names(user: str, id: uuid.UUID | None, owner: User | None, people: People) -> bool:
    """Whether a scope's ``user`` (an id, or an email in lower case) names the user ``id``."""
    if id is None:
        return False
    if user == str(id):
        return True
    email = owner.email if owner is not None and owner.id == id else people.emails.get(id)
    return email == user


def _owned_by(user: str, owner: User | None, people: People) -> Callable[[Machine], bool]:
    """Whether a machine has no owner or the one ``user`` names (Keygen's
    ``alive_machines.for_owner(user).union(alive_machines.for_owner(nil))``)."""
    return lambda machine: machine.owner_id is None or _names(user, machine.owner_id, owner, people)


def _fingerprints(
    policy: Policy,
    machines: Sequence[Machine],
    scope: Scope,
    now: datetime,
    owned: Callable[[Machine], bool] | None,
) -> Code | Result | None:
    """Enough of the fingerprints sent match live machines of the license, by the policy's
    matching strategy (duplicates count once); with a ``user`` scope, each of them is that
    user's or nobody's (``owned``)."""
    asked = scope.fingerprints
    if scope.fingerprint is not None and asked is None:
        asked = [scope.fingerprint] if scope.fingerprint else []
    if asked is None:
        return Code.FINGERPRINT_SCOPE_REQUIRED if policy.require_fingerprint_scope else None
    if not asked:
        return Code.FINGERPRINT_SCOPE_EMPTY
    if not machines:
        return Code.NO_MACHINES if policy.floating else Code.NO_MACHINE
    if len(asked) == 1 and not policy.require_heartbeat and owned is None:
        # The commonest case, in short: one fingerprint needs one match under every
        # strategy, and without heartbeats every matched machine counts.
        return None if any(m.fingerprint == asked[0] for m in machines) else Code.FINGERPRINT_SCOPE_MISMATCH
    wanted = set(asked)
    matched = [m for m in machines if m.fingerprint in wanted]
    states = (
        {m.fingerprint: heartbeat.status(m, policy, now) for m in matched} if policy.require_heartbeat else {}
    )
    dead = {fingerprint for fingerprint, state in states.items() if state == HeartbeatStatus.DEAD}
    # Keygen's order: every fingerprint sent is a dead machine, then too few live matches,
    # then a matched machine that has never sent a heartbeat.
    if dead and dead == wanted:
        return Code.HEARTBEAT_DEAD
    alive = {m.fingerprint for m in matched} - dead
    if len(alive) < _needed(policy.machine_matching_strategy, len(wanted)):
        return Code.FINGERPRINT_SCOPE_MISMATCH
    if owned is not None and not all(owned(m) for m in matched if m.fingerprint in alive):
        return _MACHINE_OWNERS_MISMATCH
    if any(states.get(fingerprint) == HeartbeatStatus.NOT_STARTED for fingerprint in alive):
        return Code.HEARTBEAT_NOT_STARTED
    return None


def tolerated(policy: Policy, used: int, maximum: int) -> bool:
    """Whether the overage strategy lets ``used`` pass ``maximum`` (Keygen: up to its factor)."""
    if policy.overage_strategy == OverageStrategy.ALWAYS_ALLOW_OVERAGE:
        return True
    factor = OVERAGE_FACTORS.get(policy.overage_strategy)
    return factor is not None and used <= maximum * factor


def _users(license: License, policy: Policy) -> Result | None:
    """More users (licensees and owner) than ``maxUsers``: valid only within the overage
    (Keygen checks it after the scopes, before the machine limits, quick validation too)."""
    maximum = user_limit(license, policy)
    if maximum is None:
        return None
    used = users_count(license)
    if used <= maximum:
        return None
    return Result(tolerated(policy, used, maximum), Code.TOO_MANY_USERS)


def _lessee(license: License, owner: User | None, scope: Scope | None, people: People) -> uuid.UUID | None:
    """Whose machines a PER_USER policy's limits count: the license user (its owner or a
    licensee) the ``user`` scope names, else nobody, which counts the machines without an
    owner (Keygen's ``license.users.where(id: scope[:user]).or(where(email: ...)).take``)."""
    if scope is None or not _given(scope.user):
        return None
    user = (scope.user or "").lower()
    return next((id for id in (license.owner_id, *people.licensees) if _names(user, id, owner, people)), None)


def _limits(
    license: License, policy: Policy, machines: Sequence[Machine], lessee: uuid.UUID | None
) -> Result | None:
    """A strict policy's machine limits: none activated, or more than allowed (under
    PER_USER, more of ``lessee``'s machines than allowed; Keygen's
    app/services/license_validation_service.rb)."""
    if not machines:
        return Result(False, Code.NO_MACHINES if policy.floating else Code.NO_MACHINE)
    machines = leased(policy, machines, lessee)
    count = len(machines)
    base = 1 if not policy.floating else (license.max_machines or policy.max_machines)
    if base is not None and count > base:
        limit = machine_limit(license, policy)
        return Result(limit is None or count <= limit, Code.TOO_MANY_MACHINES)
    for override, allowed, attribute, code in (
        (license.max_cores, policy.max_cores, "cores", Code.TOO_MANY_CORES),
        (license.max_memory, policy.max_memory, "memory", Code.TOO_MUCH_MEMORY),
        (license.max_disk, policy.max_disk, "disk", Code.TOO_MUCH_DISK),
    ):
        maximum = allowed if override is None else override
        if maximum is None:
            continue  # no limit (the commonest case): nothing to add up
        used = sum(getattr(m, attribute) or 0 for m in machines)
        if used > maximum:
            return Result(tolerated(policy, used, maximum), code)
    return None


def check(
    license: License,
    policy: Policy,
    machines: Sequence[Machine],
    owner: User | None,
    scope: Scope | None,
    now: datetime,
    entitled: frozenset[str] = frozenset(),
    components: Collection[str] = (),
    people: People = NOBODY,
) -> Result:
    """The result of validating ``license``; ``entitled`` holds those of the codes in
    ``scope.entitlements`` the license has (only read when the scope names some);
    ``components``, the component fingerprints of the machine named by the scope's
    ``fingerprint`` (only read when the scope names components); ``people``, the licensees
    and the emails a ``user`` scope is compared with."""
    if license.suspended:
        return Result(False, Code.SUSPENDED)
    expired = _expired(license, now)
    if expired and policy.expiration_strategy == ExpirationStrategy.REVOKE_ACCESS:
        return Result(False, Code.EXPIRED)
    if overdue(license, policy, now):
        return Result(False, Code.OVERDUE)
    if scope is not None:
        failed = _scopes(license, policy, machines, owner, scope, now, entitled, components, people)
        if failed is not None:
            return failed if isinstance(failed, Result) else Result(False, failed)
    crowded = _users(license, policy)
    if crowded is not None:
        return crowded
    if not policy.strict:
        return _expired_result(policy) if expired else Result(True, Code.VALID)
    counted = _alive(machines, policy, now) if heartbeat.culls(policy) else list(machines)
    limited = _limits(
        license, policy, counted, _lessee(license, owner, scope, people) if per_user(policy) else None
    )
    if limited is not None:
        return limited
    return _expired_result(policy) if expired else Result(True, Code.VALID)


def meta(result: Result, now: str, scope: dict[str, Any] | None, nonce: int | None) -> dict[str, Any]:
    """``meta`` of a validation answer; ``scope`` and ``nonce`` are echoed only when sent."""
    body: dict[str, Any] = {"ts": now, "valid": result.valid, "detail": result.detail, "code": result.code}
    if scope is not None:
        body["scope"] = scope
    if nonce is not None:
        body["nonce"] = nonce
    return body
