"""A real webhook receiver for tests: an HTTP/1.1 server on 127.0.0.1 (a free port) that
keeps every request it gets and answers with the statuses it is told, 200 once they run out."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

import h11


@dataclass(frozen=True)
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int = 0
    answers: list[int] = field(default_factory=list)
    """Statuses to answer with, in order."""
    received: list[Received] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def wait_for(self, count: int, seconds: float = 10.0) -> list[Received]:
        """The first ``count`` requests, once they have come (fails after ``seconds``)."""
        async with asyncio.timeout(seconds), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return self.received[:count]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = h11.Connection(h11.SERVER)
        request: h11.Request | None = None
        body = bytearray()
        try:
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(await reader.read(65_536))
                elif isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    break
            if request is None:
                return
            status = self.answers.pop(0) if self.answers else 200
            answer = f"status {status}".encode()
            headers = [("Content-Length", str(len(answer))), ("Connection", "close")]
            writer.write(connection.send(h11.Response(status_code=status, headers=headers)) or b"")
            writer.write(connection.send(h11.Data(data=answer)) or b"")
            writer.write(connection.send(h11.EndOfMessage()) or b"")
            await writer.drain()
            received = Received(
                request.method.decode(),
                request.target.decode(),
                {name.decode().lower(): value.decode() for name, value in request.headers},
                bytes(body),
            )
            async with self._arrived:
                self.received.append(received)
                self._arrived.notify_all()
        finally:
            writer.close()


@asynccontextmanager
async def receiving(port: int = 0) -> AsyncIterator[Receiver]:
    """A receiver listening until the block ends (on ``port``, or a free one)."""
    receiver = Receiver()
    server = await asyncio.start_server(receiver._serve, "127.0.0.1", port)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.close()
        await server.wait_closed()


@contextmanager
def in_thread(port: int) -> Iterator[Receiver]:
    """A receiver on ``port`` with an event loop of its own, for tests that block theirs
    (talking to a server in another process)."""
    made: list[Receiver] = []
    ready = threading.Event()
    done: asyncio.Future[None] | None = None
    loop = asyncio.new_event_loop()

    async def run() -> None:
        nonlocal done
        done = loop.create_future()
        async with receiving(port) as receiver:
            made.append(receiver)
            ready.set()
            await done

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the receiver did not start"
    try:
        yield made[0]
    finally:

        def finish() -> None:
            if done is not None:
                done.set_result(None)

        loop.call_soon_threadsafe(finish)
        thread.join(10)
        loop.close()
