"""``python -m bench.pool``: license creations per second from a pooled policy, under load.

Starts Keyplane (one uvicorn worker; SQLite in a scratch folder unless ``--database-url``),
fills a pooled policy's pool straight into the database, then has ``--connections``
concurrent clients create licenses without a key (each takes the next pool key) until the
pool is empty or ``--seconds`` pass. Prints creations/s, p50 and p99, and checks that no
pool key went to two licenses and none was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert

from bench.common import _free_port, _serve, _wait, init_account
from keyplane.config import Settings
from keyplane.db import Database
from keyplane.licensing.keystrings import digest
from keyplane.models import PoolKey

console = Console()


async def _fill(url: str, account: str, product: str, policy: str, count: int) -> set[str]:
    values = {f"BENCH-{uuid.uuid4().hex.upper()}" for _ in range(count)}
    database = Database(url)
    try:
        rows = [
            {
                "id": uuid.uuid4(),
                "account_id": uuid.UUID(account),
                "product_id": uuid.UUID(product),
                "policy_id": uuid.UUID(policy),
                "key": value,
                "key_digest": digest(value),
            }
            for value in values
        ]
        async with database.writer() as session:
            await session.execute(insert(PoolKey), rows)
            await session.commit()
    finally:
        await database.dispose()
    return values


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    other: list[int] = field(default_factory=list)
    elapsed: float = 0.0


async def _load(api: str, headers: dict[str, str], policy: str, connections: int, seconds: float) -> Load:
    body = {
        "data": {
            "type": "licenses",
            "relationships": {"policy": {"data": {"type": "policies", "id": policy}}},
        }
    }
    load = Load()
    deadline = time.monotonic() + seconds
    empty = asyncio.Event()

    async def client(http: httpx.AsyncClient) -> None:
        while not empty.is_set() and time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                response = await http.post(f"{api}/licenses", json=body, headers=headers)
            except httpx.TransportError as error:
                # Reported, not fatal: a dropped connection must show up in the figures.
                console.print(f"[red]transport error: {error!r}[/red]")
                load.other.append(0)
                continue
            if response.status_code == 201:
                load.latencies.append(time.perf_counter() - started)
                load.keys.append(response.json()["data"]["attributes"]["key"])
            elif response.status_code == 422 and response.json()["errors"][0]["code"] == "POLICY_POOL_EMPTY":
                empty.set()
            else:
                load.other.append(response.status_code)

    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(connections)))
        load.elapsed = time.perf_counter() - started
    return load


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pool", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--keys", type=int, default=3000, help="pool size to start with")
    parser.add_argument("--database-url", default="", help="default: a scratch SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="keyplane-bench-") as scratch:
        folder = Path(scratch)
        env = {**os.environ, "KEYPLANE_DATA_DIR": str(folder), "KEYPLANE_LOG_LEVEL": "warning"}
        env.pop("KEYPLANE_DATABASE_URL", None)
        if args.database_url:
            env["KEYPLANE_DATABASE_URL"] = args.database_url
        slug, admin_key = init_account(env)
        url = args.database_url or Settings(data_dir=folder).resolved_database_url()
        port = _free_port()
        server = _serve("keyplane.app:create_app", port, env, factory=True)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(f"{base}/v1/ping", server)
            api = f"{base}/v1/accounts/{slug}"
            headers = {"Authorization": f"Bearer {admin_key}", "Content-Type": "application/vnd.api+json"}
            product = httpx.post(
                f"{api}/products",
                json={"data": {"type": "products", "attributes": {"name": "Bench"}}},
                headers=headers,
            ).json()["data"]
            policy = httpx.post(
                f"{api}/policies",
                json={
                    "data": {
                        "type": "policies",
                        "attributes": {"name": "Pooled", "usePool": True},
                        "relationships": {"product": {"data": {"type": "products", "id": product["id"]}}},
                    }
                },
                headers=headers,
            ).json()["data"]
            account = product["relationships"]["account"]["data"]["id"]
            console.print(f"filling the pool with {args.keys:,} keys")
            values = asyncio.run(_fill(url, account, product["id"], policy["id"], args.keys))
            result = asyncio.run(_load(api, headers, policy["id"], args.connections, args.seconds))
            left = httpx.get(
                f"{api}/policies/{policy['id']}/pool?page[number]=1&page[size]=1", headers=headers
            )
            remaining = left.json()["links"]["meta"]["count"]
        finally:
            server.terminate()
            server.wait(10)

    keys, latencies, elapsed = result.keys, sorted(result.latencies), result.elapsed
    assert len(set(keys)) == len(keys), "a pool key went to two licenses"
    assert set(keys) <= values
    assert remaining + len(keys) == len(values), "a pool key was lost"
    backend = args.database_url.partition(":")[0] if args.database_url else "SQLite"
    table = Table(
        title=f"license creation from a pool: uvicorn, 1 worker, {args.connections} clients, {backend}"
    )
    for column in ("created", "seconds", "creations/s", "p50 ms", "p99 ms", "other answers or dropped"):
        table.add_column(column, justify="right")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    table.add_row(
        f"{len(keys):,}",
        f"{elapsed:.1f}",
        f"{len(keys) / elapsed:,.0f}",
        f"{statistics.median(latencies) * 1000 if latencies else 0:.0f}",
        f"{p99 * 1000:.0f}",
        str(len(result.other)),
    )
    console.print(table)
    console.print(f"pool keys left: {remaining:,}; every created license holds a distinct pool key")


if __name__ == "__main__":
    main()
