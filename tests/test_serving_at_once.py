"""``keyplane serve`` answers what the lean handlers answer from memory at once, in the
protocol (``keyplane.serving``), without an ASGI task: the bytes on the wire must be those
the framework writes for the same request (apart from the date and the request id), the
access line and the request id must be the same as on the task's path, and anything else
(not in memory, pipelined behind it, another route) must still be answered, in order.

Requests go through ``BoundedHttpToolsProtocol`` over an in-memory transport: what it
writes is what a client would read."""

from __future__ import annotations

import asyncio
import io
import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from uvicorn.config import Config
from uvicorn.server import ServerState

from keyplane.app import Keyplane, create_app
from keyplane.config import Settings
from keyplane.serving import BoundedHttpToolsProtocol
from tests import factories
from tests.factories import Tenant

_VARYING = re.compile(
    rb"^(date|x-request-id|keygen-date|keygen-signature|digest|keygen-digest): .*$", re.MULTILINE
)
_VARYING_BODY = re.compile(rb'"(ts|lastValidated)":"[^"]*"')


class _Transport:
    """What the protocol writes, kept; answers are counted by their ``Content-Length``."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None

    def answers(self) -> list[bytes]:
        """Every complete answer written so far."""
        found, rest = [], bytes(self.written)
        while b"\r\n\r\n" in rest:
            head, _, after = rest.partition(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
            if len(after) < length:
                break
            found.append(head + b"\r\n\r\n" + after[:length])
            rest = after[length:]
        return found


def _connection(app: FastAPI) -> tuple[BoundedHttpToolsProtocol, _Transport]:
    config = Config(
        app, lifespan="off", access_log=False, date_header=False, proxy_headers=False, log_level="warning"
    )
    config.load()
    state = ServerState()
    state.default_headers = config.encoded_headers  # as ``uvicorn.Server`` sets them
    protocol = BoundedHttpToolsProtocol(config, state, {}, asyncio.get_running_loop())
    transport = _Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport


async def _all_answered(transport: _Transport, count: int) -> list[bytes]:
    for _ in range(500):
        if len(transport.answers()) >= count:
            return transport.answers()
        await asyncio.sleep(0.01)
    raise AssertionError(bytes(transport.written))


def _request(path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: testserver", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join([*lines, f"Content-Length: {len(body)}"]) + "\r\n\r\n").encode() + body


def _comparable(answer: bytes) -> bytes:
    """The answer without what differs between any two: the time, what signs it, the id."""
    return _VARYING_BODY.sub(rb'"\1":"<varies>"', _VARYING.sub(rb"\1: <varies>", answer))


@pytest.fixture
async def cold(settings: Settings) -> Any:
    """The same service with every route served by the framework."""
    application = create_app(settings.model_copy(update={"hot_paths": False}))
    async with application.router.lifespan_context(application):
        yield application


async def test_a_verification_in_memory_is_written_at_once_as_the_framework_writes_it(
    app: FastAPI, cold: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    assert isinstance(app, Keyplane)
    assert app.observer is not None
    assert app.observer.access is not None
    key = await factories.api_key(client, acme, name="customer", scopes=["READ"])
    headers = {"Authorization": f"Bearer {acme.key}", "Content-Type": "application/json"}
    request = _request(f"{acme.base}/api-keys/verify", headers, json.dumps({"key": key["key"]}).encode())

    protocol, transport = _connection(app)
    protocol.data_received(request)  # not in memory yet: the task's path, which fills the caches
    assert transport.answers() == []
    await _all_answered(transport, 1)
    lines = io.StringIO()
    app.observer.access.stream = lines
    tagged = request.replace(b"Host:", b"X-Request-Id: at-once-1\r\nHost:", 1)
    tasks = asyncio.all_tasks()
    protocol.data_received(tagged)
    assert asyncio.all_tasks() == tasks  # answered without an ASGI task
    assert len(transport.answers()) == 1  # written when the loop's turn has read every connection
    at_once = (await _all_answered(transport, 2))[1]
    assert b"x-request-id: at-once-1\r\n" in at_once
    assert json.loads(at_once.partition(b"\r\n\r\n")[2])["code"] == "VALID"

    cold_protocol, cold_transport = _connection(cold)
    cold_protocol.data_received(request)
    framework = (await _all_answered(cold_transport, 1))[0]
    assert _comparable(at_once) == _comparable(framework)

    await asyncio.sleep(0)  # the access lines of a turn are written when it ends
    line = json.loads(lines.getvalue().splitlines()[-1])
    assert line["requestId"] == "at-once-1"
    assert line["route"] == "/v1/accounts/{account}/api-keys/verify"
    assert line["status"] == 200
    assert line["account"] == str(acme.id)
    assert line["credential"] is not None


async def test_a_validation_in_memory_is_written_at_once_signed_as_the_framework_signs_it(
    app: FastAPI, cold: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    product = await factories.product(client, acme)
    policy = await factories.policy(client, acme, product, strict=True)
    license = await factories.license(client, acme, policy)
    jsonapi = {"Content-Type": "application/vnd.api+json", "Accept": "application/vnd.api+json"}
    body = json.dumps({"meta": {"key": license["attributes"]["key"], "nonce": 7}}).encode()
    request = _request(f"{acme.base}/licenses/actions/validate-key", jsonapi, body)

    protocol, transport = _connection(app)
    protocol.data_received(request)  # the license is read (and cached) by the task's path
    await _all_answered(transport, 1)
    tasks = asyncio.all_tasks()
    protocol.data_received(request)
    assert asyncio.all_tasks() == tasks  # answered without an ASGI task
    at_once = (await _all_answered(transport, 2))[1]
    assert b"\r\nkeygen-signature: " in at_once
    assert json.loads(at_once.partition(b"\r\n\r\n")[2])["meta"]["nonce"] == 7

    cold_protocol, cold_transport = _connection(cold)
    cold_protocol.data_received(request)
    framework = (await _all_answered(cold_transport, 1))[0]
    assert _comparable(at_once) == _comparable(framework)


async def test_the_answers_of_a_turn_are_written_once_every_connection_is_read(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Answers given at once are written when the loop's turn ends, back to back (a client
    waiting for several is woken once, not once per answer), and not at all to a
    connection that closed meanwhile."""
    key = await factories.api_key(client, acme, name="customer")
    headers = {"Authorization": f"Bearer {acme.key}", "Content-Type": "application/json"}
    request = _request(f"{acme.base}/api-keys/verify", headers, json.dumps({"key": key["key"]}).encode())
    first, first_transport = _connection(app)
    first.data_received(request)
    await _all_answered(first_transport, 1)  # the caches are filled
    second, second_transport = _connection(app)
    gone, gone_transport = _connection(app)

    first.data_received(request)
    second.data_received(request)
    gone.data_received(request)
    gone_transport.closed = True  # the client went away before the turn ended
    assert (len(first_transport.answers()), len(second_transport.answers())) == (1, 0)
    await asyncio.sleep(0)

    assert len(first_transport.answers()) == 2
    assert len(second_transport.answers()) == 1
    assert gone_transport.written == bytearray()


