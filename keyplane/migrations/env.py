"""Alembic environment: async engines, the models' metadata, batch mode on SQLite."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from alembic import context
from sqlalchemy.engine import Connection

from keyplane.config import get_settings
from keyplane.db import Database, Timeouts
from keyplane.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    settings = get_settings()
    url = config.get_main_option("sqlalchemy.url") or settings.resolved_database_url()
    # A server that does not answer fails the start within the connect timeout; a statement
    # is not bounded (building an index on a large table may take minutes).
    database = Database(url, replace(Timeouts.of(settings), statement=None))
    try:
        async with database.engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await database.dispose()


if context.is_offline_mode():
    raise SystemExit("Keyplane migrations run online only (keyplane db upgrade)")
asyncio.run(_online())
