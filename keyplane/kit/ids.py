"""Time-ordered UUIDs (RFC 9562 version 7), so "newest first" is "largest id first".

Ids sort by creation time across processes to the millisecond; within one process they are
strictly increasing (RFC 9562 method 3: 12 bits of sub-millisecond time, then a bump),
which makes id-based cursor paging stable and lets an index on the primary key serve it.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0


def uuid7() -> uuid.UUID:
    global _last
    nanos = time.time_ns()
    millis, rest = divmod(nanos, 1_000_000)
    sub_ms = rest * 4096 // 1_000_000
    value = (millis << 80) | (0x7 << 76) | (sub_ms << 64) | (0b10 << 62) | secrets.randbits(62)
    with _lock:
        if value <= _last:
            # Same 1/4096 ms slot as the previous id: keep the order by counting up in the
            # random bits; the version and variant bits are outside the incremented field.
            value = _last + 1
        _last = value
    return uuid.UUID(int=value)


def as_uuid(text: str) -> uuid.UUID | None:
    """``text`` as a UUID, or None when it is not one (a path segment a client made up)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
