"""The invalidation log: a change and its log row commit or roll back together, and a
reader's cursor never loses a row that commits late (``keyplane.invalidations``)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from keyplane.cache import TaggedCache
from keyplane.db import Database, touched
from keyplane.invalidations import (
    GAP_GIVE_UP_SECONDS,
    GAP_HOLD_SECONDS,
    LOG,
    POLL_SECONDS,
    PRUNE_AGE,
    VOUCH_SECONDS,
    Cursor,
    Snapshot,
)
from keyplane.kit import clock
from keyplane.models import User
from keyplane.services import services_of
from tests import factories

# --- the cursor, table-driven: (what was read, when, with which transactions running) ---

T0 = 1000.0
RUNNING = Snapshot(frozenset({41, 42}))
ENDED = Snapshot(frozenset({43}))  # 41 and 42 are over; 43 began since


@pytest.mark.parametrize(
    ("reads", "fresh", "gaps"),
    [
        pytest.param([([11, 12], RUNNING, 0.0)], [[11, 12]], [], id="in-order"),
        pytest.param([([12], RUNNING, 0.0)], [[12]], [11], id="a-skipped-seq-is-a-gap"),
        pytest.param(
            [([12], RUNNING, 0.0), ([11], RUNNING, 0.25)], [[12], [11]], [], id="a-late-commit-fills-its-gap"
        ),
        pytest.param(
            [([12], RUNNING, 0.0), ([], RUNNING, 5.0)],
            [[12], []],
            [11],
            id="held-while-its-transactions-run",
        ),
        pytest.param(
            [([12], RUNNING, 0.0), ([], ENDED, GAP_HOLD_SECONDS / 2)],
            [[12], []],
            [11],
            id="held-a-while-even-when-they-ended",
        ),
        pytest.param(
            [([12], RUNNING, 0.0), ([], ENDED, GAP_HOLD_SECONDS)],
            [[12], []],
            [],
            id="released-once-they-ended-rolled-back",
        ),
        pytest.param(
            [([12], RUNNING, 0.0), ([], RUNNING, GAP_GIVE_UP_SECONDS)],
            [[12], []],
            [],
            id="given-up-after-the-longest-wait",
        ),
        pytest.param(
            [([12], RUNNING, 0.0), ([], ENDED, 5.0), ([11], ENDED, 6.0)],
            [[12], [], []],
            [],
            id="a-released-gap-is-not-applied-twice",
        ),
        pytest.param([([10], RUNNING, 0.0)], [[]], [], id="a-seq-read-before-is-not-applied-again"),
        pytest.param([([14], Snapshot(), 0.0)], [[14]], [11, 12, 13], id="sqlite-gaps-too"),
    ],
)
def test_the_cursor_applies_each_row_once_and_waits_for_late_commits(
    reads: list[tuple[list[int], Snapshot, float]], fresh: list[list[int]], gaps: list[int]
) -> None:
    cursor = Cursor(10, range(1, 11), RUNNING, T0)
    assert cursor.gaps == {}
    applied = [cursor.advance(seqs, snapshot, T0 + offset) for seqs, snapshot, offset in reads]
    assert applied == fresh
    assert sorted(cursor.gaps) == gaps


def test_a_reader_that_starts_counts_absent_recent_seqs_as_gaps() -> None:
    """A transaction may have taken seq 8 before the reader started and commit after: the
    reader reads it when it does, until the transactions running at its start have ended."""
    cursor = Cursor(10, [9, 10], RUNNING, T0)
    assert sorted(cursor.gaps) == list(range(1, 9))
    assert cursor.advance([8], RUNNING, T0 + 0.25) == [8]
    assert cursor.advance([], ENDED, T0 + GAP_HOLD_SECONDS) == []
    assert cursor.gaps == {}


def test_a_snapshot_is_read_from_postgresql_text() -> None:
    assert Snapshot.parse("740:745:740,743").running == frozenset({740, 743})
    assert Snapshot.parse("745:745:").running == frozenset()


# --- writing: the change and its row, in one transaction, on both databases ---


async def _rows(database: Database) -> list[tuple[str, list[str]]]:
    async with database.reader() as session:
        found = await session.execute(select(LOG.c.origin, LOG.c.tags).order_by(LOG.c.seq))
        return [(origin, json.loads(tags)) for origin, tags in found]


async def test_a_change_flushed_by_commit_itself_is_logged_with_it(
    app: FastAPI, acme: factories.Tenant
) -> None:
    database: Database = services_of(app).db
    before = len(await _rows(database))
    async with database.writer() as session:
        user = await session.get(User, acme.admin_id)
        assert user is not None
        user.first_name = "Renamed"  # no flush before commit: commit's own flush writes it
        await session.commit()
    logged = (await _rows(database))[before:]
    assert logged == [(database.origin, [str(acme.admin_id)])]


async def test_a_rolled_back_change_leaves_no_log_row(app: FastAPI, acme: factories.Tenant) -> None:
    database: Database = services_of(app).db
    before = await _rows(database)
    async with database.writer() as session:
        user = await session.get(User, acme.admin_id)
        assert user is not None
        user.first_name = "Never"
        await session.flush()
        touched(session, "bulk-tag")
        await session.rollback()
    assert await _rows(database) == before
    async with database.reader() as session:
        user = await session.get(User, acme.admin_id)
        assert user is not None
        assert user.first_name != "Never"


async def test_a_commit_that_fails_takes_its_log_row_with_it(app: FastAPI, acme: factories.Tenant) -> None:
    """The row is written before COMMIT, inside the transaction: when the transaction fails
    at its last flush (a unique email taken), neither the change nor its row remain."""
    database: Database = services_of(app).db
    before = await _rows(database)
    async with database.writer() as session:
        touched(session, "bulk-tag")
        session.add(User(account_id=acme.id, email=acme.admin_email, role="user", password_hash="x"))
        with pytest.raises(IntegrityError):
            await session.commit()
    assert await _rows(database) == before


async def test_a_large_change_is_logged_in_rows_of_bounded_size(app: FastAPI) -> None:
    database: Database = services_of(app).db
    before = len(await _rows(database))
    tags = {f"used:{uuid.uuid4()}" for _ in range(2500)}
    async with database.writer() as session:
        touched(session, *tags)
        await session.commit()
    logged = (await _rows(database))[before:]
    assert [len(row_tags) for _, row_tags in logged] == [1000, 1000, 500]
    assert {tag for _, row_tags in logged for tag in row_tags} == tags


async def test_another_process_change_reaches_this_process_caches(app: FastAPI, database_url: str) -> None:
    """A change committed by another process (another origin, the fast path left out: the
    memory bus on SQLite, and this one's own LISTEN connection does not carry it) is read
    from the log and drops this process's entry; this process's own rows are not applied."""
    caches = services_of(app).credentials.caches
    cache: TaggedCache[str, str] = caches.cache("probe", 10, 60)
    cache.put("theirs", "v", ["their-tag"], caches.generation())
    cache.put("mine", "v", ["my-tag"], caches.generation())
    database: Database = services_of(app).db
    async with database.writer() as session:
        session.info["keyplane.publish"] = None  # as if another process had committed it: no local drop
        touched(session, "my-tag")
        await session.commit()
    other = Database(database_url)
    try:
        async with other.writer() as session:
            touched(session, "their-tag")
            await session.commit()
    finally:
        await other.dispose()
    deadline = time.monotonic() + VOUCH_SECONDS + POLL_SECONDS
    while time.monotonic() < deadline:
        if cache.get("theirs") is None:
            break
        await asyncio.sleep(0.02)
    assert cache.get("theirs") is None
    assert cache.get("mine") == "v"
    assert services_of(app).bus.log.vouching()


async def test_old_rows_are_pruned_but_never_the_newest(app: FastAPI) -> None:
    """On SQLite the next row would take the newest's seq again, and readers past it would
    skip it: the newest row stays, however old."""
    database: Database = services_of(app).db
    old = clock.now() - PRUNE_AGE - timedelta(seconds=1)
    async with database.writer() as session:
        await session.execute(
            insert(LOG), [{"origin": "x", "tags": f'["{n}"]', "created_at": old} for n in range(3)]
        )
        await session.commit()
    assert await services_of(app).bus.log.prune() == 2
    # (The application's own start wrote a row too, with the secret's verifier: a recent one.)
    assert [row for row in await _rows(database) if row[0] == "x"] == [("x", ["2"])]
    async with database.writer() as session:
        touched(session, "next")
        await session.commit()
    async with database.reader() as session:
        seqs = (await session.execute(select(LOG.c.seq).order_by(LOG.c.seq))).scalars().all()
    assert seqs[1] > seqs[0]
