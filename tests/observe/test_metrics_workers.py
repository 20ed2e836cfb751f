"""``keyplane serve --workers 2``: metrics in prometheus_client's multiprocess mode, so a
scrape answered by either worker counts the requests of both, counts outlive a worker
killed mid-run, and the dead worker's live gauges go."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import live

WORKERS = 2
PINGS = 40
PATIENCE = 120.0
"""Seconds to wait for workers to start (or restart) on a busy machine: a bound, not a
measure."""


def _figures(base: str) -> tuple[float, set[str]]:
    """(pings counted by every worker, the pids of the live workers)."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    pings, pids = 0.0, set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "keyplane_http_requests_total" and sample.labels["route"] == "/v1/ping":
                pings += sample.value
            if sample.name == "keyplane_worker" and sample.labels["figure"] == "process_start_time_seconds":
                pids.add(sample.labels["pid"])
    return pings, pids


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``keyplane serve --workers 2`` with a metrics directory holding a stale file."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_99999999.db").write_bytes(b"left by an earlier run")
    env = live.environment(database_url, "workers-secret-" + "w" * 32, tmp_path)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    port = live.free_port()
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(  # noqa: S603 - our own entry point with fixed arguments
            [str(live.KEYPLANE), "serve", "--port", str(port), "--workers", str(WORKERS)],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, "no worker started")
        yield base, folder
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        asyncio.run(live.empty(database_url))


def test_every_worker_is_counted_and_a_dead_one_leaves(served: tuple[str, Path]) -> None:
    base, folder = served
    assert not (folder / "counter_99999999.db").exists()  # emptied at start
    for _ in range(PINGS):
        assert httpx.get(f"{base}/v1/ping", timeout=10).status_code == 200

    def counted() -> bool:
        pings, pids = _figures(base)
        return pings == PINGS and len(pids) == WORKERS

    _until(counted, "the workers' counts did not add up")
    _, pids = _figures(base)
    victim = int(sorted(pids)[0])
    os.kill(victim, signal.SIGKILL)
    # uvicorn starts a new worker; the dead one's counts stay, its live gauges go.

    def replaced() -> bool:
        _, pids = _figures(base)
        return str(victim) not in pids and len(pids) == WORKERS

    _until(replaced, "the dead worker's gauges stayed")
    assert _figures(base)[0] >= PINGS
