"""Queries on pool keys, and the atomic pop."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterator, Sequence
from typing import TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    Select,
    delete,
    exists,
    false,
    select,
    text,
    true,
    values,
)
from sqlalchemy import column as column_of
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from keyplane.keys.schemas import KeyFilters
from keyplane.kit import paging
from keyplane.licensing.keystrings import digest
from keyplane.models import License, Policy, PoolKey

Ts = TypeVarTuple("Ts")
CHUNK = 500
"""Values per lookup statement (bound parameters stay far below every database's limit)."""


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _among(
    session: AsyncSession,
    statement: Select[*Ts],
    column: InstrumentedAttribute[bytes],
    digests: list[bytes],
) -> Select[*Ts]:
    """``statement`` narrowed to the rows whose ``column`` is one of ``digests``.

    On PostgreSQL, as a join with a ``VALUES`` table: an ``IN`` list of as many parameters is
    compared with every row the planner chooses to scan, and a table that grew since it was
    last analysed (a pool filled by an import) looks small enough for the scan to win, so
    each lookup slowed with the table's size (a second at 60,000 keys); a join costs one
    hash probe a row whatever the plan. SQLite takes no column names on a ``VALUES`` alias,
    and looks each value of an ``IN`` list up in the index anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return statement.where(column.in_(digests))
    wanted = values(column_of("digest", LargeBinary), name="wanted").data([(each,) for each in digests])
    return statement.join(wanted, column == wanted.c.digest)


async def key_taken(
    session: AsyncSession, account_id: uuid.UUID, key: str, except_id: uuid.UUID | None
) -> bool:
    return bool(await keys_taken(session, account_id, [key], except_id))


async def keys_taken(
    session: AsyncSession, account_id: uuid.UUID, keys: Sequence[str], except_id: uuid.UUID | None
) -> dict[str, uuid.UUID]:
    """Those of ``keys`` that are already the account's pool keys (but ``except_id``'s), each
    with the policy whose pool holds it."""
    taken: dict[bytes, uuid.UUID] = {}
    for chunk in _chunks(keys):
        statement = _among(
            session,
            select(PoolKey.key_digest, PoolKey.policy_id).where(PoolKey.account_id == account_id),
            PoolKey.key_digest,
            [digest(key) for key in chunk],
        )
        if except_id is not None:
            statement = statement.where(PoolKey.id != except_id)
        taken.update((row.key_digest, row.policy_id) for row in await session.execute(statement))
    return {key: taken[found] for key in keys if (found := digest(key)) in taken}


async def license_conflicts(session: AsyncSession, account_id: uuid.UUID, keys: Sequence[str]) -> set[str]:
    """Those of ``keys`` that equal a license key, or a license id, of the account."""
    found: set[str] = set()
    for chunk in _chunks(keys):
        digests = {digest(key): key for key in chunk}
        by_key = _among(
            session,
            select(License.key_digest).where(License.account_id == account_id),
            License.key_digest,
            list(digests),
        )
        found.update(digests[row] for row in await session.scalars(by_key))
        ids: dict[uuid.UUID, str] = {}
        for key in chunk:
            with contextlib.suppress(ValueError):
                ids[uuid.UUID(key)] = key
        if ids:
            by_id = select(License.id).where(License.account_id == account_id, License.id.in_(list(ids)))
            found.update(ids[row] for row in await session.scalars(by_id))
    return found


async def hold_value(session: AsyncSession, account_id: uuid.UUID, key: str) -> None:
    await hold_values(session, account_id, [key])


async def hold_values(session: AsyncSession, account_id: uuid.UUID, keys: Sequence[str]) -> None:
    """Hold the key strings ``keys`` of the account until the transaction ends: every write
    that checks a value against both tables (a new or changed pool key, a license with a
    key of its own) takes this first, so a check and its insert are one step.

    A unique constraint cannot span the ``keys`` and ``licenses`` tables, and on PostgreSQL
    neither a check nor a conditional insert sees another transaction's uncommitted row: two
    writers of the same value would both pass. A transaction-scoped advisory lock on each
    value makes the second one wait for the first and then see its row; many values are
    locked in one statement, in ascending order (two writers of overlapping batches take
    their common locks in the same order, so neither deadlocks the other). SQLite needs
    none: a writing transaction already holds the database's one write lock
    (``BEGIN IMMEDIATE``).
    """
    if session.get_bind().dialect.name != "postgresql" or not keys:
        return
    held = sorted(
        {
            int.from_bytes(
                hashlib.blake2b(account_id.bytes + digest(key), digest_size=8).digest(), "big", signed=True
            )
            for key in keys
        }
    )
    for start in range(0, len(held), CHUNK):
        await session.execute(_HOLD, {"held": held[start : start + CHUNK]})


_HOLD = text(
    "SELECT count(pg_advisory_xact_lock(held)) "
    "FROM (SELECT unnest(CAST(:held AS bigint[])) AS held ORDER BY held) AS ordered"
)


async def pop(session: AsyncSession, policy_id: uuid.UUID) -> PoolKey | None:
    """Take one key out of the pool, atomically: two concurrent pops never get the same key.

    The newest key goes first (Keygen's order). On PostgreSQL, ``SKIP LOCKED`` lets
    concurrent pops each claim a different key without waiting on one another; on SQLite,
    writers are serialized, so the single statement is already atomic.

    A key that is already some license's key is passed over, so it can never jam the pool
    (taking it would fail on the licenses' unique key, every time). Keyplane refuses to
    make such a pair, but data from before that rule may hold one: the key stays in the
    pool's listing, never handed out, for an administrator to delete.
    """
    licensed = exists().where(
        License.account_id == PoolKey.account_id, License.key_digest == PoolKey.key_digest
    )
    claim = (
        select(PoolKey.id)
        .where(PoolKey.policy_id == policy_id, ~licensed)
        .order_by(PoolKey.id.desc())
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = (
        delete(PoolKey)
        .where(PoolKey.id == claim)
        .returning(PoolKey)
        .execution_options(synchronize_session=False)
    )
    return (await session.scalars(statement)).first()


async def page(
    session: AsyncSession, visible: list[ColumnElement[bool]], filters: KeyFilters, paged: paging.Paging
) -> paging.Page[PoolKey]:
    """A page of the keys in view that pass ``filters``."""
    conditions = list(visible)
    if filters.product is not None:
        conditions.append(PoolKey.product_id == filters.product)
    if filters.policy is not None:
        conditions.append(PoolKey.policy_id == filters.policy)
    return await paging.fetch(session, paged, select(PoolKey), PoolKey.id, conditions)


async def pool_page(session: AsyncSession, policy: Policy, paged: paging.Paging) -> paging.Page[PoolKey]:
    """A page of a policy's pool. Keys only ever join a pooled policy; an unpooled one's pool
    is empty by definition."""
    conditions = [PoolKey.policy_id == policy.id, true() if policy.use_pool else false()]
    return await paging.fetch(session, paged, select(PoolKey), PoolKey.id, conditions)


async def in_pool(session: AsyncSession, policy: Policy, key_id: uuid.UUID) -> PoolKey | None:
    return await session.scalar(select(PoolKey).where(PoolKey.policy_id == policy.id, PoolKey.id == key_id))
