"""The engine, and one session per request; the only place that commits."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Engine, Executable, Row, create_engine, event, insert, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, UOWTransaction

from keyplane import outages
from keyplane.invalidations import LOG, rows_for

if TYPE_CHECKING:
    from keyplane.config import Settings

_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def async_url(url: str) -> str:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick the async driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    return f"{_SCHEMES.get(scheme, scheme)}://{rest}"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long the database may keep a caller waiting, in seconds (the defaults are the
    settings' defaults). Past any of them the caller gets an error that
    ``keyplane.outages.unavailable`` recognises: a request answers 503, never hangs."""

    connect: float = 2.0
    """To open a connection, handshake and authentication included."""
    pool: float = 2.0
    """To get a pooled connection, or this process's turn to write on SQLite."""
    lock: float = 3.0
    """For another process's lock on SQLite (``busy_timeout``)."""
    statement: float | None = 3.0
    """For a statement's answer from PostgreSQL, measured by the client (a frozen server or
    network cannot enforce its own ``statement_timeout``); None for no bound (migrations)."""
    background: float = 30.0
    """For this process's turn to write on SQLite, for work no request waits for (the event
    log's batches, the webhook deliverer): it waits its turn behind the requests rather than
    fail, and gives up only on a database that stopped answering."""
    pool_size: int = 20
    """PostgreSQL connections kept open (half as many again for bursts). Not a timeout, but
    it decides how long a request waits for ``pool``: 64 clients on the 15 of SQLAlchemy's
    default made the soak's writes wait out the pool timeout."""

    @classmethod
    def of(cls, settings: Settings) -> Timeouts:
        """The timeouts of ``settings`` (``database_*_timeout``)."""
        return cls(
            connect=settings.database_connect_timeout,
            pool=settings.database_pool_timeout,
            pool_size=settings.database_pool_size,
            lock=settings.database_statement_timeout,
            statement=settings.database_statement_timeout,
        )

    def engine_options(self, url: str) -> dict[str, Any]:
        """``create_async_engine`` options that apply these timeouts to the database at ``url``."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
            return {}  # one connection for the process's life (StaticPool): nothing to wait for
        options: dict[str, Any] = {"pool_timeout": self.pool}
        if parsed.get_driver_name() == "asyncpg":
            options["pool_size"] = self.pool_size
            options["max_overflow"] = self.pool_size // 2
            arguments: dict[str, Any] = {"timeout": self.connect}
            if self.statement is not None:
                # The server ends a statement that outlives its client's patience, too: a
                # client that gave up does not leave it running.
                arguments["command_timeout"] = self.statement
                arguments["server_settings"] = {"statement_timeout": str(int(self.statement * 1000))}
            options["connect_args"] = arguments
        return options


def _configure_sqlite(engine: AsyncEngine, lock_timeout: float) -> None:
    # pysqlite opens transactions lazily and never for reads, which breaks isolation; the
    # recipe from SQLAlchemy's SQLite notes takes transaction control back. Writers say
    # BEGIN IMMEDIATE: a deferred transaction that reads and then writes cannot wait for
    # the write lock (SQLite returns BUSY at once to avoid deadlock), an immediate one waits
    # for busy_timeout like any other lock.
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: every commit is on disk before we answer, so a crash loses nothing.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _quick_reader(engine: AsyncEngine) -> Engine | None:
    """A synchronous engine on the same SQLite file, for ``Database.read_now``; None when the
    database is not an SQLite file (PostgreSQL, or SQLite in memory, which another engine
    would not see)."""
    url = engine.url
    if engine.dialect.name != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    # check_same_thread: each thread has its own connection (``Database._quick_local``), but
    # the one that closes them all at the end is not the one that opened them.
    quick = create_engine(
        url.set(drivername="sqlite"),
        connect_args={"check_same_thread": False},
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,
    )

    @event.listens_for(quick, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")  # it reads, and nothing else
        # Never wait for a lock on the event loop: a read that would wait is read by a session.
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    return quick


ReadFirst = Callable[[Executable, dict[str, Any]], Awaitable[tuple[bool, Row[Any] | None]]]
"""``Database.read_first``: (True, the first row or None), or (False, None) to read through a
session instead."""

T = TypeVar("T")


def _in_session(connection: Connection, work: Callable[[Session], T]) -> T:
    with Session(bind=connection, expire_on_commit=False) as session:
        return work(session)


_TOUCHED = "keyplane.touched"
_PUBLISH = "keyplane.publish"
_ORIGIN = "keyplane.origin"


class TrackedSession(Session):
    """A session that remembers which records its transaction changed, so that caches in
    every process can forget them once it commits (see ``keyplane.cache``)."""


def touched(session: AsyncSession | Session, *tags: object) -> None:
    """Record that this transaction changed what ``tags`` (record ids) name, for changes the
    unit of work does not see: bulk UPDATE and DELETE statements, database cascades."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_TOUCHED, set()).update(str(tag) for tag in tags if tag is not None)


