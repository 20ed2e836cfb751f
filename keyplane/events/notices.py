"""Notifications no peer sends by itself, recorded in the event log (and so delivered by the
webhooks that subscribe to them), each exactly once.

- ``license.expiring-soon`` (3 days before ``expiry``), ``license.expired``,
  ``license.check-in-overdue``, ``api-key.expiring-soon`` (7 days before ``expiresAt``) and
  ``api-key.unused`` (no use in ``KEYPLANE_UNUSED_KEY_DAYS``) come from a sweep in the
  background: with several processes one runs it at a time (a PostgreSQL advisory lock; on
  SQLite the database's single writer), and a ``notices`` row per (event, subject, occasion)
  keeps a sweep, another process or a restart from sending one twice. A sweep looks at what
  is due now, not at what happened since the last one, so a restart skips nothing.
- ``policy.pool.low`` (the pool drops to the policy's ``poolLowThreshold``) and
  ``policy.pool.empty`` are noticed by the pop itself, in its transaction; refilling the pool
  above the threshold (or at all) lets them be sent again at the next drop.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane import outages
from keyplane.db import Database
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock
from keyplane.kit.actor import SYSTEM, AccountRef, Acting
from keyplane.kit.ids import uuid7
from keyplane.kit.periodic import Periodic
from keyplane.licensing.status import overdue
from keyplane.models import Credential, License, Notice, Policy, PoolKey
from keyplane.models.credential import LIVE_API_KEY

log = logging.getLogger("keyplane.events")

LICENSE_WARNING = timedelta(days=3)
API_KEY_WARNING = timedelta(days=7)
HORIZON = timedelta(days=7)
"""What expired (or fell overdue) longer ago than this is not announced: a first sweep on an
old database does not flood the receivers with years of expiries."""
BATCH = 500
"""Most notices of one kind per sweep (the next sweep takes the rest)."""
EVER = datetime(1970, 1, 1, tzinfo=UTC)
"""The occasion of a state announced once until it ends (an empty pool)."""
_SWEEP_LOCK = 0x6B70_6E6F
"""The PostgreSQL advisory lock a sweep holds for its transaction ("kpno")."""


async def once(
    session: AsyncSession,
    account_id: uuid.UUID,
    event: EventName,
    subject_id: uuid.UUID,
    at: datetime,
    metadata: dict[str, Any] | None = None,
    *,
    product: uuid.UUID | None = None,
) -> bool:
    """Record ``event`` about ``subject_id`` for the occasion ``at``, by the system, unless it
    has been recorded already (in this transaction or a committed one). Whether it was."""
    values = {"account_id": account_id, "event": event.value, "subject_id": subject_id, "at": at}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Notice)
        .values(id=uuid7(), **values)
        .on_conflict_do_nothing(index_elements=["event", "subject_id", "at"])
        .returning(Notice.id)
    )
    if (await session.execute(statement)).first() is None:
        return False
    system = Acting(AccountRef(account_id, ""), SYSTEM)
    await events.record(session, system, event, subject_id, metadata=metadata, product=product)
    return True


def _not_noticed(event: EventName, subject: Any, at: Any) -> ColumnElement[bool]:
    return ~exists().where(Notice.event == event.value, Notice.subject_id == subject, Notice.at == at)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def _licenses_expiring(session: AsyncSession, now: datetime) -> int:
    sent = 0
    for event, low, high in (
        (EventName.LICENSE_EXPIRING_SOON, now, now + LICENSE_WARNING),
        (EventName.LICENSE_EXPIRED, now - HORIZON, now),
    ):
        rows = (
            await session.execute(
                select(License.id, License.account_id, License.expiry, License.product_id)
                .where(
                    License.expiry > low,
                    License.expiry <= high,
                    _not_noticed(event, License.id, License.expiry),
                )
                .order_by(License.expiry)
                .limit(BATCH)
            )
        ).all()
        for license_id, account_id, expiry, product_id in rows:
            assert expiry is not None  # in the window
            metadata = {"expiry": _iso(expiry)}
            sent += await once(session, account_id, event, license_id, expiry, metadata, product=product_id)
    return sent


async def _check_ins_overdue(session: AsyncSession, now: datetime) -> int:
    since = func.coalesce(License.last_check_in, License.created_at)
    rows = (
        await session.execute(
            select(License, Policy)
            .join(Policy, Policy.id == License.policy_id)
            .where(
                Policy.require_check_in.is_(True),
                Policy.check_in_interval.is_not(None),
                _not_noticed(EventName.LICENSE_CHECK_IN_OVERDUE, License.id, since),
            )
            .order_by(since)
            .limit(BATCH * 4)
        )
    ).all()
    sent = 0
    for license, policy in rows:
        last = license.last_check_in or license.created_at
        if overdue(license, policy, now) and now - last < HORIZON + timedelta(days=366):
            sent += await once(
                session,
                license.account_id,
                EventName.LICENSE_CHECK_IN_OVERDUE,
                license.id,
                last,
                {"lastCheckIn": None if license.last_check_in is None else _iso(license.last_check_in)},
                product=license.product_id,
            )
    return sent


async def _keys_expiring(session: AsyncSession, now: datetime) -> int:
    event = EventName.API_KEY_EXPIRING_SOON
    rows = (
        await session.execute(
            select(Credential.id, Credential.account_id, Credential.expires_at)
            .where(
                *LIVE_API_KEY,
                Credential.expires_at > now,
                Credential.expires_at <= now + API_KEY_WARNING,
                _not_noticed(event, Credential.id, Credential.expires_at),
            )
            .limit(BATCH)
        )
    ).all()
    sent = 0
    for key_id, account_id, expires_at in rows:
        assert expires_at is not None  # in the window
        sent += await once(session, account_id, event, key_id, expires_at, {"expiresAt": _iso(expires_at)})
    return sent


async def _keys_unused(session: AsyncSession, now: datetime, days: int) -> int:
    event = EventName.API_KEY_UNUSED
    last = func.coalesce(Credential.last_used_at, Credential.created_at)
    rows = (
        await session.execute(
            select(Credential.id, Credential.account_id, Credential.last_used_at, Credential.created_at)
            .where(*LIVE_API_KEY, last < now - timedelta(days=days), _not_noticed(event, Credential.id, last))
            .limit(BATCH)
        )
    ).all()
    sent = 0
    for key_id, account_id, used, created in rows:
        metadata = {"lastUsedAt": None if used is None else _iso(used), "days": days}
        sent += await once(session, account_id, event, key_id, used or created, metadata)
    return sent


async def sweep(database: Database, unused_days: int, now: datetime) -> int | None:
    """One sweep, in one transaction; how many notifications it sent, or None when another
    process holds the sweep (PostgreSQL)."""
    async with database.writer(background=True) as session:
        if session.get_bind().dialect.name == "postgresql":
            held = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _SWEEP_LOCK})
            if not held:
                return None
        sent = await _licenses_expiring(session, now)
        sent += await _check_ins_overdue(session, now)
        sent += await _keys_expiring(session, now)
        sent += await _keys_unused(session, now, unused_days)
        await session.commit()
    return sent


# -- the pool ---------------------------------------------------------------------------------


async def _pool_left(session: AsyncSession, policy: Policy) -> int:
    """How many keys the pool holds, counted no further than the threshold's next one (a pool
    of thousands is not counted on every pop)."""
    cap = (policy.pool_low_threshold or 0) + 1
    kept = select(PoolKey.id).where(PoolKey.policy_id == policy.id).limit(cap).subquery()
    return int(await session.scalar(select(func.count()).select_from(kept)) or 0)


async def pool_drained(session: AsyncSession, policy: Policy) -> None:
    """After a pop: announce an empty pool, or one at or under its low threshold (once each,
    until it is refilled)."""
    left = await _pool_left(session, policy)
    metadata = {"remaining": left}
    if policy.pool_low_threshold is not None and left <= policy.pool_low_threshold:
        metadata["threshold"] = policy.pool_low_threshold
        await once(session, policy.account_id, EventName.POLICY_POOL_LOW, policy.id, EVER, metadata)
    if left == 0:
        await once(session, policy.account_id, EventName.POLICY_POOL_EMPTY, policy.id, EVER, {"remaining": 0})


async def pool_refilled(session: AsyncSession, policy: Policy) -> None:
    """After keys are added: a pool above its threshold (or not empty) may be announced again."""
    left = await _pool_left(session, policy)
    ended: Sequence[EventName] = [EventName.POLICY_POOL_EMPTY] if left > 0 else []
    if policy.pool_low_threshold is None or left > policy.pool_low_threshold:
        ended = [*ended, EventName.POLICY_POOL_LOW]
    if ended:
        await session.execute(
            delete(Notice).where(Notice.subject_id == policy.id, Notice.event.in_([e.value for e in ended]))
        )


class Notifier:
    """Runs ``sweep`` every ``interval`` seconds in the background."""

    def __init__(self, database: Database, unused_days: int, interval: float) -> None:
        self._database = database
        self._unused_days = unused_days
        self._periodic = Periodic("keyplane-notices", interval, self.run_once, at_start=True)

    async def run_once(self) -> int | None:
        try:
            return await sweep(self._database, self._unused_days, clock.now())
        except Exception as error:
            outages.log_failure(log, "notices.sweep_failed", error)
            return 0

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
