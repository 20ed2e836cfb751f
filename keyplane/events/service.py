"""Recording events in the change's transaction, reading the log, and pruning it.

Every service that changes something calls ``record`` with its actor before it returns, in
the same session: the event commits with the change or not at all. ``record`` reads what
changed from the ORM's pending history, so it is called before the change is flushed (and,
for a new record, after: the new row has no history to show).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.db import Database
from keyplane.errors import Forbidden, NotFound
from keyplane.events import fanout, repository
from keyplane.events.batch import EventBatch
from keyplane.events.fanout import Occurrence
from keyplane.events.names import EventName, ResourceType
from keyplane.events.schemas import EventFilters
from keyplane.kit import clock, paging
from keyplane.kit.actor import AccountRef, Actor, ActorType, Origin, Reader, Whodunnit
from keyplane.kit.ids import as_uuid, uuid7
from keyplane.models import Event
from keyplane.models.base import Record

SECRET_ATTRIBUTES = frozenset({"key", "key_digest", "digest", "lookup", "password_hash", "ed25519_private"})
"""Attributes whose values never reach the log: a change to one is recorded as a change, with
no values (``[null, null]``)."""
_LEFT_OUT = frozenset({"updated_at", "created_at", "id", "account_id"})
_RENAMED = {"meta": "metadata", "whitelisted_ips": "whitelistedIPs"}


def _camel(name: str) -> str:
    if name in _RENAMED:
        return _RENAMED[name]
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def pending_diff(record: object) -> dict[str, list[Any]]:
    """``{attribute: [old, new]}`` of what has changed on ``record`` since it was loaded and
    is not yet flushed (Keygen's ``diff``, with its attribute names); secrets show no values."""
    diff: dict[str, list[Any]] = {}
    state = inspect(record)
    for attribute in state.mapper.column_attrs:
        name = attribute.key
        if name in _LEFT_OUT:
            continue
        history = state.attrs[name].history
        if not history.added and not history.deleted:
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        if name in SECRET_ATTRIBUTES:
            diff[_camel(name)] = [None, None]
        else:
            diff[_camel(name)] = [_plain(old), _plain(new)]
    return diff


async def record(
    session: AsyncSession,
    actor: Actor,
    event: EventName,
    resource_id: uuid.UUID,
    *,
    changed: Record | None = None,
    metadata: dict[str, Any] | None = None,
    product: uuid.UUID | None = None,
) -> Event:
    """Add ``event`` on the resource (of the event's type) to ``session``'s transaction, by
    ``actor`` in its account, with its webhook deliveries (one per endpoint subscribed to it:
    they commit with the change or not at all). With ``changed``, its pending changes go in
    ``metadata.diff``; ``product`` is the product the resource belongs to, whose endpoints
    receive it too."""
    meta = dict(metadata or {})
    if changed is not None:
        diff = pending_diff(changed)
        if diff:
            meta["diff"] = diff
    row = _row(actor, event, resource_id, meta, product)
    session.add(row)
    await fanout.deliveries(session, [Occurrence.of(row)])
    return row


async def record_many(
    session: AsyncSession,
    actor: Actor,
    event: EventName,
    resources: Sequence[tuple[uuid.UUID, uuid.UUID | None]],
) -> None:
    """``record`` of the same ``event`` on many new resources (``(id, product)`` each), with
    no metadata: their webhook deliveries found at once, not with a query per event."""
    rows = [_row(actor, event, resource_id, {}, product) for resource_id, product in resources]
    session.add_all(rows)
    await fanout.deliveries(session, [Occurrence.of(row) for row in rows])


def _row(
    actor: Actor, event: EventName, resource_id: uuid.UUID, meta: dict[str, Any], product: uuid.UUID | None
) -> Event:
    who = actor.whodunnit
    origin = actor.origin
    return Event(
        id=uuid7(),
        account_id=actor.account.id,
        event=event.value,
        resource_type=event.resource.value,
        resource_id=resource_id,
        product_id=product,
        whodunnit_type=who.type.value,
        whodunnit_id=who.id,
        request_id=origin.request_id,
        address=origin.address,
        user_agent=None if origin.user_agent is None else origin.user_agent[:512],
        meta=meta,
        created_at=clock.now(),
    )


def validated(
    batch: EventBatch,
    account_id: uuid.UUID,
    license_id: uuid.UUID,
    product_id: uuid.UUID,
    valid: bool,
    code: str,
    who: Whodunnit | None,
    origin: Origin | Callable[[], Origin],
) -> None:
    """A license's validation, for the event log (written in the next batch): succeeded or
    failed, with its code. Without a credential, the holder of the license key acted.
    ``origin`` may be built later, with the batch (``EventBatch.note``)."""
    event = EventName.LICENSE_VALIDATION_SUCCEEDED if valid else EventName.LICENSE_VALIDATION_FAILED
    acting = who or Whodunnit(ActorType.LICENSE, license_id)
    batch.note(account_id, event, license_id, acting, origin, {"code": code}, product_id)


def _admins_only(reader: Reader) -> None:
    if not reader.is_admin:
        raise Forbidden("Only an admin may read the event log", "ACCESS_DENIED")


async def listing(
    session: AsyncSession, reader: Reader, asked: paging.Listed[EventFilters]
) -> paging.Page[Event]:
    """A page of the account's events, newest first (admins only)."""
    _admins_only(reader)
    return await repository.page(session, reader.account.id, asked.filters, asked.paging)


async def get(session: AsyncSession, reader: Reader, event_id: str) -> Event:
    _admins_only(reader)
    wanted = as_uuid(event_id)
    found = None if wanted is None else await repository.get(session, reader.account.id, wanted)
    if found is None:
        raise NotFound("The requested event log was not found", "NOT_FOUND")
    return found


async def of_resource(
    session: AsyncSession,
    account: AccountRef,
    resource_type: ResourceType,
    resource_id: uuid.UUID,
    limit: int,
) -> list[Event]:
    """A resource's latest events, newest first (its reader has been checked by its service)."""
    filters = EventFilters(resource_type=resource_type, resource_id=resource_id)
    page = await repository.page(session, account.id, filters, paging.Paging("limit", limit))
    return list(page.items)


async def prune(database: Database, days: int, batch: int = 1_000) -> int:
    """Delete events older than ``days`` days, ``batch`` at a time (each its own short
    transaction, so writers are never held long); how many went."""
    if days <= 0:
        return 0
    before = clock.now() - timedelta(days=days)
    pruned = 0
    while True:
        async with database.writer(background=True) as session:
            gone = await repository.delete_before(session, before, batch)
            await session.commit()
        pruned += gone
        if gone < batch:
            return pruned
