"""Queries on webhook endpoints and their deliveries (the outbox)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TypeVar, cast

from sqlalchemy import ColumnElement, Table, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kit import paging
from keyplane.models import Event, License, WebhookEndpoint, WebhookEvent
from keyplane.models.base import Base
from keyplane.models.license import WITH_LICENSEES
from keyplane.models.webhook_event import DeliveryStatus

M = TypeVar("M", bound=Base)

CHUNK = 500
"""Ids per ``IN`` list (well under SQLite's limit on a statement's parameters)."""


# -- endpoints -------------------------------------------------------------------------------


def _endpoint_conditions(account_id: uuid.UUID, product_id: uuid.UUID | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [WebhookEndpoint.account_id == account_id]
    if product_id is not None:
        conditions.append(WebhookEndpoint.product_id == product_id)
    return conditions


async def endpoint_page(
    session: AsyncSession, account_id: uuid.UUID, product_id: uuid.UUID | None, paged: paging.Paging
) -> paging.Page[WebhookEndpoint]:
    return await paging.fetch(
        session,
        paged,
        select(WebhookEndpoint),
        WebhookEndpoint.id,
        _endpoint_conditions(account_id, product_id),
    )


async def endpoint(
    session: AsyncSession, account_id: uuid.UUID, endpoint_id: uuid.UUID, product_id: uuid.UUID | None
) -> WebhookEndpoint | None:
    found: WebhookEndpoint | None = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, *_endpoint_conditions(account_id, product_id)
        )
    )
    return found


async def give_up_on(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    """An endpoint going: what it has not received yet never will be."""
    await session.execute(
        update(WebhookEvent)
        .where(
            WebhookEvent.endpoint_id == endpoint_id, WebhookEvent.status == DeliveryStatus.DELIVERING.value
        )
        .values(status=DeliveryStatus.FAILED.value)
    )


# -- deliveries ------------------------------------------------------------------------------


def _delivery_conditions(
    account_id: uuid.UUID, product_id: uuid.UUID | None, events: Sequence[str] = ()
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [WebhookEvent.account_id == account_id]
    if product_id is not None:
        of_product = select(WebhookEndpoint.id).where(WebhookEndpoint.product_id == product_id)
        conditions.append(WebhookEvent.endpoint_id.in_(of_product))
    if events:
        conditions.append(WebhookEvent.event.in_(events))
    return conditions


async def delivery_page(
    session: AsyncSession,
    account_id: uuid.UUID,
    product_id: uuid.UUID | None,
    events: Sequence[str],
    paged: paging.Paging,
) -> paging.Page[WebhookEvent]:
    conditions = _delivery_conditions(account_id, product_id, events)
    return await paging.fetch(session, paged, select(WebhookEvent), WebhookEvent.id, conditions)


async def delivery(
    session: AsyncSession, account_id: uuid.UUID, product_id: uuid.UUID | None, delivery_id: uuid.UUID
) -> WebhookEvent | None:
    conditions = _delivery_conditions(account_id, product_id)
    found: WebhookEvent | None = await session.scalar(
        select(WebhookEvent).where(WebhookEvent.id == delivery_id, *conditions)
    )
    return found


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        WebhookEvent.status == DeliveryStatus.DELIVERING.value,
        WebhookEvent.next_attempt_at <= now,
        or_(WebhookEvent.claimed_until.is_(None), WebhookEvent.claimed_until <= now),
    ]


async def any_due(session: AsyncSession, now: datetime) -> bool:
    """Whether a claim would find anything (a read: most looks find nothing, and need not
    take SQLite's one writer's turn to learn it)."""
    found = await session.scalar(select(WebhookEvent.id).where(*_due(now)).limit(1))
    return found is not None


async def claim(session: AsyncSession, now: datetime, lease: datetime, limit: int) -> list[WebhookEvent]:
    """Claim up to ``limit`` due deliveries until ``lease``, counting the attempt, in one
    statement: on PostgreSQL the rows another process is claiming are skipped (``FOR UPDATE
    SKIP LOCKED``); SQLite has one writer at a time, so its claims cannot overlap.

    The rows are chosen in a CTE, which PostgreSQL runs once: as a subquery of the
    ``UPDATE`` (``id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)``) the plan may run the
    subquery more than once, each run choosing rows of its own: a claim of 100 once took 300
    (a CI run on PostgreSQL)."""
    due = (
        select(WebhookEvent.id)
        .where(*_due(now))
        .order_by(WebhookEvent.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    claimed = await session.scalars(
        update(WebhookEvent)
        .where(WebhookEvent.id.in_(select(due.c.id)))
        .values(claimed_until=lease, attempts=WebhookEvent.attempts + 1)
        .returning(WebhookEvent)
        .execution_options(synchronize_session=False)
    )
    return list(claimed.all())


_SETTLED = ("status", "next_attempt_at", "last_response_code", "last_response_body", "updated_at")


async def settle_all(session: AsyncSession, lease: datetime, outcomes: Sequence[dict[str, object]]) -> None:
    """Write a round's outcomes in one statement run over all of them, where this worker's
    claim still holds (one that outlived its lease has been taken over: the other attempt's
    outcome stands). Each of
    ``outcomes`` has the delivery's ``id`` and its new ``status``, ``next_attempt_at``,
    ``last_response_code``, ``last_response_body`` and ``updated_at``."""
    if not outcomes:
        return
    table = cast(Table, WebhookEvent.__table__)
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.claimed_until == lease)
        .values(claimed_until=None, **{name: bindparam(f"b_{name}") for name in _SETTLED})
    )
    params = [{f"b_{name}": each[name] for name in ("id", *_SETTLED)} for each in outcomes]
    await session.execute(statement, params)


async def release(session: AsyncSession, lease: datetime, delivery_ids: Collection[uuid.UUID]) -> None:
    """Give back claims that were not tried (the round ran out of lease to send them in):
    due again at once, their attempt not counted."""
    if not delivery_ids:
        return
    await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id.in_(list(delivery_ids)), WebhookEvent.claimed_until == lease)
        .values(claimed_until=None, attempts=WebhookEvent.attempts - 1)
        .execution_options(synchronize_session=False)
    )


async def store_payloads(session: AsyncSession, payloads: dict[uuid.UUID, str]) -> None:
    """Store each delivery's payload, rendered at its first claim (one statement run over
    all of them)."""
    if not payloads:
        return
    table = cast(Table, WebhookEvent.__table__)
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.payload.is_(None))
        .values(payload=bindparam("b_payload"))
    )
    await session.execute(statement, [{"b_id": id_, "b_payload": text} for id_, text in payloads.items()])


async def endpoints(
    session: AsyncSession, endpoint_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, WebhookEndpoint]:
    """The endpoints with these ids that are still there, by id."""
    if not endpoint_ids:
        return {}
    found = await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(list(endpoint_ids))))
    return {each.id: each for each in found}


async def row(session: AsyncSession, model: type[M], id_: uuid.UUID) -> M | None:
    """The ``model`` record with id ``id_`` (a payload's resource), if it is still there."""
    found: M | None = await session.get(model, id_)
    return found


async def load_rows(session: AsyncSession, model: type[M], ids: Collection[uuid.UUID]) -> list[M]:
    """Read the ``model`` records with these ids into the session at once: ``row`` then finds
    them without a statement each, for as long as the caller holds what this returns."""
    key = model.__mapper__.primary_key[0]
    ordered = list(ids)
    found: list[M] = []
    statement = select(model)
    if model is License:
        statement = statement.options(WITH_LICENSEES)  # a license's payload shows its users
    for start in range(0, len(ordered), CHUNK):
        found += (await session.scalars(statement.where(key.in_(ordered[start : start + CHUNK])))).all()
    return found


async def events_metadata(
    session: AsyncSession, event_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, dict[str, object]]:
    """The metadata of each event still in the log (not yet pruned), by event id."""
    found: dict[uuid.UUID, dict[str, object]] = {}
    ordered = list(event_ids)
    for start in range(0, len(ordered), CHUNK):
        rows = await session.execute(
            select(Event.id, Event.meta).where(Event.id.in_(ordered[start : start + CHUNK]))
        )
        for event_id, meta in rows:
            found[event_id] = meta
    return found
