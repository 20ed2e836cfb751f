"""What happens to a license after it is made: validation, suspension, renewal, check-ins
and usage counting. Usage changes are single conditional UPDATEs, so ``maxUses`` holds
under any concurrency."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import NoReturn, TypeVar, cast

from sqlalchemy import Select, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from keyplane.auth.principal import AccountRef, Bearer
from keyplane.cache import Tag
from keyplane.components import repository as components
from keyplane.db import touched
from keyplane.errors import BadRequest, Forbidden, Unprocessable
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock
from keyplane.kit.instants import after_duration
from keyplane.licenses import expiry, repository, validation
from keyplane.licenses.service import find, owned_unprotected
from keyplane.licensing.access import Action, authorize, view
from keyplane.licensing.keystrings import digest
from keyplane.licensing.vocab import Code
from keyplane.models import License, LicenseUser, Machine, Policy, User
from keyplane.models.license import WITH_LICENSEES, key_tag
from keyplane.models.policy import ExpirationBasis, RenewalBasis

_USES = "/data/attributes/uses"
_EXPIRY = "/data/attributes/expiry"
_EXPIRY_CODE = "EXPIRY_INVALID"
MAX_USES = 2_147_483_647
"""The most ``uses`` a license can count: the column is a 32-bit integer on PostgreSQL."""


@dataclass(slots=True)
class Snapshot:
    """What validating a license reads, kept by the lean ``validate-key`` handler."""

    license: License
    policy: Policy
    machines: Sequence[Machine]
    owner: User | None
    rendered: bytes | None = None
    """The license's resource as JSON, rendered once by the lean handler."""
    components: frozenset[str] = frozenset()
    """The component fingerprints a ``components`` scope is matched against (read by the full
    route only when a scope names components; never kept in a cache)."""
    people: validation.People = validation.NOBODY
    """The licensees, and the emails of the users a ``user`` scope may name."""

    def needs_write(self) -> bool:
        """A first validation that starts a FROM_FIRST_VALIDATION clock writes the expiry."""
        return expiry.waits_for(self.license, self.policy, ExpirationBasis.FROM_FIRST_VALIDATION)

    def kept(self) -> Snapshot:
        """A copy to keep in a cache: plain objects with the rows' column values, detached
        from any session and read without the ORM's instrumentation (several times faster
        per attribute, and validation reads dozens)."""
        return Snapshot(
            _plain(self.license),
            _plain(self.policy),
            [_plain(machine) for machine in self.machines],
            None if self.owner is None else _plain(self.owner),
            people=self.people,
        )

    def check(
        self, scope: validation.Scope | None, now: datetime, entitled: frozenset[str] = frozenset()
    ) -> validation.Result:
        return validation.check(
            self.license,
            self.policy,
            self.machines,
            self.owner,
            scope,
            now,
            entitled,
            self.components,
            self.people,
        )


def _plain(record: R) -> R:
    columns = sa_inspect(record).mapper.column_attrs
    return cast(R, SimpleNamespace(**{column.key: getattr(record, column.key) for column in columns}))


def _context_of(session: Session, license: License) -> Snapshot:
    policy = session.get(Policy, license.policy_id)
    assert policy is not None
    machines = session.scalars(select(Machine).where(Machine.license_id == license.id)).all()
    owner = session.get(User, license.owner_id) if license.owner_id else None
    return Snapshot(license, policy, machines, owner, people=_people_of(session, license, machines))


def _people_of(session: Session, license: License, machines: Sequence[Machine]) -> validation.People:
    """The licensees and the emails of every user a ``user`` scope is compared with; nothing
    to read (the commonest case) when the license has no licensees and its machines no owner
    but the license's (whose email comes with ``owner``)."""
    owners = {m.owner_id for m in machines if m.owner_id is not None} - {license.owner_id}
    if not license.licensees_count and not owners:
        return validation.NOBODY
    licensees = frozenset(
        session.scalars(select(LicenseUser.user_id).where(LicenseUser.license_id == license.id))
    )
    named = session.execute(select(User.id, User.email).where(User.id.in_(licensees | owners)))
    return validation.People(licensees, {id: email for id, email in named})


async def _context(session: AsyncSession, license: License) -> Snapshot:
    return await session.run_sync(_context_of, license)


R = TypeVar("R", License, Policy, Machine, User)


class Missing:
    """A cached "no license has this key" (a pool key is none either)."""


MISSING = Missing()
Recorder = Callable[[uuid.UUID, datetime], None]


