"""Assertions and small helpers shared by the auth, token, OAuth2 and error tests."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import httpx

from keyplane.kit.credentials import ALPHABET, CHECKSUM_LENGTH, LOOKUP_LENGTH

JSONAPI = "application/vnd.api+json"


def plain_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The API-key surface's envelope: ``{"status", "error": {code, message, field}, "requestId"}``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"status", "error", "requestId"}, body
    assert body["status"] == status
    assert body["error"]["code"] == code, body
    assert {"code", "message", "field"} <= set(body["error"])
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    uuid.UUID(body["requestId"])
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    return body


def jsonapi_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The JSON:API envelope: ``{"meta": {"id"}, "errors": [{"title", "detail", "code"}]}``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(JSONAPI)
    body: dict[str, Any] = response.json()
    assert set(body) == {"meta", "errors"}, body
    uuid.UUID(body["meta"]["id"])
    assert len(body["errors"]) >= 1
    first = body["errors"][0]
    assert first["code"] == code, body
    assert isinstance(first["title"], str)
    assert first["title"]
    assert isinstance(first["detail"], str)
    assert first["detail"]
    if status == 401:
        # Password login (POST /tokens) asks for Basic; everything else for a bearer credential.
        scheme = "Basic" if code.startswith(("CREDENTIALS_", "EMAIL_", "PASSWORD_")) else "Bearer"
        assert response.headers["www-authenticate"].startswith(scheme)
    return body


def oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """RFC 6749 §5.2: ``{"error", "error_description"}``, never cached."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error
    assert response.headers["cache-control"] == "no-store"
    return body


def basic(user: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def flip(key: str, index: int = -20) -> str:
    """``key`` with one character of its body replaced by another base62 character."""
    position = index % len(key)
    old = key[position]
    new = ALPHABET[(ALPHABET.index(old) + 1) % len(ALPHABET)]
    return key[:position] + new + key[position + 1 :]


def secret_part(key: str) -> str:
    """The secret characters of a credential (between the lookup handle and the checksum)."""
    body = key.split("_", 1)[1]
    return body[LOOKUP_LENGTH:-CHECKSUM_LENGTH]


def timestamp(value: object) -> datetime:
    assert isinstance(value, str), value
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)
