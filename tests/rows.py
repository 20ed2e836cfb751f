"""Deleting every row tests wrote (the schema stays): after each test (``conftest.app``) and
after the tests of a live server (``live.empty``)."""

from __future__ import annotations

from sqlalchemy import text

from keyplane.db import Database
from keyplane.models import Base

_DELETES = [f"DELETE FROM {table.name}" for table in reversed(Base.metadata.sorted_tables)]
"""Every table, the referencing ones before those they reference."""


async def delete_every_row(database: Database) -> None:
    """Every row of every table, in one transaction, the server secret's verifier included.

    On PostgreSQL the statements go as one simple query (one round trip, one implicit
    transaction), which costs a tenth of one statement after another, each waiting for its
    answer; on SQLite there is no round trip to save."""
    if database.is_sqlite:
        async with database.writer() as session:
            for statement in _DELETES:
                await session.execute(text(statement))
            await session.commit()
        return
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None  # a connection checked out of the pool is open
        await driver.execute(";".join(_DELETES))
