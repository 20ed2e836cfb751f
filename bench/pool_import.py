"""``python -m bench.pool_import``: ``keyplane pool import`` of 100,000 keys, timed.

Starts Keyplane (``keyplane serve``, one worker) on a scratch SQLite file, and with
``--postgres`` on a scratch PostgreSQL database as well, with a fresh account, a product and a
pooled policy. Writes ``--keys`` distinct keys to a file, one a line, and runs the installed
command, ``keyplane pool import POLICY FILE``, as an operator does: the seconds it took, its
peak memory (the child's maximum resident set), and the same for a run with a tenth of the
keys (the memory should not grow with the file: it is streamed), and for the same file again
(every key already there: reported present, nothing added). Checks the pool then holds every
key once. The goal: under 60 s for 100,000 keys. A benchmark, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from bench.common import BIN, KEYPLANE, console, init_account, machine_facts, scratch_postgres, serving

GOAL_SECONDS = 60.0
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Run:
    keys: int
    seconds: float
    peak_mb: float
    status: int


def _write_keys(path: Path, count: int) -> None:
    with path.open("w") as file:
        for _ in range(count):
            file.write(f"BENCH-{secrets.token_hex(12).upper()}\n")


def _import(env: dict[str, str], policy: str, path: Path, log: Path) -> Run:
    """``keyplane pool import`` as a child process: its wall time and its own peak memory."""
    with log.open("ab") as out:
        started = time.perf_counter()
        child = subprocess.Popen(
            [str(BIN / "keyplane"), "pool", "import", policy, str(path)], env=env, stdout=out, stderr=out
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = sum(1 for _ in path.open())
    return Run(lines, seconds, usage.ru_maxrss / 1024, child.returncode)


def _made(base: str, key: str, path: str, body: dict[str, Any]) -> str:
    response = httpx.post(f"{base}/v1/{path}", json=body, headers={"Authorization": f"Bearer {key}"})
    response.raise_for_status()
    return str(response.json()["data"]["id"])


def _pool_size(base: str, key: str, policy: str) -> int:
    response = httpx.get(
        f"{base}/v1/policies/{policy}/pool",
        params={"page[number]": "1", "page[size]": "1"},
        headers={"Authorization": f"Bearer {key}"},
    )
    response.raise_for_status()
    return int(response.json()["links"]["meta"]["count"])


@contextmanager
def _database(name: str, postgres: str, folder: Path) -> Iterator[dict[str, str]]:
    """The environment of a server on a scratch database of kind ``name``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYPLANE_")}
    env |= {"KEYPLANE_DATA_DIR": str(folder), "KEYPLANE_LOG_LEVEL": "warning"}
    if name == "SQLite":
        yield env
        return
    with scratch_postgres(postgres) as url:
        yield env | {"KEYPLANE_DATABASE_URL": url}


def measure(name: str, count: int, postgres: str) -> tuple[Run, Run, Run, int]:
    """(a tenth of the keys, all of them, all of them again, the pool's size at the end)."""
    with tempfile.TemporaryDirectory(prefix="keyplane-bench-") as scratch:
        folder = Path(scratch)
        with _database(name, postgres, folder) as env:
            slug, admin = init_account(env)
            env["KEYPLANE_ACCOUNT"] = slug  # the bare /v1 routes the client speaks serve it
            with serving(KEYPLANE, env, False, 1, "/v1/ping", folder / "serve.log") as (base, _):
                product = _made(
                    base, admin, "products", {"data": {"type": "products", "attributes": {"name": "B"}}}
                )
                attributes = {"name": "Pooled", "usePool": True}
                related = {"product": {"data": {"type": "products", "id": product}}}
                policy = _made(
                    base,
                    admin,
                    "policies",
                    {"data": {"type": "policies", "attributes": attributes, "relationships": related}},
                )
                small, large = folder / "small.txt", folder / "keys.txt"
                _write_keys(small, count // 10)
                _write_keys(large, count)
                command = env | {"KEYPLANE_URL": base, "KEYPLANE_API_KEY": admin}
                log = folder / "import.log"
                console.print(f"{name}: importing {count // 10:,}, then {count:,} keys, then the same again")
                first = _import(command, policy, small, log)
                full = _import(command, policy, large, log)
                again = _import(command, policy, large, log)
                size = _pool_size(base, admin, policy)
                if {first.status, full.status, again.status} != {0}:
                    console.print(log.read_text()[-4000:])
    return first, full, again, size


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pool_import", description=__doc__)
    parser.add_argument("--keys", type=int, default=100_000, help="keys in the file (default 100,000)")
    parser.add_argument("--postgres", action="store_true", help="also on a scratch PostgreSQL database")
    parser.add_argument("--postgres-url", default=POSTGRES, help=f"the server to make it on ({POSTGRES})")
    args = parser.parse_args()
    for line in machine_facts():
        console.print(line)
    table = Table(title=f"keyplane pool import of {args.keys:,} keys (goal: under {GOAL_SECONDS:.0f} s)")
    for column in ("database", "run", "keys", "seconds", "keys/s", "peak MB", "exit", "goal met"):
        table.add_column(column, justify="right")
    for name in ["SQLite", *(["PostgreSQL"] if args.postgres else [])]:
        first, full, again, size = measure(name, args.keys, args.postgres_url)
        for label, run in (("a tenth", first), ("all", full), ("all again", again)):
            met = ("yes" if run.seconds < GOAL_SECONDS else "NO") if run is full else ""
            table.add_row(
                name,
                label,
                f"{run.keys:,}",
                f"{run.seconds:.1f}",
                f"{run.keys / run.seconds:,.0f}",
                f"{run.peak_mb:.0f}",
                str(run.status),
                met,
            )
        expected = first.keys + full.keys
        verdict = "as expected" if size == expected else f"expected {expected:,}"
        console.print(f"{name}: the pool holds {size:,} keys ({verdict})")
    console.print(table)


if __name__ == "__main__":
    main()
