"""The access line (one JSON object per request) and the request id it shares with the
``X-Request-Id`` header and error bodies, on lean and framework paths alike."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.app import Keyplane
from keyplane.observe.logs import JsonFormatter
from tests import factories
from tests.factories import Tenant, bearer

FIELDS = {"ts", "level", "logger", "event", "requestId", "method", "route", "status", "durationMs"}
FIELDS |= {"account", "credential"}


@pytest.fixture
def lines(app: FastAPI) -> Iterator[io.StringIO]:
    """What the application's access log writes (JSON, whatever stderr is)."""
    assert isinstance(app, Keyplane)
    assert app.observer is not None
    assert app.observer.access is not None
    access = app.observer.access
    saved = access.stream, access.as_json
    access.stream, access.as_json = io.StringIO(), True
    yield access.stream
    access.stream, access.as_json = saved


def written(app: FastAPI, stream: io.StringIO) -> list[dict[str, Any]]:
    assert isinstance(app, Keyplane)
    assert app.observer is not None
    assert app.observer.access is not None
    app.observer.access.flush()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_one_line_per_request_with_its_fields(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, lines: io.StringIO
) -> None:
    made = await factories.api_key(client, acme, name="backend")
    written(app, lines)
    lines.truncate(0)
    lines.seek(0)
    verify = {"key": str(made["key"])}
    responses = [
        await client.post(f"{acme.base}/api-keys/verify", json=verify, headers=bearer(acme.key))
        for _ in range(3)  # the first through the framework, the others lean
    ]
    responses.append(await client.get(f"/v1/api-keys/{made['id']}", headers=bearer(acme.key)))
    responses.append(await client.get("/v1/licenses/BETA-0001-XYZW", headers=bearer(acme.key)))
    logged = written(app, lines)
    assert len(logged) == len(responses)
    for line, response in zip(logged, responses, strict=True):
        assert set(line) == FIELDS, line
        assert line["level"] == "info"
        assert line["logger"] == "keyplane.access"
        assert line["requestId"] == response.headers["x-request-id"]
        assert line["status"] == response.status_code
        assert line["account"] == str(acme.id)
        assert isinstance(line["durationMs"], float)
        assert line["durationMs"] >= 0
    assert [line["route"] for line in logged] == [
        *["/v1/accounts/{account}/api-keys/verify"] * 3,
        "/v1/api-keys/{key_id}",
        "/v1/licenses/{license}",
    ]
    assert [line["method"] for line in logged] == ["POST"] * 3 + ["GET"] * 2
    admin_key_id = logged[0]["credential"]
    assert admin_key_id is not None
    assert all(line["credential"] == admin_key_id for line in logged)
    text = lines.getvalue()
    assert acme.key not in text
    assert str(made["key"]) not in text
    assert "BETA-0001" not in text


async def test_the_error_body_carries_the_request_id(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, lines: io.StringIO
) -> None:
    plain = await client.get(f"{acme.base}/api-keys/not-a-uuid", headers=bearer(acme.key))
    jsonapi = await client.get(f"{acme.base}/licenses/nope")
    mine = await client.get(f"{acme.base}/licenses/nope", headers={"X-Request-Id": "edge-7f3a.1:retry=2"})
    assert plain.status_code in (400, 404, 422)
    assert jsonapi.status_code == 401
    assert plain.json()["requestId"] == plain.headers["x-request-id"]
    assert jsonapi.json()["meta"]["id"] == jsonapi.headers["x-request-id"]
    assert plain.headers["x-request-id"] != jsonapi.headers["x-request-id"]
    assert mine.headers["x-request-id"] == "edge-7f3a.1:retry=2"
    assert mine.json()["meta"]["id"] == "edge-7f3a.1:retry=2"
    logged = written(app, lines)
    assert [line["requestId"] for line in logged] == [
        plain.headers["x-request-id"],
        jsonapi.headers["x-request-id"],
        "edge-7f3a.1:retry=2",
    ]
    assert logged[1]["account"] == str(acme.id)
    assert logged[1]["credential"] is None


@pytest.mark.parametrize(
    "sent",
    ['has "quotes"', "x" * 129, "-starts-with-a-dash", "kp_lookslikeacredential0000", "tab\there"],
)
async def test_an_insane_request_id_is_replaced(
    app: FastAPI, client: httpx.AsyncClient, lines: io.StringIO, sent: str
) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": sent})
    given = response.headers["x-request-id"]
    assert given != sent
    assert len(given) == 36
    (line,) = written(app, lines)
    assert line["requestId"] == given
    assert sent not in lines.getvalue()


async def test_a_path_no_route_takes_is_redacted(
    app: FastAPI, client: httpx.AsyncClient, lines: io.StringIO
) -> None:
    response = await client.get("/v1/licenses/actions/BETA-0001-XYZW/more")
    assert response.status_code in (404, 405)
    (line,) = written(app, lines)
    assert line["route"] == "/v1/licenses/actions/*/*"
    assert "BETA" not in lines.getvalue()


async def test_records_are_json_with_their_fields_and_request_id(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    captured: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(JsonFormatter().format(record))

    handler = Capture()
    logger = logging.getLogger("keyplane.test")
    logger.addHandler(handler)
    try:

        @app.get("/_test/log")
        async def log_something() -> dict[str, str]:
            logger.warning("test.event", extra={"attempt": 2, "bus": "redis"})
            return {}

        response = await client.get("/_test/log")
    finally:
        logger.removeHandler(handler)
    (record,) = (json.loads(line) for line in captured)
    assert record["event"] == "test.event"
    assert record["level"] == "warning"
    assert record["logger"] == "keyplane.test"
    assert record["attempt"] == 2
    assert record["bus"] == "redis"
    assert record["requestId"] == response.headers["x-request-id"]
