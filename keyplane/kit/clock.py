"""The one clock. Everything that needs "now" asks here, so tests can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    """The current time, timezone-aware UTC, shifted by whatever a test asked for."""
    return datetime.now(UTC) + _offset


def advance(delta: timedelta) -> None:
    """Move the clock forward (tests only)."""
    global _offset
    _offset += delta


def reset() -> None:
    """Put the clock back to real time (tests only)."""
    global _offset
    _offset = timedelta(0)
