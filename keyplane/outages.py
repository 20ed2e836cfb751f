"""What a sick database looks like, decided in one place.

``unavailable(error)`` says whether an error means the database could not be reached or did
not answer in time (a 503 with ``Retry-After`` for the request, a retry later for background
work), whatever layer raised it: SQLAlchemy's pool and its wrapped driver errors, or what
the drivers let through unwrapped (asyncpg's connection errors, ``OSError``, timeouts).
``watch(engine)`` makes an engine drop a PostgreSQL connection such an error leaves behind
at once, so that it is never reused and never waited on again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

UNAVAILABLE_STATES = ("08", "53", "57P", "57014", "55P03")
"""SQLSTATEs (or their prefixes) of a server that cannot serve now: connection exceptions,
insufficient resources (too many connections, disk full), shutting down or starting up,
a statement cancelled by ``statement_timeout``, a lock not granted in time."""
_DEPTH = 8
"""Links of an error's chain looked at (drivers wrap once or twice; cycles are possible)."""


class DatabaseUnavailable(Exception):
    """A request waited for another's read of the same record, and that read found the
    database unavailable: this request fails the same way at once."""


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, then what it wraps (SQLAlchemy's ``orig``, then each ``__cause__``)."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen and len(seen) < _DEPTH:
        seen.add(id(link))
        yield link
        wrapped = getattr(link, "orig", None)
        link = wrapped if isinstance(wrapped, BaseException) else link.__cause__


def _unavailable_link(link: BaseException) -> bool:
    if isinstance(link, DatabaseUnavailable | TimeoutError | OSError | PoolTimeoutError):
        return True  # no connection, or no answer, in time; refused, reset, unreachable
    if isinstance(link, DBAPIError) and link.connection_invalidated:
        return True  # SQLAlchemy saw the connection die under the statement
    if isinstance(link, OperationalError):
        return True  # SQLite: the file is locked past busy_timeout, or cannot be opened
    if isinstance(link, asyncpg.InterfaceError) and "connection is closed" in str(link):
        return True  # asyncpg's own words for it, the same test SQLAlchemy makes
    sqlstate = getattr(link, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_STATES)


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database is down, unreachable, saturated or too slow to
    answer: the request changed nothing and may be retried shortly. Errors about what was
    sent (a value the driver refuses, a broken constraint) are not."""
    return any(_unavailable_link(link) for link in _chain(error))


def log_failure(log: logging.Logger, message: str, error: BaseException, **extra: object) -> None:
    """Log the failure of background work that will be tried again: a warning naming the
    error's type when the database is unavailable (the outage itself is no bug: no
    traceback), else the traceback."""
    if unavailable(error):
        log.warning(message, extra={**extra, "error": type(error).__name__})
    else:
        log.error(message, exc_info=error, extra=extra)


def _broken(error: BaseException) -> bool:
    """Whether ``error`` leaves the connection it came from unusable: a client-side timeout
    (the statement may still be running, or the server may never answer) or a socket error.
    Closed connections and the rest SQLAlchemy recognises by itself."""
    return isinstance(error, TimeoutError | OSError)


def watch(engine: AsyncEngine) -> None:
    """On PostgreSQL (asyncpg), make ``engine`` drop broken connections.

    - A statement that timed out on the client or lost its socket counts as a disconnect:
      SQLAlchemy invalidates the connection, and every other connection of the pool older
      than it, so none is reused after the server comes back. The connection is aborted
      here first: SQLAlchemy would close it gracefully, which waits up to two seconds more
      for a frozen server, on the request's time.
    - A pooled connection the server closed while it was idle (a restart, a reset) is
      replaced when checked out, without a round trip: asyncpg notices a closed socket by
      itself (``pool_pre_ping`` would cost a round trip on every checkout instead)."""
    if engine.dialect.driver != "asyncpg":
        return

    @event.listens_for(engine.sync_engine, "handle_error")
    def _handle_error(context: ExceptionContext) -> None:
        connection = context.connection
        if connection is None or not _broken(context.original_exception):
            return
        # SQLAlchemy takes a TimeoutError for a cancelled task, and would drop this connection
        # alone: the others of the pool lead to the same server and are dropped too.
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = True
        if connection.invalidated or connection.closed:
            return
        driver = connection.connection.driver_connection
        if driver is not None:
            driver.terminate()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.driver_connection.is_closed():
            raise DisconnectionError("the pooled connection was closed by the server or the network")
