"""GET /api-keys over a few thousand keys: the statements of a page and of its exact ``total``
read an index, not the account's rows (their plans, read with EXPLAIN)."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from keyplane.kit.clock import now
from keyplane.kit.ids import uuid7
from keyplane.models import Credential
from keyplane.services import services_of
from tests.api_keys.helpers import listing
from tests.factories import Tenant

SEEDED = 3_000
"""Live keys in the account when the plans are read: enough for a planner to tell an index
from a scan of the table."""

LIVE_INDEX = "ix_credentials_live_api_keys"


async def _seed(app: FastAPI, acme: Tenant) -> None:
    """``SEEDED`` live keys of the admin, and as many deleted ones, which the index leaves out."""
    at = now()
    rows: list[dict[str, Any]] = [
        {
            "id": uuid7(),
            "account_id": acme.id,
            "user_id": acme.admin_id,
            "kind": "api_key",
            "lookup": secrets.token_hex(8),
            "digest": secrets.token_bytes(32),
            "start": f"kp_seed{n % 10}",
            "name": f"seeded {n}",
            "scopes": ["READ"],
            "status": "active" if n % 2 else "inactive",
            "deleted_at": None if n % 2 else at,
            "created_at": at,
            "updated_at": at,
        }
        for n in range(2 * SEEDED)
    ]
    engine = services_of(app).db.engine
    async with engine.begin() as connection:
        await connection.execute(insert(Credential), rows)
    if engine.dialect.name == "postgresql":
        # What autovacuum does after a bulk insert, later: the planner learns the table's size,
        # and the visibility map lets an index answer without visiting the rows.
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE credentials")


async def _plan(engine: AsyncEngine, statement: str, parameters: Any) -> str:
    """The plan of ``statement``. On PostgreSQL, with scans of the whole table priced out:
    whether a scan of 6,000 rows beats an index depends on its statistics of the moment (a
    CI run once planned the page with one), while what this test asks is whether the index
    can answer the statement (a predicate it does not match would scan the table still)."""
    postgresql = engine.dialect.name == "postgresql"
    async with engine.connect() as connection:
        if postgresql:
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        explain = "EXPLAIN" if postgresql else "EXPLAIN QUERY PLAN"
        rows = (await connection.exec_driver_sql(f"{explain} {statement}", parameters)).all()
    return "\n".join(str(row[-1]) for row in rows)


async def test_a_page_and_its_total_read_the_live_keys_index(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    await _seed(app, acme)
    engine = services_of(app).db.engine
    ran: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "WHERE credentials.account_id" in statement:
            ran.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        page = await listing(client, acme, limit=100, offset=1_000)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)

    # The seeded live keys and the admin's own key, exactly.
    assert page["total"] == SEEDED + 1
    assert page["count"] == 100
    counts = [statement for statement, _ in ran if "count(*)" in statement]
    assert len(ran) == 2, ran
    assert len(counts) == 1, ran
    for statement, parameters in ran:
        plan = await _plan(engine, statement, parameters)
        if engine.dialect.name == "postgresql":
            assert LIVE_INDEX in plan, plan
            assert "Seq Scan" not in plan, plan
            if statement in counts:
                assert "Index Only Scan" in plan, plan
        else:
            # SQLite's planner picks the wider index on (account, kind, status, deleted, id),
            # which it reads alone as well.
            assert "USING COVERING INDEX" in plan, plan
            assert "SCAN credentials" not in plan, plan
