"""One webhook request: ``POST`` over HTTP/1.1 to an address already checked, with the TLS
name and the ``Host`` of the endpoint's URL (so the connection goes where the check looked,
whatever the name resolves to by then). No redirects are followed, and no more than the
first ``LIMIT`` bytes of the answer's body are read.

Written on asyncio's streams and h11 (the HTTP/1.1 state machine the server's uvicorn runs
on) rather than a client library: a webhook needs one request per connection and none of
a client's pooling, proxies or redirects, each of which would have to be turned off.
"""

from __future__ import annotations

import asyncio
import ssl
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
            connection.receive_data(await asyncio.wait_for(reader.read(_READ), wait))
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


async def post(
    target: Target,
    address: IPAddress,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    wait: float,
) -> Answer:
    """Send ``body`` to ``address`` as a request for ``target`` (``wait`` bounds the
    connection and each read; the whole exchange is bounded by three of them)."""
    tls = _tls() if target.scheme == "https" else None
    async with asyncio.timeout(3 * wait):
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                str(address), target.port, ssl=tls, server_hostname=target.host if tls else None
            ),
            wait,
        )
        try:
            connection = h11.Connection(h11.CLIENT)
            sent = [
                ("Host", host_header(target)),
                *headers,
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ]
            writer.write(connection.send(h11.Request(method="POST", target=path, headers=sent)) or b"")
            writer.write(connection.send(h11.Data(data=body)) or b"")
            writer.write(connection.send(h11.EndOfMessage()) or b"")
            await asyncio.wait_for(writer.drain(), wait)
            return await _answer(connection, reader, wait)
        finally:
            writer.close()
            with suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
