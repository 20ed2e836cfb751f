"""How ``keyplane serve`` holds its connections: a bounded time to send a request's headers,
and a bounded number of connections per process.

uvicorn times out idle keep-alive connections, but not one that is slow to send a request:
a client that connects, or sends half a request line, and stops holds its descriptor for
good. Enough of them (1,100 did it under the default descriptor limit of 1,024) lock every
new client out. uvicorn's ``limit_concurrency`` does not help: it answers 503 only once a
request's headers are in, which these never are, and it counts them all the same.

``BoundedHttpToolsProtocol`` is uvicorn's httptools protocol with the two bounds it lacks:

- **header timeout**: a connection has ``header_timeout_seconds`` from when it is opened
  (or from a request's first byte, on a kept-alive connection) to finish the headers; a
  sweep once a second (or more often, for a shorter timeout) closes those that did not;
- **connection bound**: past ``max_connections``, the connections that have waited longest
  for their headers are closed to make room (a tenth of the bound at a time, so a flood
  costs one scan per tenth; the new one itself, when every other connection is in the
  middle of a request), so a flood of half-open connections evicts its own members, while
  a client that sends its request at once is in and out meanwhile.

Cost per request: an attribute set when a request starts and cleared when its headers are
in (the sweep is one timer per process over the connections, not per request).
"""

from __future__ import annotations

import asyncio
import heapq
import resource
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from keyplane.config import get_settings

SWEEP_SECONDS = 1.0
"""Longest interval between two sweeps for connections past their header timeout."""
EVICTED_SHARE = 10
"""Past the bound, one connection in this many of the bound is closed at once."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a header timeout and a bound on connections
    (``keyplane serve`` passes it as ``http=``)."""

    sweeping = False
    """Whether this process's sweep runs (a process runs one server; the first connection
    starts it)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        HttpToolsProtocol.__init__(self, config, server_state, app_state, _loop)
        settings = get_settings()
        self.max_connections = settings.max_connections
        self.waiting_since: float | None = None
        """When it began to wait for a request's headers (loop time), or None."""
        if not BoundedHttpToolsProtocol.sweeping:
            BoundedHttpToolsProtocol.sweeping = True
            _sweep(self.loop, self.connections, settings.header_timeout_seconds)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn narrows it
        HttpToolsProtocol.connection_made(self, transport)
        self.waiting_since = self.loop.time()
        if len(self.connections) > self.max_connections:
            room = max(1, self.max_connections // EVICTED_SHARE)
            _evict(self.connections, len(self.connections) - self.max_connections + room)

    # The two below run on every request: parents are called directly (``super()`` costs
    # more than the rest), and the state is one attribute.

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        if self.waiting_since is None:  # a kept-alive connection's next request
            self.waiting_since = self.loop.time()

    def on_headers_complete(self) -> None:
        self.waiting_since = None
        HttpToolsProtocol.on_headers_complete(self)

    def stop_waiting(self) -> None:
        """Close it: it waited too long, or longest when room was needed."""
        self.waiting_since = None
        self.transport.close()


def _waiting(connections: set[Any]) -> list[BoundedHttpToolsProtocol]:
    return [c for c in connections if isinstance(c, BoundedHttpToolsProtocol) and c.waiting_since is not None]


def _evict(connections: set[Any], count: int) -> None:
    """Close the ``count`` connections that have waited longest for their headers."""
    for connection in heapq.nsmallest(count, _waiting(connections), key=lambda c: c.waiting_since or 0.0):
        connection.stop_waiting()


def _sweep(loop: asyncio.AbstractEventLoop, connections: set[Any], timeout: float) -> None:
    """Close the connections past their header timeout, then come back in a while."""
    deadline = loop.time() - timeout
    for connection in _waiting(connections):
        if connection.waiting_since is not None and connection.waiting_since <= deadline:
            connection.stop_waiting()
    loop.call_later(min(SWEEP_SECONDS, timeout / 4), _sweep, loop, connections, timeout)


def raise_descriptor_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (workers inherit it),
    so connections are bounded by ``max_connections`` rather than by a default of 1,024;
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft
        return hard
    return soft
