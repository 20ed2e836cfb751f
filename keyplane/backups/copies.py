"""SQLite files, copied page by page with SQLite's backup API, never as files: a file copy
taken while Keyplane writes can be torn, and WAL mode keeps recent commits in ``-wal``."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from keyplane.backups.archive import Damaged

_BUSY_SECONDS = 30.0
"""How long a copy waits for a writer's lock (the copy itself holds a read transaction)."""


def online_copy(source: Path, target: Path) -> None:
    """A consistent copy of ``source`` while Keyplane may be writing to it: the backup API
    reads every page in one step, inside one read transaction (WAL lets writers go on), so
    the copy is the database as of one commit."""
    with (
        closing(sqlite3.connect(source, timeout=_BUSY_SECONDS)) as reading,
        closing(sqlite3.connect(target)) as writing,
    ):
        reading.backup(writing)


def check(path: Path) -> None:
    """``Damaged`` unless ``path`` is a sound SQLite database."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            (verdict,) = connection.execute("PRAGMA integrity_check(1)").fetchone()
    except sqlite3.DatabaseError as error:
        raise Damaged(f"its database cannot be read ({error})") from None
    if verdict != "ok":
        raise Damaged(f"its database is damaged ({verdict})")


def install(copy: Path, target: Path) -> None:
    """Write ``copy`` over ``target`` (made if missing) through SQLite, in one transaction:
    ``target``'s own WAL is taken into account, never replayed over the new pages."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (
        closing(sqlite3.connect(copy)) as reading,
        closing(sqlite3.connect(target, timeout=_BUSY_SECONDS)) as writing,
    ):
        reading.backup(writing)