async def _validate(
    session: AsyncSession,
    license: License,
    scope: validation.Scope | None,
    record: Recorder,
    *,
    quick: bool,
) -> tuple[validation.Result, Snapshot]:
    snapshot = await _context(session, license)
    if not quick and scope is not None and scope.components is not None and scope.fingerprint:
        snapshot.components = await components.fingerprints_of(session, license.id, scope.fingerprint)
    now = clock.now()
    if not quick and snapshot.needs_write():
        # A first validation starts the clock of a FROM_FIRST_VALIDATION policy; the quick
        # GET does not (Keygen starts it on the ``license.validation.*`` event, which only
        # a full validation broadcasts).
        await expiry.start(session, license, snapshot.policy, ExpirationBasis.FROM_FIRST_VALIDATION, now)
    # ``lastValidated`` is written in a batch (``record``) by either validation (Keygen's
    # ``LicenseValidationService#touch!``); the answer shows it now.
    set_committed_value(license, "last_validated", now)
    record(license.id, now)
    # A full validation without ``meta.scope`` still enforces the policy's required scopes
    # (Keygen skips scope checks only for the quick GET).
    checked = None if quick else (validation.Scope() if scope is None else scope)
    entitled: frozenset[str] = frozenset()
    if checked is not None and checked.entitlements:
        # The only validation that reads entitlements: one query, and only when asked.
        entitled = await repository.entitlement_codes(session, license, checked.entitlements)
    return snapshot.check(checked, now, entitled), snapshot


def _by_key(account_id: uuid.UUID, key_digest: bytes) -> Select[License]:
    return (
        select(License)
        .options(WITH_LICENSEES)
        .where(License.account_id == account_id, License.key_digest == key_digest)
    )


def snapshot_of(session: Session, account_id: uuid.UUID, key_digest: bytes) -> Snapshot | None:
    """What validating the key with ``key_digest`` reads, without validating it (for the lean
    handler's cache; run by ``Database.read``)."""
    license = session.scalar(_by_key(account_id, key_digest))
    return None if license is None else _context_of(session, license)


async def validate_key(
    session: AsyncSession,
    account: AccountRef,
    bearer: Bearer | None,
    key: str,
    scope: validation.Scope | None,
    record: Recorder,
) -> tuple[validation.Result, Snapshot | None]:
    """``validate-key``: anyone may ask; a pool key is not a license (``NOT_FOUND``)."""
    license = await session.scalar(_by_key(account.id, digest(key)))
    if license is None:
        return validation.Result(False, Code.NOT_FOUND), None
    if bearer is not None:
        visible = await session.scalar(
            select(License.id).where(*view(bearer, License), License.id == license.id)
        )
        if visible is None:
            raise Forbidden("You do not have permission to validate this license", "ACCESS_DENIED")
    return await _validate(session, license, scope, record, quick=False)


async def validate(
    session: AsyncSession,
    bearer: Bearer,
    ref: str,
    scope: validation.Scope | None,
    record: Recorder,
    *,
    quick: bool,
) -> tuple[validation.Result, Snapshot]:
    license = await find(session, bearer, ref)
    authorize(bearer, "licenses", Action.READ)
    return await _validate(session, license, scope, record, quick=quick)


async def _policy(session: AsyncSession, license: License) -> Policy:
    policy = await session.get(Policy, license.policy_id)
    assert policy is not None
    return policy


async def suspend(session: AsyncSession, bearer: Bearer, ref: str, suspended: bool) -> tuple[License, Policy]:
    license = await find(session, bearer, ref, lock=True)
    authorize(bearer, "licenses", Action.UPDATE)
    if license.suspended == suspended:
        if suspended:
            raise Unprocessable(
                "is already suspended", "LICENSE_SUSPENDED", pointer="/data/attributes/suspended"
            )
        raise Unprocessable("is not suspended", "LICENSE_NOT_SUSPENDED", pointer="/data/attributes/suspended")
    license.suspended = suspended
    event = EventName.LICENSE_SUSPENDED if suspended else EventName.LICENSE_REINSTATED
    await events.record(session, bearer, event, license.id, product=license.product_id)
    license.updated_at = clock.now()
    await session.flush()
    return license, await _policy(session, license)


async def renew(session: AsyncSession, bearer: Bearer, ref: str) -> tuple[License, Policy]:
    """Extend the expiry by the policy's duration, from the policy's renewal basis."""
    license = await find(session, bearer, ref, lock=True)
    policy = await _policy(session, license)
    authorize(bearer, "licenses", Action.DELETE, own=owned_unprotected(bearer, license, policy))
    if policy.duration is None:
        raise Unprocessable(
            "cannot be renewed: its policy has no duration",
            "POLICY_DURATION_MISSING",
            pointer=_EXPIRY,
        )
    if license.expiry is None:
        # Keygen's ``License#renew!`` renews nothing without an expiry (a clock that has not
        # started: a first activation, use or validation sets it), and answers 422.
        raise Unprocessable("cannot be renewed: it has no expiry yet", "EXPIRY_MISSING", pointer=_EXPIRY)
    now = clock.now()
    expired = license.expiry <= now
    from_now = policy.renewal_basis == RenewalBasis.FROM_NOW or (
        policy.renewal_basis == RenewalBasis.FROM_NOW_IF_EXPIRED and expired
    )
    start = now if from_now else license.expiry
    license.expiry = after_duration(start, policy.duration, code=_EXPIRY_CODE, pointer=_EXPIRY)
    await events.record(
        session, bearer, EventName.LICENSE_RENEWED, license.id, changed=license, product=license.product_id
    )
    license.updated_at = now
    await session.flush()
    return license, policy


