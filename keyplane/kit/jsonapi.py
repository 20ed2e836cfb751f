"""JSON:API documents as Keygen shapes them, and the media-type answer to ``Accept``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

JSONAPI = "application/vnd.api+json"
JSON = "application/json"


def media_type(request: Request) -> str:
    """JSON:API unless the client prefers plain JSON (Keygen answers the same way)."""
    accept = request.headers.get("accept", "")
    if JSON in accept and JSONAPI not in accept and "application/vnd.keygen+json" not in accept:
        return JSON
    return JSONAPI


def to_one(base: str, type_: str, id_: object | None, related: str) -> dict[str, Any]:
    return {
        "links": {"related": f"{base}/{related}" if related else base},
        "data": None if id_ is None else {"type": type_, "id": str(id_)},
    }


def document(request: Request, data: Any, status: int = 200, **top: Any) -> JSONResponse:
    return JSONResponse({"data": data, **top}, status, media_type=media_type(request))


def account_base(account_id: object) -> str:
    return f"/v1/accounts/{account_id}"
