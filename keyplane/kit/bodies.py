"""A cap on request bodies, so no client can make a process hold more than it should.

Every body Keyplane takes is a small JSON document (or form). A body declared larger than
``max_body_bytes`` is refused at the application's first read of it (a lean handler may
have read up to ``keyplane.hot.LEAN_BODY_BYTES`` before handing it over); one sent in
chunks without a declared length is counted as it arrives and refused once it passes the
cap. Either way the answer is a 413 ``BODY_TOO_LARGE`` in the route's own envelope
(``keyplane.errors``), and nothing is changed.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"The request body is larger than the {limit:,} bytes allowed")


def capped(receive: Receive, scope: Scope, limit: int) -> Receive:
    """``receive`` that raises ``too_large`` once the body passes ``limit`` bytes."""
    declared: int | None = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = int(value) if value.isdigit() else None
            break
    received = 0

    async def bounded() -> Message:
        nonlocal received
        if declared is not None and declared > limit:
            raise too_large(limit)
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large(limit)
        return message

    return bounded
