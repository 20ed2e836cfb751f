"""Shared steps for the rate-limit tests: a clock at a window's start, and either limiter."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from keyplane.ratelimit import MemoryLimiter, RateLimiter, RedisLimiter
from keyplane.services import services_of

KINDS = ["memory", "redis"]


def window_start(duration: int) -> int:
    """Move the clock to just after a window boundary (so a test never straddles one) and
    return that boundary in epoch seconds."""
    now = clock.now().timestamp()
    start = (math.floor(now / duration) + 1) * duration
    clock.advance(timedelta(seconds=start - now + 0.01))
    return start


@asynccontextmanager
async def installed(request: pytest.FixtureRequest, app: FastAPI, kind: str) -> AsyncIterator[RateLimiter]:
    """A fresh limiter of ``kind`` as the application's (the lean handlers' too), closed after."""
    made = make_limiter(request, kind)
    services_of(app).limiter = made
    try:
        yield made
    finally:
        await made.close()


def make_limiter(request: pytest.FixtureRequest, kind: str) -> RateLimiter:
    """A fresh limiter: in memory, or on the test Redis under the test's own prefix (the
    Redis fixtures skip the test, or fail it under CI=true, when Redis does not answer)."""
    if kind == "memory":
        return MemoryLimiter()
    return RedisLimiter(request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))
