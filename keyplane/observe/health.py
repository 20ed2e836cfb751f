"""Readiness: what ``GET /readyz`` checks, each by name.

- ``database``: a connection answers ``SELECT 1`` within ``READY_SECONDS``;
- ``migrations``: the database's Alembic revision is the code's head (one indexed read);
- ``channel``: when invalidations travel between processes (Redis or PostgreSQL), the
  channel vouches for this process's caches.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from keyplane.bus import Bus
from keyplane.db import Database
from keyplane.migrate import SCRIPTS

READY_SECONDS = 1.0
"""The longest the database check waits: a load balancer's probe must not hang on it."""
OK = "ok"


@dataclass(frozen=True, slots=True)
class Channel:
    kind: str
    """``redis``, ``postgresql`` or ``memory`` (one process, nothing to hear from)."""
    healthy: bool
    """Whether the channel vouches for the caches (a memory bus always does)."""
    age: float | None
    """Seconds since the channel was last heard from, when the bus knows."""

    @property
    def configured(self) -> bool:
        return self.kind != "memory"


def channel(bus: Bus) -> Channel:
    """The invalidation channel's health, the one place that asks the bus."""
    healthy, age = bus.caches.enabled, None
    return Channel(bus.kind, healthy, age)


@cache
def code_heads() -> frozenset[str]:
    """The Alembic head revision(s) of this code (read from the migration scripts once)."""
    return frozenset(ScriptDirectory(str(SCRIPTS)).get_heads())


async def _revisions(database: Database) -> tuple[bool, frozenset[str] | None]:
    """(whether the database answered, its Alembic revisions or None without the table)."""
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        try:
            found = await connection.execute(text("SELECT version_num FROM alembic_version"))
        except SQLAlchemyError:
            return True, None
        return True, frozenset(found.scalars().all())


async def database_checks(database: Database) -> dict[str, str]:
    """``database`` and ``migrations``, each ``ok`` or what is wrong (no secrets: class names)."""
    try:
        async with asyncio.timeout(READY_SECONDS):
            _, revisions = await _revisions(database)
    except TimeoutError:
        return {"database": f"no answer within {READY_SECONDS:g}s", "migrations": "unknown"}
    except (SQLAlchemyError, OSError) as error:
        return {"database": f"unreachable ({type(error).__name__})", "migrations": "unknown"}
    heads = code_heads()
    if revisions == heads:
        return {"database": OK, "migrations": OK}
    at = ", ".join(sorted(revisions)) if revisions else "none"
    return {"database": OK, "migrations": f"database at {at}, code at {', '.join(sorted(heads))}"}


async def readiness(database: Database, bus: Bus) -> dict[str, str]:
    """Every check by name: ``ok``, or what is wrong."""
    checks = await database_checks(database)
    heard = channel(bus)
    if heard.configured:
        checks["channel"] = OK if heard.healthy else f"{heard.kind} channel down: caches off"
    return checks
