"""Pool keys (the ``keys`` resource) and the pool of a pooled policy.

A key belongs to a pooled policy and its product; its value is unique among the account's
keys and may not equal a license's key or id. Creating a license under the policy, or
popping the pool, takes a key out for good.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.errors import InvalidResource, Unprocessable
from keyplane.events import notices
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.keys import repository
from keyplane.keys.schemas import KeyFilters
from keyplane.kit import clock, paging
from keyplane.kit.ids import as_uuid, uuid7
from keyplane.licensing.access import Action, authorize, view
from keyplane.licensing.keystrings import RESERVED, digest
from keyplane.licensing.records import find, not_found, target
from keyplane.models import Policy, PoolKey, Product

_KEY = "/data/attributes/key"
_POLICY = "/data/relationships/policy"
_POOL = "/data/relationships/pool"
MIN_LENGTH = 8
MAX_LENGTH = 1024
"""The longest value (``KeyString``, the bodies' limit); ``add_many`` refuses a longer one alone."""
IMPORT_MAX = 10_000
"""The most keys one ``add_many`` takes (a bigger file is split by its sender)."""


@dataclass(frozen=True, slots=True)
class _Checked:
    refused: dict[str, InvalidResource]
    present: set[str]
    """Values already in the pool they were checked for (none when checked for no pool)."""


async def _check_values(
    session: AsyncSession,
    account_id: uuid.UUID,
    keys: Sequence[str],
    except_id: uuid.UUID | None,
    pool: uuid.UUID | None = None,
) -> _Checked:
    """The rule of a key's value, for one value or many (a lookup per check, not per value):
    each value it refuses, with the refusal, and (checked for ``pool``, a policy's id) those
    already in that pool, which are neither refused nor to be added again. The values it
    passes are held (``hold_values``) until the transaction ends."""
    refused: dict[str, InvalidResource] = {}
    for key in keys:
        if len(key) > MAX_LENGTH:
            refused[key] = InvalidResource(
                f"is too long (maximum is {MAX_LENGTH} characters)", "KEY_TOO_LONG", pointer=_KEY
            )
        elif key in RESERVED:
            refused[key] = InvalidResource("is reserved", "KEY_NOT_ALLOWED", pointer=_KEY)
        elif len(key) < MIN_LENGTH:
            refused[key] = InvalidResource(
                f"is too short (minimum is {MIN_LENGTH} characters)", "KEY_TOO_SHORT", pointer=_KEY
            )
    rest = [key for key in keys if key not in refused]
    await repository.hold_values(session, account_id, rest)
    taken = await repository.keys_taken(session, account_id, rest, except_id)
    conflicts = await repository.license_conflicts(session, account_id, rest)
    present = set()
    for key in rest:
        if key in taken and pool is not None and taken[key] == pool:
            present.add(key)
        elif key in taken:
            refused[key] = InvalidResource("has already been taken", "KEY_TAKEN", pointer=_KEY)
        elif key in conflicts:
            refused[key] = InvalidResource("conflicts with an existing license", "KEY_CONFLICT", pointer=_KEY)
    return _Checked(refused, present)


async def _check_value(
    session: AsyncSession, account_id: uuid.UUID, key: str, except_id: uuid.UUID | None
) -> None:
    refusal = (await _check_values(session, account_id, [key], except_id)).refused.get(key)
    if refusal is not None:
        raise refusal


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError:
        # A concurrent write of the same value won the unique index.
        raise InvalidResource("has already been taken", "KEY_TAKEN", pointer=_KEY) from None


async def pooled_policy(session: AsyncSession, bearer: Bearer, ref: str) -> Policy:
    """The policy a new key goes into: 422 if it does not exist or is not pooled, 403 if a
    product token names another product's policy."""
    policy = await target(
        session,
        bearer,
        Policy,
        ref,
        view(bearer, Policy),
        code="POLICY_NOT_FOUND",
        pointer=_POLICY,
        denied="You do not have permission to add keys to this policy",
    )
    if not policy.use_pool:
        raise InvalidResource("is not a pooled policy", "POLICY_NOT_SUPPORTED", pointer=_POLICY)
    return policy


async def create(session: AsyncSession, bearer: Bearer, key: str, policy_ref: str) -> PoolKey:
    authorize(bearer, "keys", Action.CREATE)
    policy = await pooled_policy(session, bearer, policy_ref)
    await _check_value(session, bearer.account.id, key, None)
    record = _new(policy, key)
    session.add(record)
    await _flush(session)
    await events.record(session, bearer, EventName.KEY_CREATED, record.id, product=record.product_id)
    await notices.pool_refilled(session, policy)
    return record


def _new(policy: Policy, key: str) -> PoolKey:
    return PoolKey(
        id=uuid7(),
        account_id=policy.account_id,
        product_id=policy.product_id,
        policy_id=policy.id,
        key=key,
        key_digest=digest(key),
    )


@dataclass(frozen=True, slots=True)
class LineRefused:
    """A value ``add_many`` did not add: its line, and the code and reason ``create`` gives."""

    line: int
    key: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Added:
    policy: Policy
    added: list[PoolKey] = field(default_factory=list)
    present: list[int] = field(default_factory=list)
    """The lines whose value was already in this pool: nothing to add, nothing wrong."""
    refused: list[LineRefused] = field(default_factory=list)


def _shown(key: str) -> str:
    """A refused value as a report shows it: a long one cut short."""
    return key if len(key) <= 40 else key[:40] + "…"


async def add_many(
    session: AsyncSession, bearer: Bearer, policy_ref: str, lines: Sequence[tuple[int, str]]
) -> Added:
    """Add many keys to a pooled policy's pool (a pasted list, a CSV file, an import through
    the API): each value under the rule of ``create``, a value that breaks it refused alone
    (its line, code and reason: taken, a duplicate of an earlier line, a license's key or id,
    too short or too long) while the others are added, each with its ``key.created`` event.
    A value already in this pool is reported as present and left as it is, so adding the same
    list twice adds nothing the second time. What is wrong with the request itself (the
    caller's rights, the policy, no keys, too many) refuses it whole, before anything."""
    authorize(bearer, "keys", Action.CREATE)
    policy = await pooled_policy(session, bearer, policy_ref)
    if not lines:
        raise InvalidResource("has no keys", "KEYS_MISSING", pointer=_KEY)
    if len(lines) > IMPORT_MAX:
        raise InvalidResource(
            f"has too many keys (maximum is {IMPORT_MAX} at once)", "KEYS_TOO_MANY", pointer=_KEY
        )
    done = Added(policy)
    first: dict[str, int] = {}
    checked = await _check_values(session, bearer.account.id, [key for _, key in lines], None, policy.id)
    for line, key in lines:
        refusal = checked.refused.get(key)
        if key in checked.present:
            done.present.append(line)
        elif key in first:
            done.refused.append(LineRefused(line, key, "KEY_TAKEN", f"duplicates line {first[key]}"))
        elif refusal is not None:
            done.refused.append(LineRefused(line, _shown(key), refusal.code, refusal.detail))
        else:
            first[key] = line
            done.added.append(_new(policy, key))
    session.add_all(done.added)
    await _flush(session)
    if done.added:
        await events.record_many(
            session, bearer, EventName.KEY_CREATED, [(record.id, record.product_id) for record in done.added]
        )
        await notices.pool_refilled(session, policy)
    return done


async def get(session: AsyncSession, bearer: Bearer, ref: str) -> PoolKey:
    record = await find(session, bearer, PoolKey, ref, "key")
    authorize(bearer, "keys", Action.READ)
    return record


async def listing(
    session: AsyncSession, bearer: Bearer, asked: paging.Listed[KeyFilters]
) -> paging.Page[PoolKey]:
    authorize(bearer, "keys", Action.READ)
    return await repository.page(session, view(bearer, PoolKey), asked.filters, asked.paging)


async def update(session: AsyncSession, bearer: Bearer, ref: str, key: str | None, sent: bool) -> PoolKey:
    record = await find(session, bearer, PoolKey, ref, "key", lock=True)
    authorize(bearer, "keys", Action.UPDATE)
    if sent:
        if key is None:
            raise InvalidResource("can't be blank", "KEY_MISSING", pointer=_KEY)
        if key != record.key:
            await _check_value(session, record.account_id, key, record.id)
            record.key = key
            record.key_digest = digest(key)
    await events.record(
        session, bearer, EventName.KEY_UPDATED, record.id, changed=record, product=record.product_id
    )
    record.updated_at = clock.now()
    await _flush(session)
    return record


async def delete(session: AsyncSession, bearer: Bearer, ref: str) -> None:
    record = await find(session, bearer, PoolKey, ref, "key")
    authorize(bearer, "keys", Action.DELETE)
    await events.record(session, bearer, EventName.KEY_DELETED, record.id, product=record.product_id)
    await session.delete(record)
    await session.flush()


async def related(session: AsyncSession, bearer: Bearer, ref: str) -> tuple[Product, Policy]:
    """The product and policy of a key, for its relationship routes."""
    record = await get(session, bearer, ref)
    product = await session.get(Product, record.product_id)
    policy = await session.get(Policy, record.policy_id)
    assert product is not None
    assert policy is not None
    return product, policy


# -- the pool of a policy --------------------------------------------------------------------


async def pool(
    session: AsyncSession, bearer: Bearer, policy_ref: str, asked: paging.Listed[None]
) -> paging.Page[PoolKey]:
    """``GET /policies/{id}/pool``: the policy's unused keys (none for an unpooled policy)."""
    policy = await find(session, bearer, Policy, policy_ref, "policy")
    authorize(bearer, "pool", Action.READ)
    return await repository.pool_page(session, policy, asked.paging)


async def pool_key(session: AsyncSession, bearer: Bearer, policy_ref: str, key_ref: str) -> PoolKey:
    policy = await find(session, bearer, Policy, policy_ref, "policy")
    authorize(bearer, "pool", Action.READ)
    key_id = as_uuid(key_ref)
    record = None
    if policy.use_pool and key_id is not None:
        record = await repository.in_pool(session, policy, key_id)
    if record is None:
        raise not_found("key")
    return record


async def pop(session: AsyncSession, bearer: Bearer, policy_ref: str) -> PoolKey:
    """``DELETE /policies/{id}/pool``: take one key out of the pool and answer with it."""
    policy = await find(session, bearer, Policy, policy_ref, "policy")
    authorize(bearer, "pool", Action.DELETE)
    if not policy.use_pool:
        raise Unprocessable("pool is not supported", "POOL_NOT_SUPPORTED", pointer=_POOL)
    record = await take(session, bearer, policy)
    if record is None:
        raise Unprocessable("pool is empty", "POOL_EMPTY", pointer=_POOL)
    return record


async def take(session: AsyncSession, bearer: Bearer, policy: Policy) -> PoolKey | None:
    """One key out of ``policy``'s pool (``DELETE /policies/{id}/pool``, and a license made
    from a pooled policy), with its event and, when the pool runs low or out, theirs; None
    when it is empty."""
    record = await repository.pop(session, policy.id)
    if record is None:
        return None
    await events.record(
        session,
        bearer,
        EventName.POLICY_POOL_POPPED,
        policy.id,
        metadata={"key": str(record.id)},
        product=policy.product_id,
    )
    await notices.pool_drained(session, policy)
    return record
