"""``keyplane.serving``'s connection bounds, on a uvicorn server run in the test process with
a small bound and a short header timeout (``tests/test_serving.py`` floods a real
``keyplane serve`` instead): slow clients are cut off, the longest-waiting make room, and a
client that sends its request at once is answered meanwhile."""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from keyplane.config import get_settings
from keyplane.serving import BoundedHttpToolsProtocol, raise_descriptor_limit

REQUEST = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n"


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"hello"})


async def _serve(
    monkeypatch: pytest.MonkeyPatch, max_connections: int, header_timeout: float
) -> AsyncIterator[int]:
    for name in list(os.environ):
        if name.startswith("KEYPLANE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KEYPLANE_MAX_CONNECTIONS", str(max_connections))
    monkeypatch.setenv("KEYPLANE_HEADER_TIMEOUT_SECONDS", str(header_timeout))
    get_settings.cache_clear()
    # A process runs one server, whose first connection starts the sweep: this test's server is
    # that one. Each test runs its own event loop (``asyncio.run``), which takes the sweep's
    # timer with it when it closes.
    monkeypatch.setattr(BoundedHttpToolsProtocol, "sweeping", False)
    config = uvicorn.Config(
        _hello, host="127.0.0.1", port=0, http=BoundedHttpToolsProtocol, lifespan="off", log_level="error"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), serving
            await asyncio.sleep(0.01)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
        get_settings.cache_clear()


async def _connect(port: int, send: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if send:
        writer.write(send)
        await writer.drain()
    return reader, writer


async def _closed(reader: asyncio.StreamReader, within: float) -> bool:
    """Whether the server closed the connection (within ``within`` seconds)."""
    try:
        return await asyncio.wait_for(reader.read(1), within) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


async def _answered(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(REQUEST)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    body = await asyncio.wait_for(reader.readexactly(5), 5)
    assert body == b"hello"
    return head.split(b"\r\n", 1)[0]


def test_a_client_slow_to_send_its_headers_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_slow_clients(monkeypatch))


async def _slow_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    async for port in _serve(monkeypatch, max_connections=100, header_timeout=0.4):
        silent, silent_writer = await _connect(port)
        half, half_writer = await _connect(port, b"GET / HTTP/1.1\r\nHost: te")
        prompt, prompt_writer = await _connect(port)
        assert await _answered(prompt, prompt_writer) == b"HTTP/1.1 200 OK"

        assert await _closed(silent, within=3)
        assert await _closed(half, within=3)
        # A kept-alive connection's clock starts again with its next request: answered twice.
        assert await _answered(prompt, prompt_writer) == b"HTTP/1.1 200 OK"
        for writer in (silent_writer, half_writer, prompt_writer):
            writer.close()


def test_past_the_bound_the_longest_waiting_make_room(monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_flood(monkeypatch))


async def _flood(monkeypatch: pytest.MonkeyPatch) -> None:
    async for port in _serve(monkeypatch, max_connections=10, header_timeout=60):
        held = [await _connect(port) for _ in range(15)]
        await asyncio.sleep(0.2)  # the server has taken them all

        oldest_closed = [await _closed(reader, within=1) for reader, _ in held[:4]]
        newest_closed = await _closed(held[-1][0], within=0.3)
        assert oldest_closed == [True, True, True, True]
        assert not newest_closed  # still waiting, within its header timeout

        # A client that sends its request at once gets in and is answered.
        reader, writer = await _connect(port)
        assert await _answered(reader, writer) == b"HTTP/1.1 200 OK"
        for _, held_writer in [*held, (reader, writer)]:
            held_writer.close()


def test_the_descriptor_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    now = raise_descriptor_limit()
    assert now == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert now >= soft
    if hard != resource.RLIM_INFINITY:
        assert now == hard
