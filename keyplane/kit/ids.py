"""Time-ordered UUIDs (RFC 9562 version 7), so "newest first" is "largest id first".

Ids sort by creation time across processes to the millisecond; within one process they are
strictly increasing (RFC 9562 method 3: 12 bits of sub-millisecond time, then a bump),
which makes id-based cursor paging stable and lets an index on the primary key serve it.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0

DRAWN = 512
"""Ids' worth of random bits read from the operating system at once: one ``os.urandom`` call
per id (what ``secrets.randbits`` makes) cost a system call each, as much as the rest of an
id, and a validation's event and webhook delivery each take one on the hot path."""
_drawn = b""
_used = 0


def _reset_drawn() -> None:
    """A forked child draws its own bits: the parent's would give both the same ids."""
    global _drawn, _used
    _drawn, _used = b"", 0


os.register_at_fork(after_in_child=_reset_drawn)


def _random_62() -> int:
    """62 random bits from the operating system's generator (called holding ``_lock``)."""
    global _drawn, _used
    if _used >= len(_drawn):
        _drawn, _used = os.urandom(8 * DRAWN), 0
    bits = int.from_bytes(_drawn[_used : _used + 8], "big") >> 2
    _used += 8
    return bits


def uuid7() -> uuid.UUID:
    global _last
    nanos = time.time_ns()
    millis, rest = divmod(nanos, 1_000_000)
    sub_ms = rest * 4096 // 1_000_000
    with _lock:
        value = (millis << 80) | (0x7 << 76) | (sub_ms << 64) | (0b10 << 62) | _random_62()
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
