"""The Python client (``clients/python``) against the server's contract: every call it makes is
an operation of ``/openapi.json`` (its method, path and query parameters), every request body
it sends is one the server takes, every answer it reads is one the server sends. A change on
either side that breaks the other fails here, and the last test shows each kind of drift
is caught."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from keyplane_client import _api_keys as calls
from keyplane_client import _events, _licenses, _pool, _users
from keyplane_client import _wire as wire
from keyplane_client._calls import Call
from keyplane_client.models import (
    ApiKey,
    ApiKeyCreateBody,
    ApiKeyPage,
    ApiKeyUpdateBody,
    CreatedApiKey,
    RateLimit,
    Verification,
    VerifyBody,
)
from pydantic import BaseModel

from tests.clients.contract import Schema, answer_misfits, request_misfits

KEY_ID = "0193b1e2-0000-7000-8000-000000000007"
OTHER_ID = "0193b1e2-0000-7000-8000-000000000008"
WHEN = datetime(2030, 1, 1, tzinfo=UTC)
LICENSE = wire.Document[wire.LicenseResource]

OPERATIONS: list[tuple[Call[Any], type[BaseModel] | None, type[BaseModel] | None]] = [
    (calls.verify("kp_x", "10.0.0.1", ["READ"]), VerifyBody, Verification),
    (
        calls.create(
            name="n",
            scopes=["READ"],
            owner_id=KEY_ID,
            description="d",
            whitelisted_ips=["10.0.0.0/8"],
            api_version="2026-11-01",
            expires_at=None,
            rate_limit=RateLimit(limit=1, duration=1),
        ),
        ApiKeyCreateBody,
        CreatedApiKey,
    ),
    (calls.first_page(status="inactive", name="n", owner_id=KEY_ID, page_size=5), None, ApiKeyPage),
    (calls.get(KEY_ID), None, ApiKey),
    (calls.update(KEY_ID, {"name": "m"}), ApiKeyUpdateBody, ApiKey),
    (calls.delete(KEY_ID), None, None),
    (
        _licenses.first_page(status="ACTIVE", policy=KEY_ID, product=KEY_ID, user="a@b.test", page_size=5),
        None,
        wire.ListDocument[wire.LicenseResource],
    ),
    (_licenses.get(KEY_ID), None, LICENSE),
    (
        _licenses.create(policy=KEY_ID, user=OTHER_ID, name="n", expiry=WHEN, metadata={"a": 1}),
        wire.LicenseCreateBody,
        LICENSE,
    ),
    (
        _licenses.update(KEY_ID, {"name": None, "expiry": WHEN, "metadata": {}}),
        wire.LicenseUpdateBody,
        LICENSE,
    ),
    (_licenses.action(KEY_ID, "suspend"), None, LICENSE),
    (_licenses.action(KEY_ID, "reinstate"), None, LICENSE),
    (_licenses.action(KEY_ID, "renew"), None, LICENSE),
    (_licenses.revoke(KEY_ID), None, None),
    (_licenses.delete(KEY_ID), None, None),
    (_pool.first_page(KEY_ID, 5), None, wire.ListDocument[wire.KeyResource]),
    (_pool.get(KEY_ID, OTHER_ID), None, wire.Document[wire.KeyResource]),
    (_pool.pop(KEY_ID), None, wire.Document[wire.KeyResource]),
    (_pool.import_batch(KEY_ID, ["KEY-0000-0001"]), wire.ImportBody, wire.ImportDocument),
    (_users.first_page(role="admin", page_size=5), None, wire.ListDocument[wire.UserResource]),
    (_users.get(KEY_ID), None, wire.Document[wire.UserResource]),
    (
        _users.create(email="a@b.test", password="p" * 8, first_name="A", last_name="B", role="developer"),
        wire.UserCreateBody,
        wire.Document[wire.UserResource],
    ),
    (
        _users.update(KEY_ID, {"first_name": None, "last_name": "C", "password": "q" * 8, "role": "user"}),
        wire.UserUpdateBody,
        wire.Document[wire.UserResource],
    ),
    (_users.delete(KEY_ID), None, None),
    (
        _events.first_page(
            event="license.created",
            resource_type="license",
            resource_id=KEY_ID,
            whodunnit_type="user",
            whodunnit_id=OTHER_ID,
            start=date(2030, 1, 1),
            end=date(2030, 1, 2),
            page_size=5,
        ),
        None,
        wire.ListDocument[wire.EventResource],
    ),
]
"""Each call the client makes, the model of the body it sends and of the answer it reads."""


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> Schema:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema: Schema = response.json()
    return schema


def _template(openapi: Schema, call: Call[Any]) -> str:
    """The contract's path the call's path is an instance of (a literal segment wins over a
    parameter: ``/licenses/actions/validate-key`` is not ``/licenses/{license}/...``)."""
    segments = call.path.split("/")
    found: list[str] = [
        path
        for path in openapi["paths"]
        if len(parts := path.split("/")) == len(segments)
        and all(
            part == segment or part.startswith("{") for part, segment in zip(parts, segments, strict=True)
        )
    ]
    assert found, f"{call.method} {call.path} is not in the contract"
    return max(found, key=lambda path: sum(not part.startswith("{") for part in path.split("/")))


def _operation(openapi: Schema, call: Call[Any]) -> Schema:
    path = _template(openapi, call)
    operations: dict[str, Schema] = openapi["paths"][path]
    assert call.method.lower() in operations, f"{call.method} {path} is not in the contract"
    return operations[call.method.lower()]


def _success(operation: Schema) -> tuple[str, Schema | None]:
    """The operation's success status and the schema of its answer (None: no body)."""
    status = next(status for status in operation["responses"] if status.startswith("2"))
    content = operation["responses"][status].get("content", {})
    return status, content["application/json"]["schema"] if content else None


