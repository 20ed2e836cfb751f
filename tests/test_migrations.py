"""The Alembic migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from keyplane import migrate
from keyplane.db import Database, async_url

TABLES = {"accounts", "users", "credentials", "alembic_version"}


def _tables(url: str) -> set[str]:
    # The schema is read through the application's own async engine, run to completion here.
    async def read() -> set[str]:
        database = Database(url)
        try:
            async with database.engine.connect() as connection:
                names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        finally:
            await database.dispose()
        return set(names)

    return asyncio.run(read())


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrate.SCRIPTS))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return config


async def _pg(admin_url: str, statement: str) -> None:
    engine = create_async_engine(async_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same backend as ``database_url``, dropped afterwards."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'nested' / 'fresh.db'}"
        return
    name = f"keyplane_fresh_{secrets.token_hex(4)}"
    parts = urlsplit(database_url)
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    asyncio.run(_pg(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        asyncio.run(_pg(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    assert migrate.check(database_url) is None


def test_upgrade_is_idempotent(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert migrate.check(database_url) is None
    assert _tables(database_url) >= TABLES


def test_fresh_database_upgrades_downgrades_and_upgrades_again(fresh_url: str) -> None:
    migrate.upgrade(fresh_url)  # also creates a missing SQLite folder
    assert _tables(fresh_url) >= TABLES
    assert migrate.check(fresh_url) is None
    command.downgrade(_config(fresh_url), "base")
    assert _tables(fresh_url) & {"accounts", "users", "credentials"} == set()
    migrate.upgrade(fresh_url)
    assert migrate.check(fresh_url) is None


def test_check_reports_an_unmigrated_database(fresh_url: str) -> None:
    migrate.upgrade(fresh_url)
    command.downgrade(_config(fresh_url), "base")
    problem = migrate.check(fresh_url)
    assert problem is not None
    assert "not up to date" in problem


def _reloptions(url: str, table: str) -> list[str]:
    async def read() -> list[str]:
        database = Database(url)
        try:
            async with database.engine.connect() as connection:
                found = await connection.execute(
                    text("SELECT reloptions FROM pg_class WHERE relname = :table"), {"table": table}
                )
                options = found.scalar_one()
        finally:
            await database.dispose()
        return list(options or [])

    return asyncio.run(read())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no such setting
def test_credentials_leave_room_for_lastusedat_updates_on_postgresql(fresh_url: str) -> None:
    """Every key in use rewrites its row once a minute: with room on the page, PostgreSQL
    keeps the new version there and touches no index (see the migration)."""
    migrate.upgrade(fresh_url)
    assert "fillfactor=80" in _reloptions(fresh_url, "credentials")
    command.downgrade(_config(fresh_url), "e80ee82c3645")
    assert _reloptions(fresh_url, "credentials") == []
