"""Batched ``lastUsedAt`` writes (``UsageRecorder``): shutting down while a batch is being
written, and a batch that fails part of the way."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane import usage
from keyplane.credentials import repository
from keyplane.credentials.engine import CredentialState
from keyplane.kit import clock
from keyplane.services import services_of
from keyplane.usage import UsageRecorder
from tests import factories
from tests.auth.support import timestamp
from tests.factories import Tenant, bearer

Touch = Callable[[AsyncSession, list[tuple[uuid.UUID, datetime]]], Awaitable[None]]


async def _keys(app: FastAPI, client: httpx.AsyncClient, acme: Tenant, count: int) -> list[CredentialState]:
    """``count`` new API keys, as the verified states a request would record a use of."""
    states = []
    for _ in range(count):
        made = await factories.api_key(client, acme)
        async with services_of(app).db.reader() as session:
            _, state = await services_of(app).credentials.resolve(session, str(made["key"]))
        assert state is not None
        states.append(state)
    return states


async def _last_used(client: httpx.AsyncClient, acme: Tenant, state: CredentialState) -> datetime | None:
    read = await client.get(f"{acme.base}/api-keys/{state.id}", headers=bearer(acme.key))
    assert read.status_code == 200, read.text
    value = read.json()["lastUsedAt"]
    return None if value is None else timestamp(value)


async def test_stopping_lets_a_batch_being_written_finish(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shutdown comes while a batch is between its statement and its commit: that batch is
    still written, and so are the uses noted meanwhile (cancelling the flush lost them)."""
    first, second = await _keys(app, client, acme, 2)
    touch: Touch = repository.touch
    inside, release = asyncio.Event(), asyncio.Event()

    async def held(session: AsyncSession, uses: list[tuple[uuid.UUID, datetime]]) -> None:
        await touch(session, uses)
        inside.set()
        await release.wait()

    monkeypatch.setattr(repository, "touch", held)
    recorder = UsageRecorder(services_of(app).db, interval=0.01)
    recorder.start()
    used_at = (clock.now() + timedelta(days=1)).replace(microsecond=0)
    recorder.record(first, used_at)
    await asyncio.wait_for(inside.wait(), 10)
    recorder.record(second, used_at + timedelta(seconds=1))
    stopping = asyncio.create_task(recorder.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # it waits for the batch in progress
    release.set()
    await asyncio.wait_for(stopping, 10)

    assert await _last_used(client, acme, first) == used_at
    assert await _last_used(client, acme, second) == used_at + timedelta(seconds=1)


async def test_a_failed_transaction_keeps_the_ones_before_it_and_is_written_next_time(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is written in several transactions (a writer waits for one, not for the whole
    batch): when the second of three fails midway, the first stays written and the rest is noted
    again, then written by the next flush with the times the keys were used at."""
    states = sorted(await _keys(app, client, acme, 5), key=lambda state: state.id.int)  # flush order
    monkeypatch.setattr(usage, "CHUNK", 1)
    monkeypatch.setattr(usage, "TRANSACTION_CHUNKS", 2)  # transactions: keys 0-1, 2-3, 4
    touch: Touch = repository.touch
    calls = 0

    async def fourth_fails(session: AsyncSession, uses: list[tuple[uuid.UUID, datetime]]) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise OperationalError("UPDATE credentials", {}, Exception("the database went away"))
        await touch(session, uses)

    monkeypatch.setattr(repository, "touch", fourth_fails)
    recorder = UsageRecorder(services_of(app).db, interval=3600)
    used_at = (clock.now() + timedelta(days=1)).replace(microsecond=0)
    for offset, state in enumerate(states):
        recorder.record(state, used_at + timedelta(seconds=offset))

    await recorder.flush()
    assert calls == 4  # the last transaction was not tried
    assert [await _last_used(client, acme, state) for state in states] == [
        used_at,
        used_at + timedelta(seconds=1),
        None,  # written, then rolled back with the statement after it
        None,
        None,
    ]

    await recorder.flush()
    assert [await _last_used(client, acme, state) for state in states] == [
        used_at + timedelta(seconds=offset) for offset in range(5)
    ]
