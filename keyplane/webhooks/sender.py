"""One webhook request: ``POST`` over HTTP/1.1 to an address already checked, with the TLS
name and the ``Host`` of the endpoint's URL (so the connection goes where the check looked,
whatever the name resolves to by then). No redirects are followed, and no more than the
first ``LIMIT`` bytes of the answer's body are read.

Written on asyncio's streams and h11 (the HTTP/1.1 state machine the server's uvicorn runs
on) rather than a client library: a webhook needs none of a client's proxies or redirects,
each of which would have to be turned off, and its connections may only be reused for the
address its delivery has just checked (``Connections``).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from contextlib import suppress
from dataclasses import dataclass

import h11

from keyplane.webhooks.addresses import IPAddress, Target

LIMIT = 2048
"""Bytes of a receiver's answer kept (Keygen's limit)."""
_READ = 65_536


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    """Its first ``LIMIT`` bytes."""


_TLS: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    global _TLS
    if _TLS is None:
        _TLS = ssl.create_default_context()
    return _TLS


def host_header(target: Target) -> str:
    """``Host`` as a client sends it: the port only when it is not the scheme's."""
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


async def _answer(connection: h11.Connection, reader: asyncio.StreamReader, wait: float) -> Answer:
    status: int | None = None
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            # A timeout scope, not ``wait_for``: no task per read, so no extra turn of a busy
            # event loop before each one.
            async with asyncio.timeout(wait):
                data = await reader.read(_READ)
            connection.receive_data(data)
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) >= LIMIT:
                break
        elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
            break
    if status is None:
        raise h11.RemoteProtocolError("the connection closed before an answer")
    return Answer(status, bytes(body[:LIMIT]))


Place = tuple[str, str, int, str]
"""Where a connection goes: the scheme, the URL's host (the TLS name and ``Host``), the port
and the address checked for this delivery."""


@dataclass(slots=True)
class _Open:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    connection: h11.Connection
    idle_since: float = 0.0


class Connections:
    """Connections kept open between deliveries to the same place (HTTP/1.1 keep-alive), a
    few per place: a connection is only ever reused for the address the delivery has just
    checked, with the same TLS name. One is kept only when its exchange ended cleanly (the
    whole answer read, neither side closing), and for ``IDLE`` seconds at most."""

    IDLE = 4.0
    KEPT = 4

    def __init__(self) -> None:
        self._idle: dict[Place, list[_Open]] = {}

    def take(self, place: Place) -> _Open | None:
        kept = self._idle.get(place)
        now = time.monotonic()
        while kept:
            found = kept.pop()
            if now - found.idle_since < self.IDLE and not (
                found.writer.is_closing() or found.reader.at_eof()
            ):
                return found
            found.writer.close()
        return None

    def give_back(self, place: Place, used: _Open) -> None:
        kept = self._idle.setdefault(place, [])
        if len(kept) >= self.KEPT:
            used.writer.close()
            return
        used.idle_since = time.monotonic()
        kept.append(used)

    def close(self) -> None:
        for kept in self._idle.values():
            for each in kept:
                each.writer.close()
        self._idle.clear()


async def _exchange(
    used: _Open, target: Target, path: str, headers: list[tuple[str, str]], body: bytes, wait: float
) -> Answer:
    connection = used.connection
    sent = [("Host", host_header(target)), *headers, ("Content-Length", str(len(body)))]
    writer = used.writer
    # One write (so one send on the socket) for the head, the body and the end.
    request = (
        connection.send(h11.Request(method="POST", target=path, headers=sent)),
        connection.send(h11.Data(data=body)),
        connection.send(h11.EndOfMessage()),
    )
    writer.write(b"".join(part or b"" for part in request))
    async with asyncio.timeout(wait):
        await writer.drain()
    return await _answer(connection, used.reader, wait)


async def _close(used: _Open) -> None:
    used.writer.close()
    with suppress(Exception):
        await asyncio.wait_for(used.writer.wait_closed(), 1.0)


async def post(
    target: Target,
    address: IPAddress,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    wait: float,
    connections: Connections | None = None,
) -> Answer:
    """Send ``body`` to ``address`` as a request for ``target`` (``wait`` bounds the
    connection and each read; the whole exchange is bounded by three of them), on a
    connection of ``connections`` to that address if one is open (else a new one, kept
    there afterwards if it can carry another request)."""
    place: Place = (target.scheme, target.host, target.port, str(address))
    async with asyncio.timeout(3 * wait):
        if connections is not None and (kept := connections.take(place)) is not None:
            try:
                answer = await _exchange(kept, target, path, headers, body, wait)
            except (OSError, h11.ProtocolError):
                # The receiver closed it while it was idle: once more, on a new connection
                # (the receiver may see this event twice: deliveries are at least once).
                await _close(kept)
            except BaseException:
                await _close(kept)
                raise
            else:
                await _keep_or_close(kept, place, connections)
                return answer
        tls = _tls() if target.scheme == "https" else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                str(address), target.port, ssl=tls, server_hostname=target.host if tls else None
            ),
            wait,
        )
        fresh = _Open(reader, writer, h11.Connection(h11.CLIENT))
        try:
            answer = await _exchange(fresh, target, path, headers, body, wait)
        except BaseException:
            await _close(fresh)
            raise
        await _keep_or_close(fresh, place, connections)
        return answer


async def _keep_or_close(used: _Open, place: Place, connections: Connections | None) -> None:
    connection = used.connection
    if connections is not None and connection.our_state is h11.DONE and connection.their_state is h11.DONE:
        connection.start_next_cycle()
        connections.give_back(place, used)
    else:
        await _close(used)
