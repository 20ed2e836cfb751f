"""What the benchmarks share: starting and stopping servers, a fresh account, a scratch
database, and the facts about the machine a figure was measured on."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy.engine import make_url

# Wide enough for the results table when the output goes to a file.
console = Console(width=None if sys.stdout.isatty() else 160)
BIN = Path(sys.executable).parent
SERVER_FLAGS = ("--log-level", "warning", "--no-access-log", "--no-date-header")
"""The floor's uvicorn flags, plus ``--workers N``: what ``keyplane serve`` runs uvicorn with
(Keyplane writes its own access line and Date header)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds}s")


KEYPLANE = "keyplane.app:create_app"
"""Served as shipped: ``keyplane serve`` (its own protocol bounds and access log, uvicorn's
access log off), with ``KEYPLANE_LOG_LEVEL`` from the environment."""


def server_command(app: str, port: int, factory: bool, workers: int = 1) -> list[str]:
    if app == KEYPLANE:
        return [str(BIN / "keyplane"), "serve", "--port", str(port), "--workers", str(workers)]
    command = [str(BIN / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), *SERVER_FLAGS]
    if factory:
        command.append("--factory")
    return command


def _serve(
    app: str, port: int, env: dict[str, str], factory: bool, workers: int = 1, log: Path | None = None
) -> subprocess.Popen[bytes]:
    # A session of its own, so stopping it can reach every worker process it started. Its
    # output (Keyplane's access lines among it) goes to ``log``, as a server's would in
    # production, not to the benchmark's console.
    if log is None:
        return subprocess.Popen(server_command(app, port, factory, workers), env=env, start_new_session=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            server_command(app, port, factory, workers),
            env=env,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes], seconds: float = 15) -> None:
    """Stop a server started by ``_serve`` and wait for it; its workers go with it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(seconds)
            return
        except subprocess.TimeoutExpired:
            pass
    # Still there (or its supervisor died and left workers): the whole process group goes.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(seconds)


@contextmanager
def serving(
    app: str, env: dict[str, str], factory: bool, workers: int, ready_path: str, log: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A running server (base URL, process) for the ``with`` block; stopped at its end. Its
    output goes to ``log`` when given."""
    port = _free_port()
    process = _serve(app, port, env, factory, workers, log)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(f"{base}{ready_path}", process)
        yield base, process
    finally:
        stop(process)


def init_account(env: dict[str, str]) -> tuple[str, str]:
    """A fresh account for this run (a shared database may hold older ones): slug, admin key."""
    slug = f"bench-{secrets.token_hex(4)}"
    made = json.loads(
        subprocess.run(
            [
                str(BIN / "keyplane"),
                "init",
                "--account",
                slug,
                "--email",
                "bench@example.com",
                "--password",
                "bench-password",
                "--json",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return slug, str(made["apiKey"])


async def _postgres(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """A new, empty database ``keyplane_bench_<random>`` on the server of ``server_url``
    (which is only used to connect to), dropped again at the end: existing data is never
    touched. Yields the new database's URL."""
    url = make_url(server_url)
    if not url.drivername.startswith(("postgresql", "postgres")):
        raise SystemExit("--database-url takes a PostgreSQL server (SQLite is the default)")
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"keyplane_bench_{secrets.token_hex(4)}"
    asyncio.run(_postgres(admin, f'CREATE DATABASE "{name}"'))
    try:
        console.print(f"scratch database [bold]{name}[/] created on {url.host}:{url.port or 5432}")
        yield url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        console.print(f"scratch database {name} dropped")


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` stops its server and removes its
    scratch data (Python's default would end the process on the spot)."""

    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def python_loop_ms() -> float:
    """A 2,000,000-iteration empty loop in ms: how fast (and how quiet) this host is now."""
    started = time.perf_counter()
    for _ in range(2_000_000):
        pass
    return (time.perf_counter() - started) * 1000


CpuTimes = tuple[int, int]
"""(all CPU time, time stolen by the hypervisor) since boot, in clock ticks, all CPUs."""


def cpu_times() -> CpuTimes | None:
    """From ``/proc/stat`` (None elsewhere). Stolen time is time a virtual CPU was ready to
    run but the hypervisor ran something else: on a shared host, the noise no pairing with
    the floor can remove when it comes and goes within a row."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if fields[0] != "cpu" or len(fields) < 9:
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice: counted in user]
    ticks = [int(value) for value in fields[1:9]]
    return sum(ticks), ticks[7]


def stolen_share(before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """The share of CPU time stolen between two ``cpu_times()``."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    return (after[1] - before[1]) / (after[0] - before[0])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@dataclass(frozen=True)
class Machine:
    """The facts about the machine a figure was measured on (printed, and logged with a run)."""

    nproc: int
    cpu_count: int | None
    cpu: str
    stolen_since_boot: float | None
    """The share of CPU time the hypervisor stole since boot (None off Linux)."""
    load: list[str]
    python: str
    versions: dict[str, str | None]
    """The server stack's versions (None: not installed)."""
    loop_ms: list[float]
    """Three timings of a 2,000,000-iteration empty Python loop: a noise indicator."""

    def lines(self) -> list[str]:
        stolen = self.stolen_since_boot
        since_boot = "" if stolen is None else f"; CPU time stolen by the hypervisor since boot: {stolen:.1%}"
        versions = ", ".join(
            f"{package} {version}" if version else f"{package} (absent)"
            for package, version in self.versions.items()
        )
        return [
            f"nproc: {self.nproc} (cpu_count {self.cpu_count}); CPU: {self.cpu}{since_boot}",
            f"load average: {' '.join(self.load)}; Python {self.python}; {versions}",
            "2,000,000-iteration Python loop: "
            + ", ".join(f"{ms:.0f} ms" for ms in self.loop_ms)
            + " (noise indicator)",
        ]


def machine() -> Machine:
    """nproc, the CPU, the load, the interpreter, the server stack and a loop timing."""
    loops = [python_loop_ms() for _ in range(3)]
    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = ["?"]
    versions: dict[str, str | None] = {}
    for package in ("uvicorn", "httptools", "uvloop", "fastapi", "sqlalchemy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return Machine(
        nproc=len(os.sched_getaffinity(0)),
        cpu_count=os.cpu_count(),
        cpu=cpu_model(),
        stolen_since_boot=stolen_share((0, 0), cpu_times()),
        load=load,
        python=platform.python_version(),
        versions=versions,
        loop_ms=loops,
    )


def machine_facts() -> list[str]:
    """What ``machine()`` finds, as printed lines."""
    return machine().lines()


def add_wrk_options(parser: argparse.ArgumentParser) -> None:
    """What every wrk benchmark takes: the length of a load, its connections and threads, and
    the server's worker processes."""
    parser.add_argument("--seconds", type=int, default=10, help="length of each timed load (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server worker processes, the same for every server (default 1)",
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
