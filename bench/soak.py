"""``python -m bench.soak``: a long run of mixed traffic against ``keyplane serve`` as shipped.

Keyplane serves on a scratch PostgreSQL database with Redis (or, with ``--sqlite``, a scratch
SQLite file and no Redis), its access log on, as ``keyplane serve`` runs it. Verify, list
and create are authenticated with the account's admin key; validate-key is sent as a
customer's app sends it, with no credential. A load generator
in this process keeps ``--connections`` keep-alive connections busy, each sending one request
after another, drawn at random in the proportions 4 verify : 3 validate-key : 2 list :
1 create, and times every answer by operation. It prints a line a minute (requests/s, the
last minute's p99 per operation, the server's memory) and at the end p50, p99 and the
slowest answer per operation, the errors, and the server's resident memory at the start of
the timed run and at its end.

The load is bounded in time and targets 127.0.0.1 only; the server, its scratch database and
its Redis keys are removed at the end. Figures are printed, never asserted.

The client is plain asyncio on raw sockets (one preformatted request per operation, the
answer read by its Content-Length): a few tens of microseconds of this process's CPU per
request, so on a small machine it takes a share of the cores the server would otherwise
have; the summary prints the client's own CPU time beside the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from rich.table import Table

from bench import results
from bench.common import BIN, console, machine, scratch_postgres, stop, stop_on_sigterm
from bench.goals import ROW_GOALS, Figures

MIX = (("verify", 4), ("validate-key", 3), ("list", 2), ("create", 1))
"""Operations and their weights."""
GOAL = ROW_GOALS["soak"]
"""Every operation's goal (bench/goals.py)."""
KEYS = 1_000
"""API keys made through the API before the run, drawn at random by verify."""
REPORT_SECONDS = 60


@dataclass
class Operation:
    name: str
    requests: list[bytes]
    """Ready-to-send requests; one is drawn per use."""
    ok: tuple[int, bytes | None]
    """The expected status, and bytes the body must hold (None: any body)."""
    latencies: array[float] = field(default_factory=lambda: array("d"))
    window: array[float] = field(default_factory=lambda: array("d"))
    """The latencies since the last progress line."""
    errors: int = 0
    example: str = ""


