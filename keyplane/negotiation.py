"""Keygen's content negotiation for the JSON:API surface, as a thin ASGI layer.

A request whose ``Accept`` admits none of Keygen's media types is a 400
``MIME_TYPE_INVALID``. A write without a JSON content type (none, form, text: what curl
and many HTTP clients send by default) is read as JSON, as Keygen reads it. The API-key
and OAuth surfaces keep their own rules.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from keyplane.error_handlers import render
from keyplane.errors import ErrorItem
from keyplane.kit.families import Family, family

ACCEPTED = frozenset(
    {"application/vnd.api+json", "application/vnd.keygen+json", "application/json", "application/*", "*/*"}
)
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def acceptable(accept: str) -> bool:
    ranges = (part.split(";", 1)[0].strip().lower() for part in accept.split(","))
    return any(media in ACCEPTED for media in ranges if media) or not accept.strip()


def _json_like(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class Negotiation:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if path == "/v1/ping" or family(path) is not Family.LICENSING:
            await self.app(scope, receive, send)
            return
        headers = {name: value for name, value in scope["headers"]}
        accept = headers.get(b"accept", b"").decode("latin-1")
        if not acceptable(accept):
            item = ErrorItem(
                "The Accept header must allow application/vnd.api+json or application/json",
                "MIME_TYPE_INVALID",
                header="Accept",
            )
            await render(Request(scope), 400, [item])(scope, receive, send)
            return
        if scope["method"] in _WRITES and not _json_like(headers.get(b"content-type", b"").decode("latin-1")):
            kept = [(name, value) for name, value in scope["headers"] if name != b"content-type"]
            scope = {**scope, "headers": [*kept, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)
