"""``keyplane.startup.explain``: which errors a start can meet get one line, and which do not.

The real errors (from a real server, a real port, a real file) are met by the commands in
``tests/test_startup_errors.py``; this table covers the ones a test cannot bring about in
bounded time, such as a server that never answers.
"""

from __future__ import annotations

import errno
import socket
import sqlite3

import pytest

from keyplane.startup import StartupError, check_port, explain

PG = "postgresql://keyplane:hunter2@db.internal:6432/keyplane"
SQLITE = "sqlite:////var/lib/keyplane/keyplane.db"


@pytest.mark.parametrize(
    ("error", "url", "line"),
    [
        (StartupError("what to do"), PG, "what to do"),
        (TimeoutError(), PG, "cannot reach PostgreSQL at db.internal:6432: no answer in time"),
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
            PG,
            "cannot reach PostgreSQL at db.internal:6432: Connection refused",
        ),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "postgresql://keyplane@db.internal/keyplane",
            "cannot reach PostgreSQL at db.internal:5432: Name or service not known",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied"),
            SQLITE,
            "cannot open the SQLite database /var/lib/keyplane/keyplane.db: Permission denied",
        ),
        (
            sqlite3.OperationalError("unable to open database file"),
            SQLITE,
            "cannot open the SQLite database /var/lib/keyplane/keyplane.db: unable to open database file",
        ),
        # Not an error of the start: its traceback is the useful answer.
        (KeyError("bug"), PG, None),
        (ValueError("bug"), SQLITE, None),
    ],
)
def test_explain(error: BaseException, url: str, line: str | None) -> None:
    assert explain(error, url) == line


def test_a_url_keyplane_cannot_use_is_explained_whatever_the_error() -> None:
    line = explain(ModuleNotFoundError("No module named 'MySQLdb'"), "mysql://root:hunter2@db/keyplane")
    assert line is not None
    assert line.startswith("KEYPLANE_DATABASE_URL names a database Keyplane cannot use (mysql)")
    assert "hunter2" not in line


def test_check_port_says_which_port_is_taken() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match=f"port {port} on 127.0.0.1 is already in use"):
            check_port("127.0.0.1", port)
