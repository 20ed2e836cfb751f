"""The sender keeps a connection to a receiver open between deliveries when both sides can
(HTTP/1.1 keep-alive), for the address just checked alone, and gets past one the receiver
has closed meanwhile."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import h11

from keyplane.webhooks import sender
from keyplane.webhooks.addresses import Target


@dataclass
class KeepingReceiver:
    """Answers 200 to every request, on as many requests per connection as the client sends;
    counts the connections and the requests."""

    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    open: list[asyncio.StreamWriter] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open.append(writer)
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                body = bytearray()
                while True:
                    event = connection.next_event()
                    if event is h11.NEED_DATA:
                        connection.receive_data(await reader.read(65_536))
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.ConnectionClosed):
                        return
                    elif isinstance(event, h11.EndOfMessage):
                        break
                self.requests.append(bytes(body))
                writer.write(
                    connection.send(h11.Response(status_code=200, headers=[("Content-Length", "2")])) or b""
                )
                writer.write(connection.send(h11.Data(data=b"ok")) or b"")
                writer.write(connection.send(h11.EndOfMessage()) or b"")
                await writer.drain()
                connection.start_next_cycle()
        except (OSError, h11.ProtocolError):
            return
        finally:
            writer.close()

    def hang_up(self) -> None:
        """Close every connection (as a receiver does with an idle one)."""
        for writer in self.open:
            writer.close()


@asynccontextmanager
async def keeping() -> AsyncIterator[KeepingReceiver]:
    receiver = KeepingReceiver()
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    async with server:
        yield receiver


async def _post(receiver: KeepingReceiver, connections: sender.Connections, body: bytes) -> sender.Answer:
    target = Target(f"http://127.0.0.1:{receiver.port}/hooks", "http", "127.0.0.1", receiver.port)
    address = ipaddress.ip_address("127.0.0.1")
    return await sender.post(target, address, "/hooks", [], body, 2.0, connections)


async def test_deliveries_to_one_address_share_a_connection() -> None:
    connections = sender.Connections()
    async with keeping() as receiver:
        answers = [await _post(receiver, connections, f"{n}".encode()) for n in range(3)]
        connections.close()
    assert [answer.status for answer in answers] == [200, 200, 200]
    assert receiver.requests == [b"0", b"1", b"2"]
    assert receiver.connections == 1


async def test_a_connection_the_receiver_closed_is_replaced_and_the_delivery_made() -> None:
    connections = sender.Connections()
    async with keeping() as receiver:
        assert (await _post(receiver, connections, b"first")).status == 200
        receiver.hang_up()
        await asyncio.sleep(0.05)
        answer = await _post(receiver, connections, b"second")
        connections.close()
    assert answer.status == 200
    assert receiver.requests == [b"first", b"second"]
    assert receiver.connections == 2
