"""What stops Keyplane at start, said in one line with the fix, for the operator who runs it.

A process that cannot start (no database, a port in use, the wrong server secret) should say
so in one line that names what to do, not in a traceback of the driver's internals: the
``keyplane`` command prints ``explain(error)`` and exits 1 for every error this module knows.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
"""The databases Keyplane runs on, and the async driver each is opened with."""

_MISSING_DATABASE = "3D000"
"""PostgreSQL's SQLSTATE for a database that does not exist (``invalid_catalog_name``)."""


class StartupError(Exception):
    """Keyplane cannot start. The message is one line that says what is wrong and what to do;
    it never holds a secret or a password."""


def database_url(url: str) -> URL:
    """The configured database URL, parsed, with its async driver; a ``StartupError`` when it
    is not one Keyplane can open (the URL itself is not repeated: it may hold a password)."""
    from keyplane.db import async_url  # here: the settings module imports this one

    expected = "expected sqlite:///path/to.db or postgresql://user@host:5432/database"
    try:
        parsed = make_url(async_url(url))
    except (ValueError, ArgumentError):
        raise StartupError(f"KEYPLANE_DATABASE_URL is not a database URL: {expected}") from None
    backend = parsed.get_backend_name()
    if DRIVERS.get(backend) != parsed.get_driver_name():
        raise StartupError(
            f"KEYPLANE_DATABASE_URL names a database Keyplane cannot use ({backend}): {expected}"
        )
    return parsed


def explain(error: BaseException, url: str) -> str | None:
    """One line for an error met while starting on the database at ``url``, or None when the
    error is not one a start can meet (a bug, whose traceback is then the useful answer)."""
    if isinstance(error, StartupError):
        return str(error)
    try:
        parsed = database_url(url)
    except StartupError as bad:
        return str(bad)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite(error, parsed.database or "")
    return _postgresql(error, parsed)


def _sqlite(error: BaseException, path: str) -> str | None:
    cause = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(cause, OSError | sqlite3.Error):
        return f"cannot open the SQLite database {path}: {_reason(cause)}"
    return None


def _postgresql(error: BaseException, url: URL) -> str | None:
    server = f"{url.host or 'localhost'}:{url.port or 5432}"
    if isinstance(error, DBAPIError):
        if getattr(error.orig, "sqlstate", None) == _MISSING_DATABASE:
            name = url.database or url.username or ""
            return f"database {name} does not exist: create it with `createdb {name}` or `keyplane db create`"
        return f"PostgreSQL at {server} refused: {_reason(error.orig or error)}"
    if isinstance(error, OSError):
        # Refused, unreachable, an unknown host name, or no answer in time.
        return f"cannot reach PostgreSQL at {server}: {_reason(error)}"
    return None


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, OSError) and error.errno is not None and error.errno > 0:
        return os.strerror(error.errno)  # asyncpg's own text for a refusal names no reason
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


def check_port(host: str, port: int) -> None:
    """A ``StartupError`` unless ``host:port`` can be listened on now.

    Binds as uvicorn will (``SO_REUSEADDR``), then lets go: without this check a taken port
    is found only after the application has started, and said in several log lines."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {port} on {host} is already in use: stop what listens there, "
                    "or serve on another port with --port"
                ) from None
            raise StartupError(f"cannot listen on {host}:{port}: {_reason(error)}") from None
