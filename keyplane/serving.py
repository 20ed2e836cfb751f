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

It also answers **at once** what the application can answer from memory
(``AnswersAtOnce``: the lean handlers' commonest cases, ``keyplane.hot``). For such a
request the ASGI task is held back until its body is in; then the application is asked
for the answer synchronously, and the protocol writes it in one piece, as uvicorn would
have written the same status, headers and body, once the loop's turn has read every ready
connection (when a task's answer is written too; written at once, each answer woke the
waiting client on its own, which cost a loopback server more than the answer). Anything
the application does not answer so (it returns None) gets its task, with the body already
read, exactly as uvicorn starts it. A task, its two ``send`` calls and the header checks
they make cost as much as the lean answer itself.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import logging
import resource
from typing import Any, NamedTuple, Protocol, runtime_checkable

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from keyplane.config import get_settings

SWEEP_SECONDS = 1.0
"""Longest interval between two sweeps for connections past their header timeout."""
EVICTED_SHARE = 10
"""Past the bound, one connection in this many of the bound is closed at once."""
AT_ONCE_BODY_BYTES = 4096
"""Largest body (by its ``Content-Length``) of a request held back to be answered at once:
the routes answered so take a few hundred bytes, and a held request's body is buffered
without its task reading it (uvicorn pauses reading past 64 KiB)."""

log = logging.getLogger("keyplane.serving")


class Answer(NamedTuple):
    """A 200 answered from memory: its body and its headers, in the order they are sent."""

    body: bytes
    headers: list[tuple[bytes, bytes]]


@runtime_checkable
class AnswersAtOnce(Protocol):
    """An ASGI application that answers some requests synchronously once their body is in
    (``keyplane.app.Keyplane``)."""

    def may_answer_at_once(self, scope: dict[str, Any]) -> bool:
        """Whether a request with this scope (headers in, body not yet) might be answered so."""

    def answer_at_once(self, scope: dict[str, Any], body: bytes) -> Answer | None:
        """The request's answer, or None for the application to answer it as usual."""


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
        self.at_once = self.app if isinstance(self.app, AnswersAtOnce) else None
        self.held: RequestResponseCycle | None = None
        """A request whose task waits for its body, to be answered at once if it can be."""
        self.holding = False
        """True while uvicorn reads a request's headers: the task it starts may be held."""
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
        self.holding = self.at_once is not None
        HttpToolsProtocol.on_headers_complete(self)
        self.holding = False

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        # uvicorn calls this when a request's headers are in, and for a pipelined request
        # when the one before it is answered (then it is never held).
        if self.holding and app is self.at_once and self._may_hold(cycle):
            self.held = cycle
            return
        HttpToolsProtocol._start_asgi_task(self, cycle, app)

    def _may_hold(self, cycle: RequestResponseCycle) -> bool:
        if not cycle.keep_alive or cycle.waiting_for_100_continue or self.at_once is None:
            return False
        size = None
        for name, value in cycle.scope["headers"]:
            if name == b"content-length":
                size = value
            elif name == b"transfer-encoding":
                return False
        if size is None or not size.isdigit() or int(size) > AT_ONCE_BODY_BYTES:
            return False
        return self.at_once.may_answer_at_once(cycle.scope)  # type: ignore[arg-type]  # uvicorn's TypedDict

    def on_message_complete(self) -> None:
        HttpToolsProtocol.on_message_complete(self)
        cycle = self.held
        if cycle is None:
            return
        self.held = None
        if not self._answered_at_once(cycle):
            HttpToolsProtocol._start_asgi_task(self, cycle, self.app)

    def _answered_at_once(self, cycle: RequestResponseCycle) -> bool:
        """Write the application's answer from memory, as uvicorn writes a response; False
        when it has none (or the client is not reading what it was sent)."""
        if self.at_once is None or self.flow.write_paused or cycle.disconnected or not cycle.keep_alive:
            return False
        try:
            # In a context of its own, as a task would run it (its request id is set there).
            scope: dict[str, Any] = cycle.scope  # type: ignore[assignment]  # uvicorn's TypedDict
            answer = contextvars.copy_context().run(self.at_once.answer_at_once, scope, bytes(cycle.body))
        except Exception:
            # The application answers it the usual way (and, if it fails again, as usual).
            log.exception("serving.at_once_failed")
            return False
        if answer is None:
            return False
        content = [STATUS_LINE[200]]
        for name, value in (*self.server_state.default_headers, *answer.headers):
            content += (name, b": ", value, b"\r\n")
        content += (b"\r\n", answer.body)
        cycle.response_started = cycle.response_complete = True
        # Written when the loop's turn has read every ready connection, not now: the answers
        # of a turn then go out back to back, so a client waiting for them is woken once,
        # not once per answer (on a loopback each wake-up of a sleeping reader cost this
        # process more than the answer itself). The order on this connection holds: what
        # it answers next is written by a callback or a task scheduled after this one.
        self.loop.call_soon(self._write_answer, b"".join(content))
        # The keep-alive timer of an answer before this one, in the same read (pipelined).
        self._unset_keepalive_if_required()
        self.on_response_complete()
        return True

    def _write_answer(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.held = None
        HttpToolsProtocol.connection_lost(self, exc)

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