async def test_answers_at_once_and_answers_of_the_application_keep_their_order(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Pipelined in one read: a verification answered at once, one the lean handler cannot
    answer from memory (a client address to check), a ping, and the first again. Each is
    answered, in the order asked, and the connection stays open."""
    key = await factories.api_key(client, acme, name="customer")
    headers = {"Authorization": f"Bearer {acme.key}", "Content-Type": "application/json"}
    url = f"{acme.base}/api-keys/verify"
    plain = _request(url, headers, json.dumps({"key": key["key"]}).encode())
    with_ip = _request(url, headers, json.dumps({"key": key["key"], "ip": "10.0.0.1"}).encode())
    ping = b"GET /v1/ping HTTP/1.1\r\nHost: testserver\r\n\r\n"
    protocol, transport = _connection(app)
    protocol.data_received(plain)
    await _all_answered(transport, 1)

    protocol.data_received(plain + with_ip + ping + plain)
    answers = await _all_answered(transport, 5)
    assert [answer.split(b"\r\n", 1)[0] for answer in answers] == [b"HTTP/1.1 200 OK"] * 5
    bodies = [json.loads(answer.partition(b"\r\n\r\n")[2]) for answer in answers[1:]]
    assert [body.get("code") or body.get("message") for body in bodies] == ["VALID", "VALID", "pong", "VALID"]
    assert not transport.closed


async def test_a_request_that_says_close_goes_the_usual_way(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    key = await factories.api_key(client, acme, name="customer")
    headers = {"Authorization": f"Bearer {acme.key}", "Content-Type": "application/json"}
    request = _request(f"{acme.base}/api-keys/verify", headers, json.dumps({"key": key["key"]}).encode())
    protocol, transport = _connection(app)
    protocol.data_received(request)
    await _all_answered(transport, 1)

    protocol.data_received(request.replace(b"Host:", b"Connection: close\r\nHost:", 1))
    assert len(transport.answers()) == 1  # not at once: the application answers, then closes
    last = (await _all_answered(transport, 2))[1]
    assert b"\r\nconnection: close\r\n" in last
    assert json.loads(last.partition(b"\r\n\r\n")[2])["code"] == "VALID"
    for _ in range(100):
        if transport.closed:
            break
        await asyncio.sleep(0.01)
    assert transport.closed
