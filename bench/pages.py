"""``python -m bench.pages``: how long a page of API keys or licenses takes on the server, with
``--rows`` (100,000) of each stored.

In process (no network, no wrk): Keyplane's ASGI app on a scratch database (SQLite in a
temporary folder, or a scratch PostgreSQL database on ``--database-url``'s server), one
account whose admin owns ``--rows`` API keys (``bench.load``) and ``--rows`` licenses of one
policy (inserted straight into the database). Each page is requested ``--runs`` times after
one warm-up, and the median and the slowest are printed: the time from the request entering
the app to its whole answer, rendering included. Other processes on the machine disturb the
figures: compare runs made in the same minute.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import insert

from bench.common import scratch_postgres
from bench.load import load
from keyplane import migrate
from keyplane.accounts.service import bootstrap
from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.db import Database
from keyplane.kit import clock
from keyplane.kit.ids import uuid7
from keyplane.licensing.keystrings import digest
from keyplane.models import License
from keyplane.services import services_of

console = Console()
SECRET = "bench-pages-server-secret-" + "p" * 32
PASSWORD = "bench-pages-password"
BATCH = 10_000
PAGES = (
    ("API: GET /v1/api-keys?limit=100", "/v1/api-keys?limit=100"),
    ("API: GET /v1/api-keys?limit=100&offset=50000", "/v1/api-keys?limit=100&offset=50000"),
    ("API: GET /v1/licenses?limit=100", "/v1/licenses?limit=100"),
    ("API: GET /v1/licenses?page[size]=100&page[number]=1", "/v1/licenses?page[size]=100&page[number]=1"),
    ("console: /console/api-keys", "/console/api-keys"),
    ("console: /console/api-keys?q=zz (a search)", "/console/api-keys?q=zz"),
)


@contextmanager
def _database(server: str | None) -> Iterator[str]:
    if server is not None:
        with scratch_postgres(server) as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="keyplane-bench-pages-") as folder:
        yield f"sqlite:///{Path(folder) / 'keyplane.db'}"


async def _licenses(http: httpx.AsyncClient, app_settings: Settings, account: uuid.UUID, rows: int) -> None:
    """``rows`` licenses of one new product's one policy, straight into the database."""
    kind = {"Content-Type": "application/vnd.api+json"}
    product = await http.post(
        "/v1/products", headers=kind, json={"data": {"type": "products", "attributes": {"name": "Bench"}}}
    )
    product_id = product.json()["data"]["id"]
    policy = await http.post(
        "/v1/policies",
        headers=kind,
        json={
            "data": {
                "type": "policies",
                "attributes": {"name": "Bench"},
                "relationships": {"product": {"data": {"type": "products", "id": product_id}}},
            }
        },
    )
    policy_id = policy.json()["data"]["id"]
    database = Database(app_settings.database_url)
    try:
        for first in range(0, rows, BATCH):
            now = clock.now()
            values = [
                {
                    "id": uuid7(),
                    "account_id": account,
                    "product_id": uuid.UUID(product_id),
                    "policy_id": uuid.UUID(policy_id),
                    "key": (key := f"BENCH-{uuid.uuid4().hex.upper()}"),
                    "key_digest": digest(key),
                    "suspended": False,
                    "uses": 0,
                    "meta": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for _ in range(min(BATCH, rows - first))
            ]
            async with database.writer() as session:
                await session.execute(insert(License), values)
                await session.commit()
        await _analyze(database)
    finally:
        await database.dispose()


async def _analyze(database: Database) -> None:
    # The planner must know the tables' new sizes (autovacuum would, later).
    async with database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        if database.is_sqlite:
            await autocommit.exec_driver_sql("ANALYZE")
        else:
            await autocommit.exec_driver_sql("VACUUM ANALYZE licenses")
            await autocommit.exec_driver_sql("VACUUM ANALYZE credentials")


async def _timed(http: httpx.AsyncClient, path: str, runs: int) -> tuple[float, float, int]:
    warm = await http.get(path)
    assert warm.status_code == 200, (path, warm.status_code, warm.text[:300])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = await http.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return statistics.median(times), max(times), len(warm.content)


async def _run(url: str, rows: int, runs: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="keyplane-bench-pages-data-"))
    settings = Settings(
        database_url=url,
        secret_key=SECRET,
        data_dir=data,
        login_attempts=1000,
        access_log=False,
        log_level="warning",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with services_of(app).db.writer() as session:
            made = await bootstrap(
                session,
                services_of(app).credentials,
                services_of(app).keys,
                slug="bench",
                name="Bench",
                email="bench@example.com",
                password=PASSWORD,
            )
            await session.commit()
        started = time.perf_counter()
        await load(url, SECRET.encode(), "bench", rows, keep=[])
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        headers = {"Authorization": f"Bearer {made.api_key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as http:
            await _licenses(http, settings, made.account.id, rows)
            console.print(
                f"stored {rows:,} API keys and {rows:,} licenses in {time.perf_counter() - started:.0f} s"
            )
            form = await http.get("/console/sign-in")
            csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            signed = await http.post(
                "/console/sign-in",
                data={"csrf": csrf, "email": "bench@example.com", "password": PASSWORD, "next": "/console"},
            )
            assert signed.status_code == 303, signed.text[:300]
            table = Table(title=f"A page with {rows:,} API keys and {rows:,} licenses stored ({runs} runs)")
            for column in ("page", "median ms", "slowest ms", "bytes"):
                table.add_column(column, justify="left" if column == "page" else "right")
            for label, path in PAGES:
                median, slowest, size = await _timed(http, path, runs)
                table.add_row(escape(label), f"{median:.1f}", f"{slowest:.1f}", f"{size:,}")
            console.print(table)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="API keys and licenses to store (each)")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per page")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (default: SQLite)")
    args = parser.parse_args(argv)
    with _database(args.database_url) as url:
        migrate.upgrade(url)
        asyncio.run(_run(url, args.rows, args.runs))


if __name__ == "__main__":
    main()
