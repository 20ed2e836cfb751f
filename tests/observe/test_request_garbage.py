"""A request leaves nothing for the garbage collector: its objects go by reference counting
the moment it ends.

The server keeps, per request, an object that holds the scope and whose bound method is the
``send`` it gives the application (uvicorn's ``RequestResponseCycle``). Keyplane keeps the
request's ``Exchange`` in the scope and the ``send`` in the exchange: a cycle, until the
exchange lets go at the end. Left in place, every request's objects waited for the
collector, whose passes under load stopped the event loop often enough to put verify's p99
at 70-120 ms instead of about 15 ms (``bench/``). The collector is off while these requests
run, so an object that outlives its request here is one only the collector would free.
"""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Scope

from keyplane.app import Keyplane
from tests import factories
from tests.conftest import CLIENT_ADDRESS
from tests.factories import Tenant


class _ServerCycle:
    """What a server keeps for one request: the scope, and ``send`` as a method of its own."""

    def __init__(self, scope: Scope, body: bytes) -> None:
        self.scope = scope
        self.body = body
        self.status: int | None = None

    async def receive(self) -> Message:
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]


def _scope(method: str, path: str, key: str, body: bytes) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": (CLIENT_ADDRESS, 40000),
        "server": ("testserver", 80),
        "state": {},
    }


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _left_behind(
    app: FastAPI, method: str, path: str, key: str, body: bytes
) -> tuple[int | None, bool]:
    """(the status answered, whether the server's per-request object outlived the request)."""
    cycle = _ServerCycle(_scope(method, path, key, body), body)
    await app(cycle.scope, cycle.receive, cycle.send)
    status = cycle.status
    gone = weakref.ref(cycle)
    del cycle
    return status, gone() is not None


async def test_a_lean_verification_leaves_no_garbage(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, collector_off: None
) -> None:
    assert isinstance(app, Keyplane)
    made = await factories.api_key(client, acme, name="garbage")
    body = json.dumps({"key": made["key"]}).encode()
    path = f"{acme.base}/api-keys/verify"
    await _left_behind(app, "POST", path, acme.key, body)  # caches filled
    assert app.hot is not None
    answered = app.hot.answered

    status, kept = await _left_behind(app, "POST", path, acme.key, body)

    assert status == 200
    assert app.hot.answered == answered + 1, "a lean handler answered"
    assert not kept, "the request's objects wait for the garbage collector"


async def test_a_framework_request_leaves_no_garbage(app: FastAPI, acme: Tenant, collector_off: None) -> None:
    """An ordinary route (FastAPI's path) lets go of the server's object just the same."""
    status, kept = await _left_behind(app, "GET", f"{acme.base}/api-keys", acme.key, b"")

    assert status == 200
    assert not kept, "the request's objects wait for the garbage collector"
