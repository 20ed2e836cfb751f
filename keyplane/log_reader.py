"""The reader of the invalidation log (``keyplane.invalidations``), which vouches for this
process's caches: they serve only while a read of the log began within ``VOUCH_SECONDS``."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from contextlib import suppress

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from keyplane.cache import EVERYTHING, Caches
from keyplane.db import Database
from keyplane.invalidations import (
    LOG,
    POLL_SECONDS,
    PRUNE_AGE,
    PRUNE_BATCH,
    PRUNE_EVERY,
    PRUNE_ROUNDS,
    ROWS_PER_POLL,
    STARTUP_SECONDS,
    SUSPENDED_TIMEOUT,
    VOUCH_SECONDS,
    Cursor,
    PostgresSource,
    Source,
    SqliteSource,
)
from keyplane.kit import clock

log = logging.getLogger("keyplane.invalidations")


def _read_errors() -> tuple[type[BaseException], ...]:
    import asyncpg

    return (TimeoutError, OSError, SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError)


class LogReader:
    """Reads the log for this process (``origin``) and vouches for its caches.

    ``vouching()`` and ``last_read_age()`` say how it fares (for ``/readyz`` and metrics);
    ``read_failures`` counts the reads that failed or timed out."""

    def __init__(self, database: Database, caches: Caches, origin: str) -> None:
        self._database = database
        self._caches = caches
        self._origin = origin
        self._source: Source = SqliteSource(database) if database.is_sqlite else PostgresSource(database.url)
        self._cursor: Cursor | None = None
        self._vouched_at: float | None = None
        self._vouched = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.read_failures = 0

    def vouching(self) -> bool:
        """Whether the caches may serve: a read of the log began within ``VOUCH_SECONDS``."""
        return self._caches.enabled

    def last_read_age(self) -> float | None:
        """Seconds since the last read that succeeded began, or None before the first."""
        return None if self._vouched_at is None else time.monotonic() - self._vouched_at

    async def start(self) -> None:
        """Read the log in the background; wait (a little) for the first read, before which
        the caches serve nothing."""
        self._caches.suspend()
        self._tasks = [
            asyncio.create_task(self._run(), name="keyplane-invalidations"),
            asyncio.create_task(self._prune_now_and_then(), name="keyplane-invalidations-prune"),
        ]
        with suppress(TimeoutError):
            await asyncio.wait_for(self._vouched.wait(), STARTUP_SECONDS)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._source.drop()

    async def _run(self) -> None:
        errors = _read_errors()
        while True:
            started = time.monotonic()
            left = self._vouch_left(started)
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
                # cancellation that stop() sends, and this loop would then never end.
                async with asyncio.timeout(left):
                    caught_up = await self._read()
            except errors as error:
                self.read_failures += 1
                self._source.drop()
                if self._caches.enabled:
                    log.warning("invalidations.read_failed", extra={"error": type(error).__name__})
                self._vouch_left(time.monotonic())
                await asyncio.sleep(POLL_SECONDS / 2)
                continue
            if caught_up:
                self._vouched_at = started
                if not self._caches.enabled:
                    self._caches.resume()
                    log.info("invalidations.vouching")
                self._vouched.set()
                await asyncio.sleep(POLL_SECONDS)

    def _vouch_left(self, now: float) -> float:
        """How long the next read may take: until the caches' deadline, where they are
        suspended (at once when it has passed); ``SUSPENDED_TIMEOUT`` when there is none."""
        if not self._caches.enabled or self._vouched_at is None:
            return SUSPENDED_TIMEOUT
        left = self._vouched_at + VOUCH_SECONDS - now
        if left > 0:
            return left
        self._caches.suspend()
        log.warning("invalidations.not_vouching", extra={"after_seconds": VOUCH_SECONDS})
        return SUSPENDED_TIMEOUT

    async def _read(self) -> bool:
        """Read the next rows and apply them; whether the log is read to its end."""
        if self._cursor is None:
            snapshot, high, present = await self._source.begin()
            self._cursor = Cursor(high, present, snapshot, time.monotonic())
        cursor = self._cursor
        snapshot, rows = await self._source.read(cursor.high, list(cursor.gaps))
        fresh = set(cursor.advance([row[0] for row in rows], snapshot, time.monotonic()))
        # Suspended caches hold nothing, and start empty when they resume.
        if self._caches.enabled:
            for seq, origin, tags in rows:
                if seq in fresh and origin != self._origin:
                    self._caches.invalidate(_tags(tags))
        return len(rows) < ROWS_PER_POLL

    async def _prune_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_EVERY * (0.5 + random.random() / 2))  # noqa: S311 (not a secret)
            try:
                # Batch after batch while they come full: a busy installation writes more
                # rows between two prunes than one batch takes.
                for _ in range(PRUNE_ROUNDS):
                    async with asyncio.timeout(SUSPENDED_TIMEOUT * 5):
                        pruned = await self.prune()
                    if pruned < PRUNE_BATCH:
                        break
                    await asyncio.sleep(POLL_SECONDS)
            except _read_errors() as error:
                log.warning("invalidations.prune_failed", extra={"error": type(error).__name__})

    async def prune(self) -> int:
        """Delete up to ``PRUNE_BATCH`` rows older than ``PRUNE_AGE``, never the newest (on
        SQLite the next row would take its ``seq`` again); how many went."""
        newest = select(func.max(LOG.c.seq)).scalar_subquery()
        doomed = (
            select(LOG.c.seq)
            .where(LOG.c.created_at < clock.now() - PRUNE_AGE, LOG.c.seq < newest)
            .order_by(LOG.c.seq)
            .limit(PRUNE_BATCH)
        )
        async with self._database.writer() as session:
            result = await session.execute(delete(LOG).where(LOG.c.seq.in_(doomed)))
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def _tags(text: str) -> list[str]:
    """A row's tags; a row that cannot be read names everything (what it changed is unknown)."""
    try:
        tags = json.loads(text)
    except ValueError:
        tags = None
    if not isinstance(tags, list):
        log.warning("invalidations.row_invalid")
        return [EVERYTHING]
    return [str(tag) for tag in tags]
