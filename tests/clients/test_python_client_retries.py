"""The Python client's retries, against a small HTTP server that answers from a script (a 503,
a connection closed without an answer, then the real answer): safe calls are sent again, a
create never is, and ``Retry-After`` sets the wait."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from keyplane_client import KeyplaneError, Retries, Unavailable, Unreachable
from keyplane_client._api_keys import create, get

from tests.clients.python_client import KINDS, Connect, Kind, clients

Answer = tuple[int, dict[str, str], bytes] | None
"""A status, headers and body; None: close the connection without answering."""

BUSY: Answer = (
    503,
    {"Retry-After": "0", "Content-Type": "application/json"},
    json.dumps(
        {
            "status": 503,
            "error": {"code": "SERVICE_UNAVAILABLE", "message": "retry shortly", "field": None},
            "requestId": "req-503",
        }
    ).encode(),
)
VALID: Answer = (
    200,
    {"Content-Type": "application/json"},
    b'{"valid": true, "code": "VALID", "detail": "ok"}',
)
DROP: Answer = None


class Script:
    """What the stub answers, in order, and the requests it saw (method and path)."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.seen: list[str] = []


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            script.seen.append(f"{self.command} {self.path}")
            found = script.answers.pop(0)
            if found is None:
                self.close_connection = True
                return
            status, headers, body = found
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def stub(script: Script) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(params=KINDS)
async def connect(request: pytest.FixtureRequest) -> AsyncIterator[Connect]:
    kind: Kind = request.param
    async with clients(kind, Retries(attempts=2, backoff=0.01)) as made:
        yield made


async def test_a_safe_call_is_sent_again_after_a_503_and_a_lost_connection(connect: Connect) -> None:
    script = Script(BUSY, DROP, VALID)
    with stub(script) as url:
        verified = await connect(url, "kp_admin").call("verify", "kp_customer")
    assert (verified.valid, verified.code) == (True, "VALID")
    assert script.seen == ["POST /v1/api-keys/verify"] * 3


async def test_the_last_refusal_is_raised_once_the_retries_are_spent(connect: Connect) -> None:
    script = Script(BUSY, BUSY, BUSY)
    with stub(script) as url, pytest.raises(Unavailable) as busy:
        await connect(url, "kp_admin").call("delete", "0193b1e2-0000-7000-8000-000000000007")
    assert (busy.value.status, busy.value.code, busy.value.request_id) == (
        503,
        "SERVICE_UNAVAILABLE",
        "req-503",
    )
    assert busy.value.retry_after == 0
    assert len(script.seen) == 3

    script = Script(DROP, DROP, DROP)
    with stub(script) as url, pytest.raises(Unreachable) as lost:
        await connect(url, "kp_admin").call("get", "0193b1e2-0000-7000-8000-000000000007")
    assert (lost.value.status, lost.value.code) == (None, "UNREACHABLE")
    assert script.seen == ["GET /v1/api-keys/0193b1e2-0000-7000-8000-000000000007"] * 3


async def test_a_create_is_never_sent_twice(connect: Connect) -> None:
    script = Script(BUSY)
    with stub(script) as url, pytest.raises(Unavailable):
        await connect(url, "kp_admin").call("create", name="once")
    assert script.seen == ["POST /v1/api-keys"]

    script = Script(DROP)
    with stub(script) as url, pytest.raises(Unreachable):
        await connect(url, "kp_admin").call("create", name="once")
    assert script.seen == ["POST /v1/api-keys"]


def test_retry_after_sets_the_wait_within_the_longest() -> None:
    retries = Retries(attempts=2, backoff=0.5, longest=10)
    safe = get("0193b1e2-0000-7000-8000-000000000007")
    busy = httpx.Response(503, headers={"Retry-After": "3"})
    assert retries.after_answer(safe, 0, busy) == 3
    assert retries.after_answer(safe, 0, httpx.Response(503, headers={"Retry-After": "3600"})) == 10
    backoff = retries.after_answer(safe, 1, httpx.Response(503))
    assert backoff is not None
    assert 0.5 <= backoff <= 1  # the backoff doubled once, with jitter of up to half
    assert retries.after_answer(safe, 2, busy) is None  # the retries are spent
    assert retries.after_answer(safe, 0, httpx.Response(500)) is None  # only a 503 says "retry"
    assert retries.after_answer(create(name="once"), 0, busy) is None


async def test_an_answer_not_in_keyplanes_envelope_still_raises_a_keyplane_error(connect: Connect) -> None:
    # What a proxy in front of Keyplane may answer: HTML, no code, no request id in the body.
    script = Script(
        (502, {"Content-Type": "text/html", "X-Request-Id": "req-proxy"}, b"<h1>Bad gateway</h1>")
    )
    with stub(script) as url, pytest.raises(KeyplaneError) as failed:
        await connect(url, "kp_admin").call("get", "0193b1e2-0000-7000-8000-000000000007")
    assert type(failed.value) is KeyplaneError
    assert (failed.value.status, failed.value.code, failed.value.request_id) == (502, "HTTP_502", "req-proxy")
    assert len(script.seen) == 1  # only a 503 says "retry"
