"""The invalidation log: the channel that vouches for every process's caches.

Every transaction that changes cached records writes, in that same transaction, rows of
the ``invalidations`` table naming them (``keyplane.db``): a change and its row commit or
roll back together. Every process reads the rows past its watermark every
``POLL_SECONDS`` and drops what other processes' rows name from its caches. Redis pub/sub
and PostgreSQL ``LISTEN/NOTIFY`` (``keyplane.bus``) still carry the same news within
milliseconds; the log is what makes the bound hold when they fail silently.

The bound: a process serves a cached entry at most ``VOUCH_SECONDS`` after the start of
its last read of the log that succeeded, so no process accepts a revoked credential or
validates a suspended license more than ``VOUCH_SECONDS`` (plus one read, and the event
loop's lag) after the revoking transaction committed, whatever happens to Redis, to a
notification connection or to the network. Past that deadline without a read, the caches
are suspended (they serve and keep nothing: every check reads the database, which answers
or is a 503); the first read that succeeds again, and has caught up, resumes them empty.
A process serves nothing from its caches before its first read.

Reading, on PostgreSQL: a row's ``seq`` is taken at INSERT and becomes visible at COMMIT,
so a lower ``seq`` can appear after a higher one was read. ``Cursor`` remembers every
``seq`` it skipped (a *gap*) with the transactions that were running when it noticed it
(``pg_current_snapshot()``, read in the same statement as the rows), and reads the gap
again each time until it is filled, or until every one of those transactions has ended
(then it was rolled back) and ``GAP_HOLD_SECONDS`` passed, or ``GAP_GIVE_UP_SECONDS``
passed whatever runs. On SQLite writers are serialised, so no gap ever fills late; a poll
is a statement on the event loop's read-only connection (``Database.run_now``), some tens
of microseconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from sqlalchemy import Table, bindparam, delete, func, or_, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from keyplane.cache import EVERYTHING, Caches
from keyplane.kit import clock
from keyplane.models.invalidation import Invalidation

if TYPE_CHECKING:  # keyplane.db writes the log with ``rows_for``
    from keyplane.db import Database

log = logging.getLogger("keyplane.invalidations")

POLL_SECONDS = 0.25
"""How often each process reads the log: the usual delay of a change reaching another
process when the fast path (Redis, NOTIFY) is down."""
VOUCH_SECONDS = 1.0
"""How long a read of the log vouches for the caches: past this without a read that
succeeded, the process stops serving from its caches."""
SUSPENDED_TIMEOUT = 2.0
"""How long a read may take while the caches are suspended (nothing to vouch for)."""
STARTUP_SECONDS = 5.0
"""How long ``start`` waits for the first read (serving meanwhile without caches)."""
GAP_HOLD_SECONDS = 0.5
"""Shortest time a skipped ``seq`` is read again, even when its transaction seems over."""
GAP_GIVE_UP_SECONDS = 30.0
"""Longest time a skipped ``seq`` is read again, whatever transactions still run."""
MAX_GAPS = 10_000
"""Most skipped ``seq`` remembered (the oldest go first)."""
STARTUP_LOOKBACK = 1_000
"""At start, ``seq`` values this far below the newest that are absent count as gaps: a
transaction may have taken one and not committed yet."""
ROWS_PER_POLL = 500
"""Most rows one read takes; a read that took this many is followed by another at once."""
PRUNE_AGE = timedelta(seconds=60)
"""Rows older than this are deleted: every process has read them long before."""
PRUNE_EVERY = 20.0
"""Seconds between a process's prunes (each one a random 50-100% of it, so processes
started together do not all prune in the same second)."""
PRUNE_BATCH = 1_000
"""Rows per pruning transaction (on SQLite it holds the write lock)."""
TAGS_PER_ROW = 1_000
"""Tags per row: a usage batch names a thousand keys per transaction."""


LOG = cast(Table, Invalidation.__table__)


def rows_for(origin: str, tags: Iterable[str]) -> list[dict[str, Any]]:
    """The log rows of one transaction that changed what ``tags`` name."""
    names = sorted(tags)
    return [
        {"origin": origin, "tags": json.dumps(names[start : start + TAGS_PER_ROW]), "created_at": clock.now()}
        for start in range(0, len(names), TAGS_PER_ROW)
    ]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The transactions running when rows were read (PostgreSQL's ``pg_current_snapshot()``
    ids in progress); empty on SQLite, where nothing that has taken a ``seq`` is left to
    commit by the time a reader can run."""

    running: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        """From ``xmin:xmax:xip,xip,...``."""
        listed = text.split(":")[2]
        return cls(frozenset(int(xid) for xid in listed.split(",") if xid))


@dataclass(frozen=True, slots=True)
class _Gap:
    noticed: float
    running: frozenset[int]


