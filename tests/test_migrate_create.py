"""``keyplane.migrate.create`` (what ``keyplane db create`` does), in the test process: a
database is created once, a second call finds it, and nothing else on the server changes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyplane import migrate
from tests.test_startup_errors import _database_exists, _drop, _with_database


@pytest.fixture
def absent(database_url: str) -> Iterator[tuple[str, str]]:
    """(a URL naming a database absent from the test's PostgreSQL server, its name),
    dropped afterwards."""
    name = f"keyplane_create_{secrets.token_hex(4)}"
    yield _with_database(database_url, name), name
    asyncio.run(_drop(database_url, name))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_create_makes_a_postgresql_database_once(database_url: str, absent: tuple[str, str]) -> None:
    url, name = absent
    assert migrate.database_name(url) == name
    assert migrate.create(url) is True
    assert asyncio.run(_database_exists(database_url, name))
    assert migrate.create(url) is False  # found, left as it is
    migrate.upgrade(url)
    assert migrate.check(url) is None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_postgresql_database_named_like_its_user_by_default(database_url: str) -> None:
    assert migrate.database_name("postgresql://keyplane@db.internal") == "keyplane"
    assert migrate.database_name("postgresql://keyplane@db.internal/other") == "other"


def test_create_makes_an_sqlite_files_private_folder_once(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "keyplane.db"
    url = f"sqlite:///{path}"
    assert migrate.database_name(url) == str(path)
    assert migrate.create(url) is True
    assert (path.parent.stat().st_mode & 0o777) == 0o700  # the database holds password hashes
    migrate.upgrade(url)
    assert path.exists()
    assert migrate.create(url) is False
    assert migrate.create("sqlite:///:memory:") is False  # nothing to create