async def check_in(session: AsyncSession, bearer: Bearer, ref: str) -> tuple[License, Policy]:
    license = await find(session, bearer, ref, lock=True)
    policy = await _policy(session, license)
    # A license checks itself in; an end customer checks in their own unprotected license
    # (Keygen's ``license_policy.rb#check_in?``).
    own = bearer.is_license or owned_unprotected(bearer, license, policy)
    authorize(bearer, "licenses", Action.UPDATE, own=own)
    if not policy.require_check_in:
        raise Unprocessable(
            "cannot be checked in: its policy does not require check-ins",
            "CHECK_IN_NOT_REQUIRED",
            pointer="/data/attributes/lastCheckIn",
        )
    license.last_check_in = clock.now()
    await events.record(session, bearer, EventName.LICENSE_CHECKED_IN, license.id, product=license.product_id)
    license.updated_at = license.last_check_in
    await session.flush()
    return license, policy


async def change_usage(
    session: AsyncSession, bearer: Bearer, ref: str, *, by: int | None = None, reset: bool = False
) -> tuple[License, Policy]:
    """Add ``by`` (negative to take away) to ``uses``, never past ``maxUses`` nor below 0."""
    license = await find(session, bearer, ref)
    incrementing = by is not None and by > 0
    policy = await _policy(session, license)
    # A license, or the end customer who owns it unprotected, may increment it, never
    # decrement or reset it (Keygen's ``licenses/usage_policy.rb``).
    own = bearer.is_license or owned_unprotected(bearer, license, policy)
    authorize(bearer, "usage", Action.UPDATE, own=own and incrementing)
    statement = update(License).where(License.id == license.id)
    maximum = policy.max_uses if license.max_uses is None else license.max_uses
    if reset:
        statement = statement.values(uses=0)
    else:
        assert by is not None
        statement = statement.values(uses=License.uses + by)
        # Each bound is written so that no side can leave PostgreSQL's 32-bit integer (which
        # would be an error, where SQLite goes on in 64 bits): ``uses + by`` is computed only
        # for the row that passes them.
        if by > 0:
            ceiling = MAX_USES if maximum is None else min(maximum, MAX_USES)
            statement = statement.where(License.uses <= ceiling - by)
        else:
            statement = statement.where(License.uses >= -by)
    changed = (await session.execute(statement.values(updated_at=clock.now()).returning(License.id))).first()
    touched(session, license.id)
    if changed is None:
        _refuse_usage(by, maximum)
    await session.refresh(license)
    if incrementing:
        # The first use starts the clock of a FROM_FIRST_USE policy.
        await expiry.start(session, license, policy, ExpirationBasis.FROM_FIRST_USE, clock.now())
    event = EventName.LICENSE_USAGE_RESET if reset else EventName.LICENSE_USAGE_INCREMENTED
    if by is not None and by < 0:
        event = EventName.LICENSE_USAGE_DECREMENTED
    await events.record(
        session, bearer, event, license.id, metadata={"uses": license.uses}, product=license.product_id
    )
    return license, policy


def _refuse_usage(by: int | None, maximum: int | None) -> NoReturn:
    """Why a change of ``uses`` by ``by`` did not happen. Past ``maxUses`` is Keygen's 422;
    past what the column holds (no ``maxUses``) is Keygen's 400 "integer is too large"
    (``uses_controller.rb`` rescues ``ActiveModel::RangeError``), on either database."""
    if by is not None and by > 0:
        if maximum is None:
            raise BadRequest("integer is too large", "INCREMENT_INVALID", pointer="/meta/increment")
        raise Unprocessable(
            f"usage exceeds maximum allowed for license ({maximum})", "USES_LIMIT_EXCEEDED", pointer=_USES
        )
    raise Unprocessable("usage cannot go below 0", "USES_INVALID", pointer=_USES)


def cache_entry(
    account: AccountRef, key: str, snapshot: Snapshot | None
) -> tuple[Snapshot | Missing, list[Tag]]:
    """What the lean handler keeps for a key, and the ids whose change must drop it."""
    tags: list[Tag] = [account.id, key_tag(digest(key))]
    if snapshot is None:
        return MISSING, tags
    license = snapshot.license
    tags += [license.id, license.policy_id, license.product_id, license.owner_id, *snapshot.people.emails]
    return snapshot.kept(), tags
