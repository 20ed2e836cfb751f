"""The invalidation log: the channel that vouches for every process's caches.

Every transaction that changes cached records writes, in that same transaction, rows of
the ``invalidations`` table naming them (``keyplane.db``): a change and its row commit or
roll back together. Every process reads the rows past its watermark every
``POLL_SECONDS`` and drops what other processes' rows name from its caches
(``keyplane.log_reader``). Redis pub/sub
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

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import Table, bindparam, func, or_, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError

from keyplane.kit import clock
from keyplane.models.invalidation import Invalidation

if TYPE_CHECKING:  # keyplane.db writes the log with ``rows_for``
    from keyplane.db import Database

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
PRUNE_ROUNDS = 100
"""Most batches one prune deletes (a quarter second apart): up to 100,000 rows."""
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


_SQLITE_READ = (
    "SELECT seq, origin, tags FROM invalidations"
    " WHERE seq > ? OR seq IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?"
)
"""``_READ`` as SQLite's own driver runs it: the gaps as one JSON parameter, so that the
statement text never changes."""


class SqliteSource:
    """Reads on the event loop's read-only connection; through aiosqlite when it cannot."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def begin(self) -> tuple[Snapshot, int, list[int]]:
        def work(connection: Connection) -> tuple[int, list[int]]:
            high = int(connection.execute(_NEWEST).scalar_one())
            present = connection.execute(_PRESENT, {"low": high - STARTUP_LOOKBACK}).scalars().all()
            return high, list(present)

        done, found = self._database.run_now(work)
        if not done or found is None:
            async with self._database.engine.connect() as connection:
                found = await connection.run_sync(work)
        high, present = found
        return Snapshot(), high, present

    async def read(self, high: int, gaps: list[int]) -> tuple[Snapshot, list[Row]]:
        params = (high, json.dumps(gaps), ROWS_PER_POLL)

        def quick(connection: Connection) -> list[Row]:
            # The driver's own cursor on the read-only connection: a tenth of the cost of
            # the same statement through SQLAlchemy, four times a second in every process.
            driver: Any = connection.connection.driver_connection
            try:
                return [cast(Row, tuple(row)) for row in driver.execute(_SQLITE_READ, params).fetchall()]
            except sqlite3.Error as error:
                raise DBAPIError(_SQLITE_READ, params, error) from error

        done, rows = self._database.run_now(quick)
        if done and rows is not None:
            return Snapshot(), rows
        async with self._database.engine.connect() as connection:
            found = await connection.exec_driver_sql(_SQLITE_READ, params)
            return Snapshot(), [cast(Row, tuple(row)) for row in found]

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
