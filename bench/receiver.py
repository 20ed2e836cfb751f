"""The webhook receiver of ``python -m bench``: an HTTP/1.1 server on 127.0.0.1 (a free port)
that the benchmark starts and stops itself, with an event loop of its own in a thread. It
answers every request 200 at once (once it has counted it), and counts what it was sent:
deliveries, the distinct webhook events among them (a delivery may come twice: at least once), the license
validations among those, and the deliveries whose ``Keygen-Signature`` does not verify with
the account's public key (what a vendor's receiver checks: ``signature_problem``, which the
webhook tests use too).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import h11
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNED_HEADERS = "(request-target) host date digest"
VALIDATION = "license.validation.succeeded"
_READ = 65_536
_ANSWER = b"ok"


def signature_problem(
    key: Ed25519PublicKey, method: str, target: str, headers: Mapping[str, str], body: bytes
) -> str | None:
    """Why a webhook request is not signed by ``key`` (None when it is): its ``Digest`` must be
    the SHA-256 of ``body``, and ``Keygen-Signature`` an Ed25519 signature over its request
    target, ``Host``, ``Date`` and ``Digest`` as the receiver got them. ``headers`` are
    keyed by lower-case name."""
    digest = "sha-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    if headers.get("digest") != digest:
        return "the Digest is not the body's"
    header = headers.get("keygen-signature")
    if header is None:
        return "no Keygen-Signature"
    params = {
        name.strip(): value.strip().strip('"')
        for name, _, value in (part.partition("=") for part in header.split(", "))
    }
    if params.get("algorithm") != "ed25519":
        return f"algorithm {params.get('algorithm')!r}"
    if params.get("headers") != SIGNED_HEADERS:
        return f"signed headers {params.get('headers')!r}"
    if "host" not in headers or "date" not in headers:
        return "no Host or Date"
    text = (
        f"(request-target): {method.lower()} {target}\n"
        f"host: {headers['host']}\ndate: {headers['date']}\ndigest: {digest}"
    )
    try:
        key.verify(base64.b64decode(params.get("signature", ""), validate=True), text.encode())
    except (InvalidSignature, ValueError):
        return "the signature does not verify"
    return None


@dataclass(frozen=True)
class Tally:
    """What the receiver had been sent at one moment."""

    deliveries: int
    distinct: int
    """Distinct webhook events (``data.id``) among the deliveries."""
    validations: int
    """Distinct deliveries of ``license.validation.succeeded``."""
    bad: int
    """Deliveries whose signature did not verify (or that were not a webhook event)."""


class Receiver:
    """Counts and checks deliveries; ``key`` is the account's public key (set before the
    endpoint is made: nothing is delivered before)."""

    def __init__(self) -> None:
        self.port = 0
        self.key: Ed25519PublicKey | None = None
        self.deliveries = 0
        self.bad = 0
        self.problems: list[str] = []
        """The first few bad deliveries' problems, to print."""
        self._seen: set[str] = set()
        self.validations = 0
        self.last_at = 0.0
        """``time.monotonic()`` when the latest new webhook event came."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bench-hooks"

    def tally(self) -> Tally:
        return Tally(self.deliveries, len(self._seen), self.validations, self.bad)

    def take(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> None:
        """Count one delivery, and check it."""
        self.deliveries += 1
        problem = (
            "no account key yet"
            if self.key is None
            else signature_problem(self.key, method, target, headers, body)
        )
        if problem is None:
            try:
                data = json.loads(body)["data"]
                delivery, event = str(data["id"]), str(data["attributes"]["event"])
            except (ValueError, KeyError, TypeError):
                problem = "not a webhook-events document"
            else:
                if delivery not in self._seen:
                    self._seen.add(delivery)
                    self.last_at = time.monotonic()
                    self.validations += event == VALIDATION
        if problem is not None:
            self.bad += 1
            if len(self.problems) < 5:
                self.problems.append(problem)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = h11.Connection(h11.SERVER)
        try:
            while True:  # a connection may carry several requests
                request: h11.Request | None = None
                body = bytearray()
                while True:
                    event = connection.next_event()
                    if event is h11.NEED_DATA:
                        connection.receive_data(await reader.read(_READ))
                    elif isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                        break
                if request is None:
                    return
                # Counted before it is answered: a sender that has its 200 has been counted.
                self.take(
                    request.method.decode(),
                    request.target.decode(),
                    {name.decode().lower(): value.decode("latin-1") for name, value in request.headers},
                    bytes(body),
                )
                headers = [("Content-Length", str(len(_ANSWER)))]
                writer.write(connection.send(h11.Response(status_code=200, headers=headers)) or b"")
                writer.write(connection.send(h11.Data(data=_ANSWER)) or b"")
                writer.write(connection.send(h11.EndOfMessage()) or b"")
                await writer.drain()
                if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                    return
                connection.start_next_cycle()
        except (OSError, h11.ProtocolError):
            return
        finally:
            writer.close()


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A receiver listening on a free port of 127.0.0.1, in a thread with its own event loop,
    until the block ends."""
    receiver = Receiver()
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stopping: asyncio.Event | None = None
    failed: list[BaseException] = []

    async def run() -> None:
        nonlocal stopping
        stopping = asyncio.Event()
        try:
            server = await asyncio.start_server(receiver._serve, "127.0.0.1", 0)
        except OSError as error:
            failed.append(error)
            ready.set()
            return
        receiver.port = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await stopping.wait()

    thread = threading.Thread(
        target=loop.run_until_complete, args=(run(),), name="bench-receiver", daemon=True
    )
    thread.start()
    if not ready.wait(10) or failed:
        raise SystemExit(f"the webhook receiver did not start: {failed[0] if failed else 'timeout'}")
    try:
        yield receiver
    finally:
        if stopping is not None:
            loop.call_soon_threadsafe(stopping.set)
        thread.join(10)
        with suppress(RuntimeError):
            loop.close()