def _request(method: str, path: str, key: str | None, body: bytes | None, content_type: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Accept: application/json"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    if body is not None:
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(port: int, operations: list[Operation], weights: list[int], until: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    draw = random.Random(secrets.randbits(64))  # noqa: S311 - which request to send, not a secret
    try:
        while time.monotonic() < until:
            operation = draw.choices(operations, weights)[0]
            request = operation.requests[draw.randrange(len(operation.requests))]
            started = time.perf_counter()
            writer.write(request)
            try:
                status, body = await _read_answer(reader)
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                operation.errors += 1
                operation.example = operation.example or f"connection: {error!r}"
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            elapsed = (time.perf_counter() - started) * 1000
            operation.latencies.append(elapsed)
            operation.window.append(elapsed)
            expected_status, expected_body = operation.ok
            if status != expected_status or (expected_body is not None and expected_body not in body):
                operation.errors += 1
                operation.example = operation.example or f"{status} {body[:200]!r}"
    finally:
        writer.close()


def _percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rss_mib(pids: Sequence[int]) -> float:
    """Resident memory of the server's processes (the supervisor and its workers), MiB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pids: Sequence[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def server_pids(root: int) -> list[int]:
    """The server process and its children (uvicorn's workers)."""
    found = [root]
    for task in Path("/proc").iterdir():
        if not task.name.isdigit():
            continue
        try:
            stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == root:
            found.append(int(task.name))
    return found


@contextmanager
def keyplane(env: dict[str, str], workers: int, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``keyplane serve`` as shipped (access log and all) on a free port, its log to ``log``."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "keyplane"), "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise SystemExit(f"keyplane serve exited with {process.returncode}; see {log}")
            try:
                if httpx.get(f"{base}/v1/ping", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("keyplane serve did not answer within 90 s")
            time.sleep(0.2)
        yield base, process
    finally:
        stop(process)


def _setup(base: str, slug: str, admin: str, keys: int) -> list[Operation]:
    """The account's license with its machine and ``keys`` API keys, and the four operations."""
    api = f"{base}/v1/accounts/{slug}"
    auth = {"Authorization": f"Bearer {admin}"}
    jsonapi = {**auth, "Content-Type": "application/vnd.api+json"}

    def made(path: str, data: dict[str, object]) -> dict[str, object]:
        answer = httpx.post(f"{api}/{path}", json={"data": data}, headers=jsonapi, timeout=30)
        answer.raise_for_status()
        document: dict[str, object] = answer.json()["data"]
        return document

    def related(kind: str, id_: object) -> dict[str, object]:
        return {"data": {"type": kind, "id": id_}}

    product = made("products", {"type": "products", "attributes": {"name": "Soak"}})
    policy = made(
        "policies",
        {
            "type": "policies",
            "attributes": {"name": "Soak", "strict": True},
            "relationships": {"product": related("products", product["id"])},
        },
    )
    license = made(
        "licenses", {"type": "licenses", "relationships": {"policy": related("policies", policy["id"])}}
    )
    made(
        "machines",
        {
            "type": "machines",
            "attributes": {"fingerprint": "soak-machine"},
            "relationships": {"license": related("licenses", license["id"])},
        },
    )
    license_key = str(license["attributes"]["key"])  # type: ignore[index]  # JSON:API document
    plaintexts = []
    with httpx.Client(headers=auth, timeout=30) as http:
        for number in range(keys):
            answer = http.post(f"{api}/api-keys", json={"name": f"soak {number}", "scopes": ["READ"]})
            answer.raise_for_status()
            plaintexts.append(answer.json()["key"])
    prefix = f"/v1/accounts/{slug}"
    validate = json.dumps({"meta": {"key": license_key, "scope": {"fingerprint": "soak-machine"}}}).encode()
    return [
        Operation(
            "verify",
            [
                _request(
                    "POST",
                    f"{prefix}/api-keys/verify",
                    admin,
                    json.dumps({"key": key}).encode(),
                    "application/json",
                )
                for key in plaintexts
            ],
            (200, b'"valid":true'),
        ),
        Operation(
            "validate-key",
            [
                _request(
                    "POST",
                    f"{prefix}/licenses/actions/validate-key",
                    None,
                    validate,
                    "application/vnd.api+json",
                )
            ],
            (200, b'"valid":true'),
        ),
        Operation("list", [_request("GET", f"{prefix}/api-keys", admin, None, "")], (200, None)),
        Operation(
            "create",
            [
                _request(
                    "POST",
                    f"{prefix}/api-keys",
                    admin,
                    json.dumps({"name": f"soak new {n}"}).encode(),
                    "application/json",
                )
                for n in range(100)
            ],
            (201, None),
        ),
    ]


async def _load(
    port: int, operations: list[Operation], connections: int, seconds: float, pids: list[int]
) -> None:
    until = time.monotonic() + seconds
    weights = [weight for _, weight in MIX]
    tasks = [asyncio.create_task(_connection(port, operations, weights, until)) for _ in range(connections)]
    started = time.monotonic()
    while not all(task.done() for task in tasks):
        await asyncio.wait(tasks, timeout=REPORT_SECONDS)
        elapsed = time.monotonic() - started
        parts = []
        for operation in operations:
            parts.append(f"{operation.name} p99 {_percentile(operation.window, 0.99):.1f} ms")
            operation.window = array("d")
        done = sum(len(operation.latencies) for operation in operations)
        console.print(
            f"{elapsed / 60:5.1f} min: {done / elapsed:,.0f} req/s; {'; '.join(parts)}; "
            f"server RSS {rss_mib(pids):.0f} MiB"
        )
    for task in tasks:
        task.result()


def _report(
    operations: list[Operation], seconds: float, rss: tuple[float, float], cpu: tuple[float, float], keys: int
) -> tuple[bool, list[results.Entry]]:
    table = Table(title=f"Soak: {seconds / 60:.0f} minutes of mixed traffic")
    for column in (
        "operation",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        GOAL.describe(),
    ):
        table.add_column(column, justify="left" if column == "operation" else "right")
    met = True
    logged = []
    for operation in operations:
        values = operation.latencies
        p99 = _percentile(values, 0.99)
        figures = Figures(len(values) / seconds, p99, errors=operation.errors)
        ok = GOAL.met(figures)
        met = met and ok
        stored = keys if operation.name == "verify" else None
        logged.append(
            results.row_entry(
                operation.name, operation.name, stored, figures, _percentile(values, 0.5), GOAL.describe(), ok
            )
        )
        table.add_row(
            operation.name,
            f"{len(values):,}",
            f"{len(values) / seconds:,.0f}",
            f"{_percentile(values, 0.5):.2f}",
            f"{p99:.2f}",
            f"{max(values, default=float('nan')):.1f}",
            str(operation.errors),
            "yes" if ok else "NO",
        )
    console.print(table)
    for operation in operations:
        if operation.example:
            console.print(f"first error of {operation.name}: {operation.example}")
    console.print(
        f"server RSS: {rss[0]:.0f} MiB at the start of the timed run, {rss[1]:.0f} MiB at its end "
        f"({rss[1] - rss[0]:+.0f} MiB); CPU seconds: server {cpu[0]:.0f}, this client {cpu[1]:.0f}"
    )
    return met, logged


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30, help="length of the timed run (default 30)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument("--workers", type=int, default=1, help="keyplane serve --workers (default 1)")
    parser.add_argument("--keys", type=int, default=KEYS, help=f"API keys verify draws from (default {KEYS})")
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server to make a scratch database on (default the local one)",
    )
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/0", help="Redis (default the local one)"
    )
    parser.add_argument("--sqlite", action="store_true", help="a scratch SQLite file and no Redis instead")
    parser.add_argument(
        "--no-log", action="store_true", help=f"do not append this run to {results.LOG.name} (bench/)"
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    stop_on_sigterm()
    started = results.now()
    facts = machine()
    for line in facts.lines():
        console.print(line)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="keyplane-soak-")))
        env = {name: value for name, value in os.environ.items() if not name.startswith("KEYPLANE_")}
        env |= {"KEYPLANE_DATA_DIR": str(folder), "KEYPLANE_SECRET_KEY": secrets.token_urlsafe(48)}
        if args.sqlite:
            env["KEYPLANE_DATABASE_URL"] = f"sqlite:///{folder / 'keyplane.db'}"
        else:
            env["KEYPLANE_DATABASE_URL"] = stack.enter_context(scratch_postgres(args.database_url))
            prefix = f"keyplane-soak-{secrets.token_hex(4)}:"
            env |= {"KEYPLANE_REDIS_URL": args.redis_url, "KEYPLANE_REDIS_PREFIX": prefix}
            stack.callback(_forget_redis, args.redis_url, prefix)
        slug = f"soak-{secrets.token_hex(3)}"
        made = subprocess.run(
            [
                *(str(BIN / "keyplane"), "init", "--account", slug, "--email", "soak@example.com"),
                *("--password", "soak-password-long-enough", "--json"),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        admin = json.loads(made.stdout)["apiKey"]
        base, process = stack.enter_context(keyplane(env, args.workers, folder / "server.log"))
        backend = "SQLite, no Redis" if args.sqlite else "PostgreSQL and Redis"
        console.print(f"keyplane serve --workers {args.workers} on {backend}; {args.connections} connections")
        operations = _setup(base, slug, admin, args.keys)
        pids = server_pids(process.pid)
        port = int(base.rsplit(":", 1)[1])
        asyncio.run(_load(port, operations, args.connections, 10, pids))  # warm-up, discarded
        for operation in operations:
            operation.latencies, operation.errors, operation.example = array("d"), 0, ""
        rss_start, cpu_start, client_start = rss_mib(pids), cpu_seconds(pids), time.process_time()
        seconds = args.minutes * 60
        asyncio.run(_load(port, operations, args.connections, seconds, pids))
        rss = (rss_start, rss_mib(pids))
        cpu = (cpu_seconds(pids) - cpu_start, time.process_time() - client_start)
        met, rows = _report(operations, seconds, rss, cpu, args.keys)
        console.print("every operation's p99 under the goal, no errors" if met else "goal NOT met")
    if not args.no_log:
        run = results.entry(
            date=started,
            commit=results.commit(),
            benchmark="bench.soak",
            command=results.command("bench.soak", argv),
            machine=results.machine_entry(facts),
            database=backend,
            rows=rows,
            note=f"server RSS {rss[0]:.0f} -> {rss[1]:.0f} MiB; CPU seconds: server {cpu[0]:.0f}, "
            f"client {cpu[1]:.0f}",
        )
        results.append(run)
        console.print(f"logged in {results.LOG}")


def _forget_redis(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


if __name__ == "__main__":
    main()
