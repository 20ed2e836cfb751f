"""The engine, and one session per request; the only place that commits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, UOWTransaction

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


def _configure_sqlite(engine: AsyncEngine) -> None:
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
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


_TOUCHED = "keyplane.touched"
_PUBLISH = "keyplane.publish"


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

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = async_url(url)
        self.engine = create_async_engine(self.url, **engine_options)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        writer = self.engine
        if self.is_sqlite:
            _configure_sqlite(self.engine)
            writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        info = {_PUBLISH: self._committed}
        self.reader = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=TrackedSession, info=info
        )
        self._writer = async_sessionmaker(
            writer, expire_on_commit=False, sync_session_class=TrackedSession, info=info
        )
        # SQLite has one write lock per file. Writers of this process queue here, holding no
        # pooled connection while they wait; busy_timeout only arbitrates between processes.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def writer(self) -> AsyncIterator[AsyncSession]:
        """A session for a transaction that writes."""
        if self._write_lock is None:
            async with self._writer() as session:
                yield session
            return
        async with self._write_lock, self._writer() as session:
            yield session

    def _committed(self, tags: set[str]) -> None:
        if self.on_commit is not None:
            self.on_commit(tags)

    async def dispose(self) -> None:
        await self.engine.dispose()


_READ_ONLY = "__keyplane_read_only__"
F = TypeVar("F", bound=Callable[..., Any])


def read_only(endpoint: F) -> F:
    """Mark an endpoint that writes nothing although its method is unsafe (verification):
    its request gets a read transaction, which on SQLite takes no write lock."""
    setattr(endpoint, _READ_ONLY, True)
    return endpoint


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.db
    writes = request.method not in READ_METHODS and not getattr(
        request.scope.get("endpoint"), _READ_ONLY, False
    )
    factory = database.writer if writes else database.reader
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        # One transaction per request, committed before the response leaves (the
        # dependency is function-scoped for exactly that).
        await session.commit()


DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
"""The request's one session (every dependency of a request shares it, so a request never
holds two pooled connections): a read transaction for safe methods and ``read_only``
endpoints, a write transaction for the rest (on SQLite: BEGIN IMMEDIATE, taking the single
write lock up front)."""


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
