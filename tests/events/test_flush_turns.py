"""A flush of the event log's batch writes in bounded transactions and lets the process's
other writers take their turn between them: on SQLite, a saturated second of validations in
one transaction held the one turn to write for seconds, and the requests' writes and the
webhook deliverer's claims behind it timed out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select

from keyplane.config import Settings
from keyplane.db import Database
from keyplane.events import service as events
from keyplane.events.batch import PER_TRANSACTION
from keyplane.kit.actor import NOWHERE
from keyplane.models import Event, WebhookEvent
from keyplane.services import services_of
from tests import factories
from tests.factories import Tenant

COMMIT = "commit"
WAITER = "waiter"
EVENTS = "events"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhooks_allow_private": True})


@contextmanager
def _writes(database: Database, started: asyncio.Event) -> Iterator[list[str]]:
    """What the database is told while inside, in order: ``EVENTS`` for each statement that
    inserts into the event log (``started`` is set at the first), ``COMMIT`` for each commit.
    The caller adds its own marks."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            seen.append(EVENTS)
            started.set()

    def committed(_conn: Any) -> None:
        seen.append(COMMIT)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "commit", committed)


def _transactions(seen: list[str]) -> int:
    """How many committed transactions inserted into the event log."""
    count, inserting = 0, False
    for mark in seen:
        if mark == EVENTS:
            inserting = True
        elif mark == COMMIT and inserting:
            count, inserting = count + 1, False
    return count


async def test_a_large_flush_commits_in_bounded_transactions_and_a_waiting_writer_goes_between(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    services = services_of(app)
    await services.webhooks.stop()  # its deliveries stay in the outbox, to be counted
    await factories.webhook_endpoint(
        client, acme, "http://127.0.0.1:9/hooks", subscriptions=["license.validation.succeeded"]
    )
    product = await factories.product(client, acme)
    policy = await factories.policy(client, acme, product)
    license = await factories.license(client, acme, policy)
    count = 2 * PER_TRANSACTION + 1
    for _ in range(count):
        events.validated(
            services.events,
            acme.id,
            uuid.UUID(license["id"]),
            uuid.UUID(product),
            True,
            "VALID",
            None,
            NOWHERE,
        )

    started = asyncio.Event()

    async def another_writer(seen: list[str]) -> None:
        # Comes while the flush's first transaction is being written.
        await started.wait()
        async with services.db.writer():
            seen.append(WAITER)

    with _writes(services.db, started) as seen:
        waiting = asyncio.create_task(another_writer(seen))
        assert await services.events.flush() == count
        await waiting

    # Every event written, with its delivery, in transactions of at most PER_TRANSACTION...
    assert _transactions(seen) == 3
    async with services.db.reader() as session:
        validations = Event.event == "license.validation.succeeded"
        assert await session.scalar(select(func.count()).select_from(Event).where(validations)) == count
        delivered = WebhookEvent.event == "license.validation.succeeded"
        assert await session.scalar(select(func.count()).select_from(WebhookEvent).where(delivered)) == count
    # ...and the writer that came during the first had its turn before the last was written
    # (on SQLite right after the first; PostgreSQL does not make writers take turns at all).
    last_commit = len(seen) - 1 - seen[::-1].index(COMMIT)
    assert seen.index(WAITER) < last_commit
