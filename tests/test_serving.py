"""``keyplane serve`` bounds its connections (``keyplane.serving``): clients that connect and
never finish their headers cannot lock new clients out, and are disconnected in time."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import httpx

from tests import live

HALF_OPEN = 300
"""More than the server's descriptors at start (``OPEN_FILES``), far more than its bound."""
OPEN_FILES = 256
"""The soft limit on open files the server starts with (a host's low default)."""
MAX_CONNECTIONS = 20
HEADER_TIMEOUT = 2.0
ANSWER_WITHIN = 5.0
"""The bound on a new client's answer while the half-open connections are held."""
CLOSED_WITHIN = HEADER_TIMEOUT + 3.0
"""The bound on a half-open connection's life: the header timeout, plus a sweep and slack."""


def _half_open(port: int, count: int) -> list[socket.socket]:
    """Connections that never finish a request: half send nothing, half half a request."""
    sockets = []
    for index in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if index % 2:
            sock.sendall(b"GET /v1/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)
    return sockets


def _closed(sock: socket.socket, wait: float) -> bool:
    """Whether the server closed ``sock`` (within ``wait`` seconds)."""
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_half_open_connections_neither_lock_new_clients_out_nor_stay(
    database_url: str, tmp_path: Path
) -> None:
    env = live.environment(
        database_url,
        "test-server-secret-" + "x" * 32,
        tmp_path,
        max_connections=str(MAX_CONNECTIONS),
        header_timeout_seconds=str(HEADER_TIMEOUT),
    )
    sockets: list[socket.socket] = []
    try:
        with live.serve(env, tmp_path / "serve.log", open_files=OPEN_FILES) as base:
            sockets = _half_open(int(base.rsplit(":", 1)[1]), HALF_OPEN)

            answer = httpx.get(f"{base}/v1/ping", timeout=ANSWER_WITHIN)

            assert answer.status_code == 200
            # Past the bound, those that had waited longest made room as others came.
            held = [sock for sock in sockets if not _closed(sock, 0.05)]
            assert len(held) <= MAX_CONNECTIONS
            # The rest are let go once their header timeout has passed.
            assert all(_closed(sock, CLOSED_WITHIN) for sock in held)
    finally:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
        asyncio.run(live.empty(database_url))