class Cursor:
    """Which rows of the log this process has read: every ``seq`` up to ``high`` except the
    ``gaps``, which are read again until they are filled or known never to be."""

    def __init__(self, high: int, present: Iterable[int], snapshot: Snapshot, now: float) -> None:
        self.high = high
        self.gaps: dict[int, _Gap] = {}
        seen = set(present)
        for seq in range(max(high - STARTUP_LOOKBACK, 0) + 1, high + 1):
            if seq not in seen:
                self.gaps[seq] = _Gap(now, snapshot.running)

    def advance(self, seqs: Sequence[int], snapshot: Snapshot, now: float) -> list[int]:
        """Take the ``seq`` of the rows just read (ascending: gaps, then past ``high``); the
        ones read for the first time, whose tags are to be applied."""
        fresh = []
        for seq in seqs:
            if self.gaps.pop(seq, None) is not None:
                fresh.append(seq)
            elif seq > self.high:
                for missing in range(max(self.high + 1, seq - MAX_GAPS), seq):
                    self.gaps[missing] = _Gap(now, snapshot.running)
                self.high = seq
                fresh.append(seq)
        for seq, gap in list(self.gaps.items()):
            age = now - gap.noticed
            if age >= GAP_GIVE_UP_SECONDS or (
                age >= GAP_HOLD_SECONDS and gap.running.isdisjoint(snapshot.running)
            ):
                del self.gaps[seq]  # rolled back (or never committing in a useful time)
        while len(self.gaps) > MAX_GAPS:
            del self.gaps[next(iter(self.gaps))]
        return fresh


T = TypeVar("T")
Row = tuple[int, str, str]
"""(seq, origin, tags as JSON)."""


class Source(Protocol):
    """How a database's log is read."""

    async def begin(self) -> tuple[Snapshot, int, list[int]]:
        """The snapshot, the newest ``seq`` (0 for none) and the ``seq`` values present
        within ``STARTUP_LOOKBACK`` of it."""

    async def read(self, high: int, gaps: list[int]) -> tuple[Snapshot, list[Row]]:
        """The rows past ``high`` or in ``gaps``, ascending, at most ``ROWS_PER_POLL``."""

    def drop(self) -> None:
        """Forget the connection (a read failed or timed out on it)."""


_NEWEST = select(func.coalesce(func.max(LOG.c.seq), 0))
_PRESENT = select(LOG.c.seq).where(LOG.c.seq > bindparam("low"))
_READ = (
    select(LOG.c.seq, LOG.c.origin, LOG.c.tags)
    .where(or_(LOG.c.seq > bindparam("high"), LOG.c.seq.in_(bindparam("gaps", expanding=True))))
    .order_by(LOG.c.seq)
    .limit(ROWS_PER_POLL)
)


class SqliteSource:
    """Reads on the event loop's read-only connection; through aiosqlite when it cannot."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def begin(self) -> tuple[Snapshot, int, list[int]]:
        def work(connection: Connection) -> tuple[int, list[int]]:
            high = int(connection.execute(_NEWEST).scalar_one())
            present = connection.execute(_PRESENT, {"low": high - STARTUP_LOOKBACK}).scalars().all()
            return high, list(present)

        high, present = await self._run(work)
        return Snapshot(), high, present

    async def read(self, high: int, gaps: list[int]) -> tuple[Snapshot, list[Row]]:
        def work(connection: Connection) -> list[Row]:
            found = connection.execute(_READ, {"high": high, "gaps": gaps})
            return [(row.seq, row.origin, row.tags) for row in found]

        return Snapshot(), await self._run(work)

    async def _run(self, work: Callable[[Connection], T]) -> T:
        done, result = self._database.run_now(work)
        if done:
            return cast(T, result)
        async with self._database.engine.connect() as connection:
            return await connection.run_sync(work)

    def drop(self) -> None:
        return None


_PG_BEGIN = """
SELECT pg_current_snapshot()::text AS snapshot, i.seq
FROM (SELECT coalesce(max(seq), 0) AS high FROM invalidations) AS newest
LEFT JOIN invalidations AS i ON i.seq > newest.high - $1
ORDER BY i.seq
"""
_PG_READ = """
SELECT pg_current_snapshot()::text AS snapshot, i.seq, i.origin, i.tags
FROM (SELECT 1) AS one
LEFT JOIN invalidations AS i ON i.seq > $1 OR i.seq = ANY($2::bigint[])
ORDER BY i.seq
LIMIT $3
"""
"""One statement: the rows and the snapshot they were read in. ``LEFT JOIN`` from one row:
the snapshot comes back when no row does."""


def libpq_url(database_url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as asyncpg's own ``connect`` takes it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresSource:
    """Reads on a connection of its own, so that a busy pool never silences the log and a
    read that hangs is dropped with its connection alone."""

    def __init__(self, database_url: str) -> None:
        self._dsn = libpq_url(database_url)
        self._connection: Any = None

    async def _connect(self) -> Any:
        import asyncpg

        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self._dsn, timeout=SUSPENDED_TIMEOUT)
        return self._connection

    async def begin(self) -> tuple[Snapshot, int, list[int]]:
        connection = await self._connect()
        rows = await connection.fetch(_PG_BEGIN, STARTUP_LOOKBACK)
        present = [row["seq"] for row in rows if row["seq"] is not None]
        return Snapshot.parse(rows[0]["snapshot"]), max(present, default=0), present

    async def read(self, high: int, gaps: list[int]) -> tuple[Snapshot, list[Row]]:
        connection = await self._connect()
        rows = await connection.fetch(_PG_READ, high, gaps, ROWS_PER_POLL)
        found = [(row["seq"], row["origin"], row["tags"]) for row in rows if row["seq"] is not None]
        return Snapshot.parse(rows[0]["snapshot"]), found

    def drop(self) -> None:
        if self._connection is not None:
            self._connection.terminate()  # at once: a frozen peer would never answer a close
            self._connection = None


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
                caught_up = await asyncio.wait_for(self._read(), left)
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
                await asyncio.wait_for(self.prune(), SUSPENDED_TIMEOUT * 5)
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