@event.listens_for(TrackedSession, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    tags: list[object] = []
    for instance in (*session.new, *session.dirty, *session.deleted):
        tags.append(getattr(instance, "id", None))
        tags.extend(instance.invalidates() if hasattr(instance, "invalidates") else ())
    touched(session, *tags)


@event.listens_for(TrackedSession, "before_commit")
def _before_commit(session: Session) -> None:
    # Commit flushes once more after this hook, so flush first: then every change's tags are
    # known, and their log rows (``keyplane.invalidations``) go into this very transaction,
    # committed or rolled back with the change. A savepoint logs nothing: what it changed is
    # logged when the transaction around it commits.
    if session.in_nested_transaction():
        return
    session.flush()
    tags: set[str] | None = session.info.get(_TOUCHED)
    origin: str | None = session.info.get(_ORIGIN)
    if tags and origin is not None:
        session.execute(insert(LOG), rows_for(origin, tags))


@event.listens_for(TrackedSession, "after_commit")
def _after_commit(session: Session) -> None:
    tags: set[str] = session.info.pop(_TOUCHED, set())
    publish: Callable[[set[str]], None] | None = session.info.get(_PUBLISH)
    if tags and publish is not None:
        publish(tags)


@event.listens_for(TrackedSession, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_TOUCHED, None)


class Database:
    """An engine and the two session factories every request chooses from."""

    on_commit: Callable[[set[str]], None] | None = None
    """Told the ids of the records each committed transaction changed (the bus)."""

    def __init__(self, url: str, timeouts: Timeouts | None = None, **engine_options: Any) -> None:
        self.url = async_url(url)
        self.origin = uuid.uuid4().hex
        """This process in the invalidation log: its own rows it has already applied."""
        self.timeouts = timeouts or Timeouts()
        options = self.timeouts.engine_options(self.url) | engine_options
        # A statement's parameters are credential digests, lookups, license keys: an error
        # (and so a crash log) shows the SQL without them.
        self.engine = create_async_engine(self.url, hide_parameters=True, **options)
        outages.watch(self.engine)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        writer = self.engine
        if self.is_sqlite:
            _configure_sqlite(self.engine, self.timeouts.lock)
            writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        info = {_PUBLISH: self._committed, _ORIGIN: self.origin}
        self.reader = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=TrackedSession, info=info
        )
        self._writer = async_sessionmaker(
            writer, expire_on_commit=False, sync_session_class=TrackedSession, info=info
        )
        # SQLite has one write lock per file. Writers of this process queue here, holding no
        # pooled connection while they wait; busy_timeout only arbitrates between processes.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._quick = _quick_reader(self.engine)
        self._quick_local = threading.local()
        self._quick_connections: list[Connection] = []

    def read_now(self, statement: Executable, params: dict[str, Any]) -> tuple[bool, Row[Any] | None]:
        """(True, the first row or None) when read at once, without leaving the event loop;
        (False, None) when it cannot be (not an SQLite file; a lock to wait for; an error).

        On an SQLite file a point read by an index takes some tens of microseconds, while the
        same read through aiosqlite takes a couple of milliseconds of CPU: nine round trips
        to its thread (begin, cursor, execute, fetch, close, two rollbacks...), each a wake-up
        of both threads. So it is made here, on a connection of this thread that can only
        read, with no transaction beyond the statement itself (WAL: it never blocks a writer,
        and sees everything committed before it)."""
        return self.run_now(lambda connection: connection.execute(statement, params).first())

    def run_now(self, work: Callable[[Connection], T]) -> tuple[bool, T | None]:
        """(True, what ``work`` returns) when it ran at once on this thread's read-only
        connection (see ``read_now``; each of its statements sees everything committed before
        it), or (False, None) when it could not (not an SQLite file; a lock to wait for; an
        error): then the caller's own session does the work."""
        if self._quick is None:
            return False, None
        connection: Connection | None = getattr(self._quick_local, "connection", None)
        try:
            if connection is None:
                connection = self._quick.connect()
                self._quick_local.connection = connection
                self._quick_connections.append(connection)
            return True, work(connection)
        except DBAPIError:
            # Busy, or the file is not what it was: the next read here starts on a new
            # connection.
            if connection is not None:
                self._quick_local.connection = None
                self._quick_connections.remove(connection)
                with suppress(DBAPIError):
                    connection.close()
            return False, None

    async def read(self, session: AsyncSession, work: Callable[[Session], T]) -> T:
        """What ``work`` reads, made on a session of this thread's read-only SQLite connection
        when ``run_now`` can (``work`` then runs without leaving the event loop), else through
        ``session`` (``run_sync``): always through ``session`` once it has begun a transaction,
        which may hold changes that only it sees. ``work`` must only read."""
        if not holds_connection(session):
            done, found = self.run_now(lambda connection: _in_session(connection, work))
            if done:
                return cast(T, found)
        return await session.run_sync(work)

    async def read_first(self, statement: Executable, params: dict[str, Any]) -> tuple[bool, Row[Any] | None]:
        """(True, the first row or None) of a one-statement read made outside any transaction
        (a statement sees one snapshot by itself), or (False, None) when the caller's session
        must read instead (on SQLite, when ``read_now`` cannot: the session waits for locks).

        For the reads a request waits for on a cache miss. On PostgreSQL it takes a pooled
        connection in autocommit for the statement alone: no BEGIN and ROLLBACK round trips,
        no session, about half the CPU of a read through a session."""
        if self.is_sqlite:
            return self.read_now(statement, params)
        async with self.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return True, (await autocommit.execute(statement, params)).first()

    @asynccontextmanager
    async def writer(self, *, background: bool = False) -> AsyncIterator[AsyncSession]:
        """A session for a transaction that writes. On SQLite the process's writers take
        turns, first come first served; a ``background`` one (no request waits for it) waits
        up to ``timeouts.background`` for its turn, a request's up to ``timeouts.pool``."""
        lock = self._write_lock
        if lock is None:
            async with self._writer() as session:
                yield session
            return
        try:
            async with asyncio.timeout(self.timeouts.background if background else self.timeouts.pool):
                await lock.acquire()
        except TimeoutError:
            raise TimeoutError("this process's turn to write to SQLite did not come in time") from None
        try:
            async with self._writer() as session:
                yield session
        finally:
            lock.release()

    def _committed(self, tags: set[str]) -> None:
        if self.on_commit is not None:
            self.on_commit(tags)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._quick is not None:
            for connection in self._quick_connections:
                connection.close()
            self._quick_connections.clear()
            self._quick_local = threading.local()
            self._quick.dispose()


class LazySession:
    """A read session opened only if something asks for it: lean handlers pass it to code
    that reads the database on a cache miss only, and close it when done."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._session: AsyncSession | None = None

    def __getattr__(self, name: str) -> Any:
        if self._session is None:
            self._session = self._database.reader()
        return getattr(self._session, name)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def holds_connection(session: AsyncSession) -> bool:
    """Whether ``session`` has a pooled connection checked out (its transaction has begun).

    A request that holds one must never wait for another request that may need one: with
    every connection held by such waiters, the pool deadlocks until its timeout. Single-flight
    loads ask this before following another request's read."""
    if isinstance(session, LazySession):
        inner = session._session
        return inner is not None and inner.in_transaction()
    return session.in_transaction()


def lazy_session(database: Database) -> AsyncSession:
    """A ``LazySession`` where an ``AsyncSession`` is expected (it forwards everything)."""
    return cast(AsyncSession, LazySession(database))
