"""What stops a ``keyplane`` command at start is one line on stderr that says what to do, with
exit status 1 and no traceback: a database that does not exist, a server that does not
answer, a URL Keyplane cannot use, a port in use, an empty secret file. And ``keyplane db
create`` makes the database the URL names."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text

from keyplane.db import Database
from tests import live
from tests.factories import PASSWORD

SECRET = "startup-test-secret-" + "s" * 32
INIT = ["init", "--account", "acme", "--email", "a@acme.test", "--password", PASSWORD]


def _commands(port: int, scratch: Path) -> list[list[str]]:
    """Every command that opens the database at start."""
    return [
        ["serve", "--port", str(port)],
        INIT,
        ["db", "upgrade"],
        ["db", "check"],
        ["public-key"],
        ["admin", "create-key", "--account", "acme", "--email", "a@acme.test", "--scopes", "READ"],
        ["backup", str(scratch / "keyplane.kpbackup"), "--no-secret"],
    ]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _database_exists(url: str, name: str) -> bool:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            found = await connection.scalar(
                text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}
            )
    finally:
        await database.dispose()
    return bool(found)


@pytest.fixture
def missing_database(database_url: str) -> Iterator[tuple[str, str]]:
    """(a URL naming a database that does not exist on the test's server, its name); the
    database is dropped afterwards if the test created it."""
    name = f"keyplane_missing_{secrets.token_hex(4)}"
    yield _with_database(database_url, name), name
    asyncio.run(_drop(database_url, name))


async def _drop(url: str, name: str) -> None:
    database = Database(url, isolation_level="AUTOCOMMIT")
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await database.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite makes its file
def test_a_missing_postgresql_database_is_one_line(
    database_url: str, missing_database: tuple[str, str], tmp_path: Path
) -> None:
    url, name = missing_database
    env = live.environment(url, SECRET, tmp_path)
    for command in _commands(live.free_port(), tmp_path):
        live.refused(
            live.run(env, *command),
            f"database {name} does not exist: create it with `createdb {name}` or `keyplane db create`",
        )
    assert not asyncio.run(_database_exists(database_url, name))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_db_create_makes_and_migrates_a_postgresql_database(
    database_url: str, missing_database: tuple[str, str], tmp_path: Path
) -> None:
    url, name = missing_database
    env = live.environment(url, SECRET, tmp_path)
    created = live.run(env, "db", "create")
    assert created.returncode == 0, created.stderr
    assert f"Database {name} created" in created.stderr
    assert asyncio.run(_database_exists(database_url, name))
    assert live.run(env, "db", "check").returncode == 0

    again = live.run(env, "db", "create")
    assert again.returncode == 0, again.stderr
    assert f"Database {name} already exists" in again.stderr
    made = live.run(env, *INIT, "--json")
    assert made.returncode == 0, made.stderr


def test_db_create_makes_and_migrates_an_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "keyplane.db"
    env = live.environment(f"sqlite:///{path}", SECRET, tmp_path)
    created = live.run(env, "db", "create")
    assert created.returncode == 0, created.stderr
    assert f"Database {path} created" in created.stderr
    assert path.exists()
    assert live.run(env, "db", "check").returncode == 0
    again = live.run(env, "db", "create")
    assert again.returncode == 0, again.stderr
    assert f"Database {path} already exists" in again.stderr


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    port = live.free_port()  # nothing listens there
    env = live.environment(f"postgresql://keyplane@127.0.0.1:{port}/keyplane", SECRET, tmp_path)
    for command in (["serve", "--port", str(live.free_port())], ["db", "upgrade"]):
        live.refused(live.run(env, *command), f"cannot reach PostgreSQL at 127.0.0.1:{port}", "refused")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://keyplane:hunter2@db.internal/keyplane", "cannot use (mysql)"),
        ("keyplane:hunter2@db.internal", "is not a database URL"),
        ("postgresql://keyplane:hunter2@db.internal:port/keyplane", "is not a database URL"),
    ],
)
def test_a_bad_database_url_is_one_line_without_its_password(tmp_path: Path, url: str, expected: str) -> None:
    env = live.environment(url, SECRET, tmp_path)
    line = live.refused(live.run(env, "db", "upgrade"), "KEYPLANE_DATABASE_URL", expected, "postgresql://")
    assert "hunter2" not in line


def test_serve_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    env = live.environment(f"sqlite:///{tmp_path / 'keyplane.db'}", SECRET, tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        live.refused(
            live.run(env, "serve", "--port", str(port)), f"port {port} on 127.0.0.1 is already in use"
        )


def test_an_empty_secret_file_is_one_line(tmp_path: Path) -> None:
    env = live.environment(f"sqlite:///{tmp_path / 'keyplane.db'}", "", tmp_path)
    del env["KEYPLANE_SECRET_KEY"]
    (tmp_path / "secret.key").write_text("\n")
    live.refused(live.run(env, *INIT), f"the server secret {tmp_path / 'secret.key'} is empty")
