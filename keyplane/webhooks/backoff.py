"""When a failed webhook delivery is tried again: exponential backoff with jitter.

The first retry comes ``first`` seconds after the first attempt, each next one three times
later than the one before, give or take a tenth (so that the deliveries a receiver's outage
held back do not all come back at once). With ``first`` at 3 seconds, 12 attempts span
about three days: 3 s, 9 s, 27 s, 81 s, 4 min, 12 min, 36 min, 1.8 h, 5.5 h, 16 h, 2 days.
Past the last attempt the delivery has ``FAILED``.
"""

from __future__ import annotations

ATTEMPTS = 12
"""Attempts in all, the first included."""
GROWTH = 3.0
JITTER = 0.1


def next_delay(attempts: int, first: float, jitter: float) -> float | None:
    """Seconds from a failed attempt (the ``attempts``-th) to the next one, or None when it
    was the last. ``jitter`` in [0, 1) picks where in the ±10% band the delay falls."""
    if attempts >= ATTEMPTS:
        return None
    spread = 1.0 + JITTER * (2.0 * jitter - 1.0)
    return first * GROWTH ** (max(attempts, 1) - 1) * spread
