"""``python -m bench.peer``: the peer's verifications per second, measured on this machine.

The peer is Django REST framework with djangorestframework-api-key (this package's Django
project; how the library hashes and checks keys: ``bench/peer/__init__.py``). In a scratch
folder, Django's migrations build a SQLite database, ``--keys`` keys are minted with the
library's ``create_key``, and the peer is served with ``--workers`` processes in its two
ordinary production setups, one after the other:

- uvicorn with Django's ASGI application, with exactly the flags the floor and Keyplane get
  (``bench.common.server_command``);
- gunicorn with Django's WSGI application and ``gthread`` workers: the sync worker serves one
  connection at a time and closes it after each response (no keep-alive), so 64 keep-alive
  connections would queue behind each other; gthread keeps idle connections in a poller and
  hands the ready ones to a small thread pool (``GUNICORN_THREADS``).

Each is checked by hand (a minted key 200 ``{"valid": true}``, a wrong one 403), then loaded
with wrk, a key drawn at random per request in ``Authorization: Api-Key <key>``: 2 s
discarded, then ``--seconds``. Any answer but 2xx stops the run. Every process started is
stopped and the scratch folder removed. Needs ``wrk`` and the ``peer`` extra.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import httpx
from rich.table import Table

from bench import wrk
from bench.common import (
    BIN,
    _free_port,
    _wait,
    add_wrk_options,
    console,
    machine_facts,
    server_command,
    stop,
    stop_on_sigterm,
)

PEER_PACKAGES = ("django", "djangorestframework", "djangorestframework-api-key", "gunicorn")
PEER_MODULES = ("django", "rest_framework", "rest_framework_api_key", "gunicorn")
INSTALL_HINT = ".venv/bin/pip install -e '.[peer]'"
WARM_SECONDS = 2
GUNICORN_THREADS = 8
"""Threads per gthread worker: 2-4 per core, gunicorn's advice (2 cores here). On this host 4
and 8 measured alike, 16 and 32 worse: more threads do not help CPU-bound Python under the
GIL, they only wait for it."""
READY_PATH = "/verify"  # 403 without a key: up
HEADER = ("Authorization", "Api-Key ")


@dataclass(frozen=True)
class Server:
    label: str
    command: Callable[[int, int], list[str]]
    """The command line for (port, workers)."""
    conn_max_age: int
    """Django's CONN_MAX_AGE in its processes (see ``bench/peer/settings.py``)."""


def gunicorn_command(port: int, workers: int) -> list[str]:
    # Access log off and warnings only by default, like SERVER_FLAGS; gunicorn always sends
    # a Date header (it has no switch for it).
    return [
        str(BIN / "gunicorn"),
        "bench.peer.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(GUNICORN_THREADS),
        "--log-level",
        "warning",
    ]


SERVERS = (
    # Django closes its connection after each request under ASGI, as its documentation asks:
    # each request runs in a thread of its own there.
    Server(
        "uvicorn, Django ASGI",
        lambda port, workers: server_command("bench.peer.asgi:application", port, False, workers),
        0,
    ),
    # gthread's threads live on, so each keeps its connection (a minute, a common setting).
    Server(f"gunicorn gthread x{GUNICORN_THREADS}, Django WSGI", gunicorn_command, 60),
)


@dataclass(frozen=True)
class PeerResult:
    workers: int
    keys: int
    measured: dict[str, wrk.Measured]
    """Each server's timed run, by its label."""
    floors: dict[str, float] = field(default_factory=dict)
    """With a floor to pair with: the floor's requests/s under each server's very load, just
    before and just after it (their mean), by the server's label."""

    @property
    def best(self) -> str:
        """The label of the faster server, whose figure is the peer's."""
        return max(self.measured, key=lambda label: self.measured[label].rps)

    @property
    def best_per_worker(self) -> float:
        """Verifications/s per worker of the faster server: the peer's figure."""
        return self.measured[self.best].rps / self.workers