def _misfits(openapi: Schema) -> list[str]:
    found = []
    for call, sends, reads in OPERATIONS:
        where = f"{call.method} {_template(openapi, call)}"
        operation = _operation(openapi, call)
        declared = {p["name"] for p in operation.get("parameters", ()) if p["in"] == "query"}
        found += [
            f"{where}: query parameter {name} unknown" for name in call.params or {} if name not in declared
        ]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if sends is None:
            found += [f"{where}: the server takes a body the client never sends"] if body else []
        elif body is None:
            found.append(f"{where}: the client sends a body the server does not take")
        else:
            found += request_misfits(openapi, body, sends, where)
        status, answer = _success(operation)
        if reads is None:
            found += [f"{where}: answers {status} with a body the client ignores"] if answer else []
        elif answer is None:
            found.append(f"{where}: the client reads a body the server's {status} does not have")
        else:
            found += answer_misfits(openapi, answer, reads, f"{where} {status}")
    return found


async def test_the_client_fits_the_servers_contract(openapi: Schema) -> None:
    assert _misfits(openapi) == []


def _schemas(openapi: Schema) -> Schema:
    schemas: Schema = openapi["components"]["schemas"]
    return schemas


def _drop_answer_field(openapi: Schema) -> None:
    del _schemas(openapi)["VerifyResult"]["properties"]["keyId"]


def _nullable_answer_field(openapi: Schema) -> None:
    _schemas(openapi)["ApiKeyOut"]["properties"]["createdAt"] = {
        "anyOf": [{"type": "string"}, {"type": "null"}]
    }


def _optional_answer_field(openapi: Schema) -> None:
    _schemas(openapi)["ApiKeyList"]["required"].remove("total")


def _required_request_field(openapi: Schema) -> None:
    create = _schemas(openapi)["ApiKeyCreate"]
    create["properties"]["tenant"] = {"type": "string"}
    create["required"] = ["tenant"]


def _dropped_request_field(openapi: Schema) -> None:
    del _schemas(openapi)["ApiKeyUpdate"]["properties"]["whitelistedIPs"]


def _narrower_scope(openapi: Schema) -> None:
    scope = _schemas(openapi)["keyplane__auth__scopes__Scope"]
    scope["enum"] = [value for value in scope["enum"] if value != "MANAGE"]


def _dropped_parameter(openapi: Schema) -> None:
    operation = openapi["paths"]["/v1/api-keys"]["get"]
    operation["parameters"] = [p for p in operation["parameters"] if p["name"] != "userId"]


def _dropped_license_key(openapi: Schema) -> None:
    attributes = _schemas(openapi)["LicenseAttributesOut"]
    del attributes["properties"]["key"]
    attributes["required"].remove("key")


def _renamed_report_field(openapi: Schema) -> None:
    refusal = _schemas(openapi)["ImportRefusal"]
    refusal["properties"]["position"] = refusal["properties"].pop("line")
    refusal["required"] = ["position", "code", "detail"]


def _dropped_event_filter(openapi: Schema) -> None:
    operation = openapi["paths"]["/v1/event-logs"]["get"]
    operation["parameters"] = [p for p in operation["parameters"] if p["name"] != "whodunnit[id]"]


def _narrower_user_role(openapi: Schema) -> None:
    role = _schemas(openapi)["Role"]
    role["enum"] = [value for value in role["enum"] if value != "developer"]


DRIFTS: dict[str, tuple[Callable[[Schema], None], str]] = {
    "answer field dropped": (_drop_answer_field, "POST /v1/api-keys/verify 200.keyId: read by the client"),
    "answer field made nullable": (_nullable_answer_field, ".createdAt: null sent"),
    "answer field made optional": (_optional_answer_field, ".total: required by the client, not always sent"),
    "request field required": (_required_request_field, "POST /v1/api-keys.tenant: required by the server"),
    "request field dropped": (_dropped_request_field, ".whitelistedIPs: sent by the client, not a field"),
    "scope dropped": (_narrower_scope, ".scopes[]: values ['MANAGE'] are not taken"),
    "query parameter dropped": (_dropped_parameter, "GET /v1/api-keys: query parameter userId unknown"),
    "license attribute dropped": (
        _dropped_license_key,
        "GET /v1/licenses/{license} 200.data.attributes.key: read",
    ),
    "report field renamed": (_renamed_report_field, ".meta.refused[].line: read by the client, absent"),
    "event filter dropped": (
        _dropped_event_filter,
        "GET /v1/event-logs: query parameter whodunnit[id] unknown",
    ),
    "user role dropped": (_narrower_user_role, "POST /v1/users.data.attributes.role: values ['developer']"),
}


@pytest.mark.parametrize("drift", sorted(DRIFTS))
async def test_each_kind_of_drift_is_caught(openapi: Schema, drift: str) -> None:
    change, expected = DRIFTS[drift]
    changed = copy.deepcopy(openapi)
    change(changed)
    found = _misfits(changed)
    assert any(expected in problem for problem in found), found
