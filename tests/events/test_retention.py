"""Retention: events past ``KEYPLANE_EVENT_RETENTION_DAYS`` are pruned in batches; 0 keeps all."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import func, select, update

from keyplane.db import Database
from keyplane.events.retention import Retention
from keyplane.events.service import prune
from keyplane.kit import clock
from keyplane.models import Event
from keyplane.services import services_of
from tests.factories import Tenant


async def _age(database: Database, account: Tenant, days: int, count: int) -> None:
    """Make ``count`` of the account's events ``days`` old."""
    async with database.writer() as session:
        ids = (
            await session.scalars(select(Event.id).where(Event.account_id == account.id).limit(count))
        ).all()
        await session.execute(
            update(Event).where(Event.id.in_(ids)).values(created_at=clock.now() - timedelta(days=days))
        )
        await session.commit()


async def _count(database: Database, account: Tenant) -> int:
    async with database.reader() as session:
        return int(await session.scalar(select(func.count()).where(Event.account_id == account.id)) or 0)


async def test_old_events_go_and_recent_ones_stay(app: FastAPI, acme: Tenant) -> None:
    database = services_of(app).db
    await _age(database, acme, days=91, count=2)
    before = await _count(database, acme)

    pruned = await services_of(app).retention.sweep()

    assert pruned == 2
    assert await _count(database, acme) == before - 2


async def test_pruning_goes_in_batches_until_none_is_left(app: FastAPI, acme: Tenant) -> None:
    database = services_of(app).db
    await _age(database, acme, days=400, count=3)

    assert await prune(database, days=90, batch=1) == 3
    assert await prune(database, days=90, batch=1) == 0


async def test_zero_days_keeps_every_event(app: FastAPI, acme: Tenant) -> None:
    database = services_of(app).db
    await _age(database, acme, days=10_000, count=3)
    before = await _count(database, acme)

    assert await Retention(database, 0, 3600).sweep() == 0
    assert await _count(database, acme) == before
