"""Keygen's content negotiation for the JSON:API surface, as a thin ASGI layer.

A request whose ``Accept`` admits none of Keygen's media types is a 400
``MIME_TYPE_INVALID``. A write without a JSON content type (none, a form, ``text/plain``:
what curl and many HTTP clients send by default) is read as JSON, as Keygen reads it
(``lib/keygen/middleware.rb``, ``DefaultContentType``); a write with any other content type,
or one that is no media type at all, is a 400 ``MIME_TYPE_INVALID`` (Keygen's
``RequestErrorWrapper``), in Keygen's wording. The API-key and OAuth surfaces keep their own
rules.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from keyplane.error_handlers import render
from keyplane.errors import ErrorItem
from keyplane.kit.families import Family, family

ACCEPTED = frozenset(
    {"application/vnd.api+json", "application/vnd.keygen+json", "application/json", "application/*", "*/*"}
)
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_READ_AS_JSON = frozenset({"", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
"""Content types Keygen reads as JSON: what clients send when they were told nothing."""
_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
MIME_DETAIL = "The mime type of the request is not acceptable (check content-type and accept headers)"
"""Keygen's wording of ``MIME_TYPE_INVALID``."""


def acceptable(accept: str) -> bool:
    ranges = (part.split(";", 1)[0].strip().lower() for part in accept.split(","))
    return any(media in ACCEPTED for media in ranges if media) or not accept.strip()


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _json_like(media: str) -> bool:
    return media == "application/json" or (
        media.endswith("+json") and _MEDIA_TYPE.fullmatch(media) is not None
    )


def readable(content_type: str) -> bool:
    """Whether a write's body with this ``Content-Type`` is read (as JSON)."""
    media = _media(content_type)
    return media in _READ_AS_JSON or _json_like(media)


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
            item = ErrorItem(MIME_DETAIL, "MIME_TYPE_INVALID", header="Accept")
            await render(Request(scope), 400, [item])(scope, receive, send)
            return
        if scope["method"] in _WRITES:
            media = _media(headers.get(b"content-type", b"").decode("latin-1"))
            if not _json_like(media):
                if media not in _READ_AS_JSON:
                    item = ErrorItem(MIME_DETAIL, "MIME_TYPE_INVALID", header="Content-Type")
                    await render(Request(scope), 400, [item])(scope, receive, send)
                    return
                kept = [(name, value) for name, value in scope["headers"] if name != b"content-type"]
                scope = {**scope, "headers": [*kept, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)
