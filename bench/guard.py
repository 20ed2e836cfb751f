"""``python -m bench.guard``: what the FastAPI guard (``keyplane_client.fastapi.require_key``)
adds to a verification, at p50.

Starts Keyplane (``keyplane serve``, one worker; a scratch SQLite folder, or with
``--database-url`` a scratch database of its own on that PostgreSQL server), makes an
account and one READ key, then times, one request at a time:

- *raw verify*: ``AsyncKeyplane.api_keys.verify(key, ip=..., scopes=["READ"])``;
- *through the guard*: a GET of a ten-line FastAPI app guarded by
  ``require_key(scopes=["READ"])``, served in-process (httpx's ASGITransport) and verifying
  with the same client;
- *app verifying by hand*: a GET of the same app's route that calls ``verify`` itself,
  without the guard: the difference from *raw verify* is FastAPI's and the in-process
  driver's share, the difference from *through the guard* the guard's own.

The three take turns (one of each, again and again) so that the host's drift falls on all
alike. Prints p50, p90 and p99 of each side by side, and what the guard adds at p50 over the
raw call against the goal (1 ms).
"""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations, and
# ``Reader`` is local to the function that builds the app.
import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Header
from keyplane_client import AsyncKeyplane, Verification
from keyplane_client.fastapi import require_key
from rich.table import Table

from bench.common import (
    KEYPLANE,
    console,
    init_account,
    python_loop_ms,
    scratch_postgres,
    serving,
    stop_on_sigterm,
)

GOAL_MS = 1.0
"""The issue's bound on what the guard adds to a verification at p50."""
WARM_UP = 200
KINDS = ("raw verify", "through the guard", "app verifying by hand")


def vendor_app(client: AsyncKeyplane) -> FastAPI:
    """The ten-line guarded app, plus the same route verifying by hand without the guard."""
    app = FastAPI()
    Reader = Annotated[Verification, Depends(require_key(scopes=["READ"], client=client))]

    async def guarded(key: Reader) -> dict[str, str | None]:
        return {"owner": key.owner_id}

    async def by_hand(authorization: Annotated[str, Header()]) -> dict[str, str | None]:
        verified = await client.api_keys.verify(
            authorization.removeprefix("Bearer "), ip="127.0.0.1", scopes=["READ"]
        )
        return {"owner": verified.owner_id}

    app.get("/guarded")(guarded)
    app.get("/by-hand")(by_hand)
    return app


async def measure(base: str, admin_key: str, requests: int) -> dict[str, list[float]]:
    """Latencies in seconds of each of ``KINDS``, ``requests`` of each after a warm-up."""
    # The run's account is the database's only one: the bare /v1 routes serve it.
    async with AsyncKeyplane(base, admin_key) as client:
        key = (await client.api_keys.create(name="guarded customer", scopes=["READ"])).key
        transport = httpx.ASGITransport(app=vendor_app(client), client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://vendor.test") as vendor:
            headers = {"Authorization": f"Bearer {key}"}

            async def raw() -> None:
                verified = await client.api_keys.verify(key, ip="127.0.0.1", scopes=["READ"])
                assert verified.valid, verified.code

            async def guarded() -> None:
                response = await vendor.get("/guarded", headers=headers)
                assert response.status_code == 200, response.text

            async def by_hand() -> None:
                response = await vendor.get("/by-hand", headers=headers)
                assert response.status_code == 200, response.text

            calls: dict[str, Callable[[], Awaitable[None]]] = dict(
                zip(KINDS, (raw, guarded, by_hand), strict=True)
            )
            timed: dict[str, list[float]] = {kind: [] for kind in KINDS}
            for round_ in range(WARM_UP + requests):
                for kind, call in calls.items():
                    started = time.perf_counter()
                    await call()
                    if round_ >= WARM_UP:
                        timed[kind].append(time.perf_counter() - started)
    return timed


def _quantile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def report(timed: dict[str, list[float]], backend: str) -> None:
    table = Table(title=f"verify, one request at a time: the client, and through a FastAPI app ({backend})")
    for column in ("path", "requests", "p50 ms", "p90 ms", "p99 ms"):
        table.add_column(column, justify="right")
    for kind, values in timed.items():
        table.add_row(
            kind,
            f"{len(values):,}",
            f"{statistics.median(values) * 1000:.3f}",
            f"{_quantile(values, 0.9) * 1000:.3f}",
            f"{_quantile(values, 0.99) * 1000:.3f}",
        )
    console.print(table)
    raw, guarded, by_hand = (statistics.median(timed[kind]) * 1000 for kind in KINDS)
    verdict = "[green]met[/]" if guarded - raw <= GOAL_MS else "[red]missed[/]"
    console.print(
        f"the guard adds {guarded - raw:.3f} ms at p50 over raw verify "
        f"(goal: at most {GOAL_MS:.1f} ms): {verdict}"
    )
    console.print(
        f"  FastAPI and the in-process driver (by hand - raw): {by_hand - raw:.3f} ms; "
        f"the guard itself (guarded - by hand): {guarded - by_hand:.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.guard", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="of each kind (default 2000)")
    parser.add_argument("--database-url", default="", help="a PostgreSQL server; default: scratch SQLite")
    args = parser.parse_args()
    stop_on_sigterm()
    console.print(f"python loop: {python_loop_ms():.0f} ms (a noise indicator; compare between runs)")
    with tempfile.TemporaryDirectory(prefix="keyplane-bench-") as scratch, ExitStack() as stack:
        env = {**os.environ, "KEYPLANE_DATA_DIR": scratch, "KEYPLANE_LOG_LEVEL": "warning"}
        env.pop("KEYPLANE_DATABASE_URL", None)
        if args.database_url:
            env["KEYPLANE_DATABASE_URL"] = stack.enter_context(scratch_postgres(args.database_url))
        _, admin_key = init_account(env)
        log = Path(scratch) / "serve.log"
        base, _ = stack.enter_context(serving(KEYPLANE, env, False, 1, "/v1/ping", log))
        timed = asyncio.run(measure(base, admin_key, args.requests))
    console.print(f"python loop: {python_loop_ms():.0f} ms")
    report(timed, "PostgreSQL" if args.database_url else "SQLite")


if __name__ == "__main__":
    main()
