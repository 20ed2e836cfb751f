"""The Python client's own rules, without a server: how an import is cut into requests, how
each of Keyplane's error envelopes becomes a typed exception, and that the sync and async
clients offer the same calls."""

from __future__ import annotations

import inspect
import json
from typing import Any

import httpx
import pytest
from keyplane_client import (
    ApiKeys,
    AsyncApiKeys,
    AsyncEvents,
    AsyncLicenses,
    AsyncPool,
    AsyncUsers,
    BadRequest,
    Events,
    KeyplaneError,
    Licenses,
    NotFound,
    Pool,
    RateLimited,
    Unprocessable,
    Users,
)
from keyplane_client._pool import BODY_BUDGET, batches
from keyplane_client.errors import error_from


@pytest.mark.parametrize(
    ("keys", "batch", "sizes"),
    [
        (["k"] * 5, 2, [2, 2, 1]),
        (["k"] * 1_000, 1_000, [1_000]),
        (["k"] * 1_001, 1_000, [1_000, 1]),
        ([], 10, []),
        (["x" * 1024] * 1_000, 1_000, [488, 488, 24]),
        # A key written escaped (six characters each) weighs what it weighs in the body.
        (["\x01" * 1024] * 200, 1_000, [84, 84, 32]),
    ],
)
def test_an_import_is_cut_by_count_and_by_body_size(keys: list[str], batch: int, sizes: list[int]) -> None:
    parts = list(batches(iter(keys), batch))
    assert [len(part) for part in parts] == sizes
    assert [key for part in parts for key in part] == keys
    for part in parts:
        body = json.dumps({"data": [{"type": "keys", "attributes": {"key": key}} for key in part]})
        assert len(body) <= BODY_BUDGET + 1024


@pytest.mark.parametrize("batch", [0, -1, 1_001])
def test_a_batch_size_keyplane_does_not_take_is_refused(batch: int) -> None:
    with pytest.raises(ValueError, match="batch must be between 1 and 1000"):
        list(batches(["KEY-0000-0001"], batch))


def _answer(status: int, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers)


JSONAPI_NOT_FOUND = {
    "meta": {"id": "req-1"},
    "errors": [{"title": "Not found", "detail": "The requested license was not found", "code": "NOT_FOUND"}],
}
JSONAPI_RULE = {
    "meta": {"id": "req-2"},
    "errors": [
        {
            "title": "Unprocessable resource",
            "detail": "must exist",
            "code": "POLICY_NOT_FOUND",
            "source": {"pointer": "/data/relationships/policy"},
        },
        {"title": "Unprocessable resource", "detail": "is too long", "code": "NAME_TOO_LONG"},
    ],
}
JSONAPI_PARAMETER = {
    "meta": {"id": "req-3"},
    "errors": [
        {
            "title": "Bad request",
            "detail": "must be one of: ...",
            "code": "PARAMETER_INVALID",
            "source": {"parameter": "whodunnit[type]"},
        }
    ],
}
PLAIN = {
    "status": 404,
    "error": {"code": "NOT_FOUND", "message": "no such key", "field": None},
    "requestId": "r",
}


ENVELOPES: dict[str, tuple[httpx.Response, type[KeyplaneError], str, str, str | None, str | None]] = {
    "json:api": (
        _answer(404, JSONAPI_NOT_FOUND),
        NotFound,
        "NOT_FOUND",
        "The requested license was not found",
        None,
        "req-1",
    ),
    "json:api, first of two": (
        _answer(422, JSONAPI_RULE),
        Unprocessable,
        "POLICY_NOT_FOUND",
        "must exist",
        "/data/relationships/policy",
        "req-2",
    ),
    "json:api parameter": (
        _answer(400, JSONAPI_PARAMETER),
        BadRequest,
        "PARAMETER_INVALID",
        "must be one of: ...",
        "whodunnit[type]",
        "req-3",
    ),
    "plain": (_answer(404, PLAIN), NotFound, "NOT_FOUND", "no such key", None, "r"),
    "no errors": (
        _answer(429, {"meta": {}, "errors": []}, **{"Retry-After": "7"}),
        RateLimited,
        "HTTP_429",
        "Too Many Requests",
        None,
        None,
    ),
    "a proxy's page": (
        _answer(502, b"<html>bad gateway</html>", **{"X-Request-Id": "edge"}),
        KeyplaneError,
        "HTTP_502",
        "Bad Gateway",
        None,
        "edge",
    ),
    "errors not a list": (
        _answer(422, {"errors": "x"}),
        Unprocessable,
        "HTTP_422",
        "Unprocessable Entity",
        None,
        None,
    ),
}
"""An answer, and the exception it raises: its class, code, message, field and request id."""


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_each_envelope_becomes_a_typed_error(name: str) -> None:
    answer, kind, code, message, field, request_id = ENVELOPES[name]
    error = error_from(answer)
    assert type(error) is kind
    assert (error.status, error.code, error.message, error.field, error.request_id) == (
        answer.status_code,
        code,
        message,
        field,
        request_id,
    )
    if isinstance(error, RateLimited):
        assert error.retry_after == 7


@pytest.mark.parametrize(
    ("sync", "async_"),
    [
        (ApiKeys, AsyncApiKeys),
        (Licenses, AsyncLicenses),
        (Pool, AsyncPool),
        (Users, AsyncUsers),
        (Events, AsyncEvents),
    ],
)
def test_both_clients_offer_the_same_calls_with_the_same_arguments(sync: type, async_: type) -> None:
    def calls(cls: type) -> dict[str, list[tuple[str, Any, Any]]]:
        return {
            name: [
                (parameter.name, parameter.kind, parameter.default)
                for parameter in inspect.signature(method).parameters.values()
            ]
            for name, method in vars(cls).items()
            if callable(method) and not name.startswith("_")
        }

    assert calls(sync) == calls(async_)
    assert all(
        inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method) or name == "list"
        for name, method in vars(async_).items()
        if callable(method) and not name.startswith("_")
    )
