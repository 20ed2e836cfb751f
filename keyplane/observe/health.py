"""Readiness: what ``GET /readyz`` checks, each by name.

- ``database``: a connection answers ``SELECT 1`` within ``READY_SECONDS``;
- ``migrations``: the database's Alembic revision is the code's head (one indexed read);
- ``channel``: the invalidation log has been read within its deadline (else the caches are
  off and every check reads the database), and the fast path (Redis or PostgreSQL
  ``LISTEN``), when there is one, is subscribed and heard from within its heartbeat deadline.
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
    """``log`` (the invalidation log every process reads), ``redis`` or ``postgresql``."""
    healthy: bool
    """The log: it vouches for the caches. A fast path: subscribed and heard from in time."""
    age: float | None
    """Seconds since the channel was last read or heard from (None: not yet)."""


def channels(bus: Bus) -> list[Channel]:
    """The invalidation channels' health, the one place that asks the bus: the log, then
    the fast path when one is configured (the memory bus has none)."""
    found = [Channel("log", bus.log.vouching(), bus.log.last_read_age())]
    if bus.kind != "memory":
        found.append(Channel(bus.kind, bus.healthy(), bus.last_heard_age()))
    return found


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
    down = [heard for heard in channels(bus) if not heard.healthy]
    if any(heard.kind == "log" for heard in down):
        checks["channel"] = "invalidation log not read in time: caches off"
    elif down:
        checks["channel"] = f"{down[0].kind} channel down: changes arrive by the log, a quarter second later"
    else:
        checks["channel"] = OK
    return checks