def peer_missing() -> str:
    """Why the peer cannot run here (its extra is not installed), or ""."""
    missing = [name for name in PEER_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return ""
    return f"the peer needs the 'peer' extra ({', '.join(missing)} not installed): {INSTALL_HINT}"


def require_peer() -> None:
    """Stop with how to install the ``peer`` extra when it is not."""
    missing = peer_missing()
    if missing:
        raise SystemExit(missing)


@contextmanager
def _serving(server: Server, workers: int, env: dict[str, str]) -> Iterator[str]:
    """``server`` running on a free port for the ``with`` block (its base URL); stopped at
    its end, workers and all (a session of its own, as ``bench.common`` starts servers)."""
    port = _free_port()
    env = {**env, "KEYPLANE_PEER_CONN_MAX_AGE": str(server.conn_max_age)}
    process = subprocess.Popen(server.command(port, workers), env=env, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(f"{base}{READY_PATH}", process)
        yield base
    finally:
        stop(process)


def _check(label: str, base: str, key: str) -> None:
    """A minted key verifies; the same key with its last character changed, and no key, get 403."""
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")  # the right prefix: its row is read
    cases: tuple[tuple[str, dict[str, str], int], ...] = (
        ("a minted key", {HEADER[0]: HEADER[1] + key}, 200),
        ("a wrong key", {HEADER[0]: HEADER[1] + wrong}, 403),
        ("no key", {}, 403),
    )
    for what, headers, status in cases:
        answer = httpx.post(f"{base}/verify", headers=headers, timeout=30)
        if answer.status_code != status or (status == 200 and answer.json() != {"valid": True}):
            raise SystemExit(
                f"{label}: POST /verify with {what} answered {answer.status_code} {answer.text[:200]!r}, "
                f"not {status}"
            )


def _mint(folder: Path, env: dict[str, str], count: int) -> list[str]:
    """Migrate and mint in a process of its own (Django's settings are read once per process)."""
    out = folder / "keys.txt"
    subprocess.run([sys.executable, "-m", "bench.peer.mint", str(count), str(out)], env=env, check=True)
    keys = out.read_text().split()
    if len(keys) != count:
        raise SystemExit(f"minted {len(keys):,} keys, not {count:,}")
    return keys


def measure_peer(
    seconds: int,
    connections: int,
    keys: int,
    workers: int,
    wrk_threads: int = 1,
    floor_base: str | None = None,
) -> PeerResult:
    """Each server of ``SERVERS`` in turn, under wrk with ``keys`` keys drawn at random; with
    ``floor_base`` (a running floor, as ``python -m bench`` has), each paired with the floor
    under the same load just before and just after it."""
    require_peer()
    measured: dict[str, wrk.Measured] = {}
    floors: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="keyplane-peer-") as scratch:
        folder = Path(scratch)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.peer.settings",
            "KEYPLANE_PEER_DB": str(folder / "peer.sqlite3"),
        }
        minted = _mint(folder, env, keys)
        console.print(f"{keys:,} keys minted with APIKey.objects.create_key")
        load = wrk.random_script(
            folder, "peer-verify", minted, "POST", "/verify", {}, None, item_header=HEADER
        )
        for server in SERVERS:
            with _serving(server, workers, env) as base:
                _check(server.label, base, minted[0])
                wrk.run(base, load, WARM_SECONDS, connections, wrk_threads)  # discarded
                if floor_base:
                    result, floors[server.label] = wrk.paired(
                        base, floor_base, load, seconds, connections, wrk_threads
                    )
                else:
                    result = wrk.run(base, load, seconds, connections, wrk_threads)
            if result.non_2xx:
                raise SystemExit(
                    f"{server.label}: {result.non_2xx:,} of {result.requests:,} answers were not 2xx "
                    "(403: minted keys that do not verify)"
                )
            console.print(f"{server.label}: {result.rps:,.0f} requests/s")
            measured[server.label] = result
    return PeerResult(workers, keys, measured, floors)


def report(result: PeerResult, seconds: int, connections: int) -> None:
    table = Table(
        title=f"the peer, POST /verify: {result.keys:,} keys drawn at random, {result.workers} worker(s), "
        f"wrk -c{connections}, {seconds} s after a {WARM_SECONDS} s warm-up"
    )
    for column in ("server", "requests/s", "p50 ms", "p99 ms", "req/s per worker", "socket err"):
        table.add_column(column, justify="left" if column == "server" else "right")
    for label, m in result.measured.items():
        table.add_row(
            label,
            f"{m.rps:,.0f}",
            f"{m.p50_ms:.2f}",
            f"{m.p99_ms:.2f}",
            f"{m.rps / result.workers:,.0f}",
            str(m.socket_errors),
        )
    console.print(table)
    console.print(f"the peer's verifications/s per worker (the faster server): {result.best_per_worker:,.0f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.peer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_wrk_options(parser)
    parser.add_argument(
        "--keys", type=int, default=10_000, help="keys minted and drawn from (default 10,000)"
    )
    args = parser.parse_args(argv)
    require_peer()
    stop_on_sigterm()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    if min(args.seconds, args.connections, args.keys, args.workers, args.wrk_threads) < 1:
        raise SystemExit("every number must be at least 1")

    console.rule("machine")
    for line in machine_facts():
        console.print(line)
    console.print(", ".join(f"{name} {metadata.version(name)}" for name in PEER_PACKAGES))
    for server in SERVERS:
        command = server.command(0, args.workers)
        shown = " ".join([Path(command[0]).name, *command[1:]])
        shown = shown.replace("--port 0", "--port <free port>").replace(":0 ", ":<free port> ")
        console.print(f"{server.label}: {shown}")
    console.rule("peer")
    result = measure_peer(args.seconds, args.connections, args.keys, args.workers, args.wrk_threads)
    report(result, args.seconds, args.connections)


if __name__ == "__main__":
    main()
