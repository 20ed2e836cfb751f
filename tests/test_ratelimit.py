"""The limiters: fixed windows aligned to the epoch, in memory and in a real Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio

from keyplane import ratelimit
from keyplane.config import Settings
from keyplane.kit import clock
from keyplane.ratelimit import MemoryLimiter, RateLimiter, RedisLimiter
from tests.ratelimits import KINDS, make_limiter, window_start


@pytest.fixture(params=KINDS)
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    made = make_limiter(request, request.param)
    yield made
    await made.close()


async def test_a_window_allows_limit_hits_then_refuses(limiter: RateLimiter) -> None:
    start = window_start(60)

    decisions = [await limiter.hit("k", 3, 60) for _ in range(5)]

    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert {d.limit for d in decisions} == {3}
    assert {d.reset_at for d in decisions} == {start + 60}
    assert all(59 <= d.retry_after <= 60 for d in decisions)


async def test_the_next_window_starts_afresh(limiter: RateLimiter) -> None:
    start = window_start(60)
    for _ in range(4):
        await limiter.hit("k", 3, 60)

    clock.advance(timedelta(seconds=59))
    last = await limiter.hit("k", 3, 60)
    clock.advance(timedelta(seconds=1))
    fresh = await limiter.hit("k", 3, 60)

    assert (last.allowed, last.retry_after) == (False, 1)
    assert (fresh.allowed, fresh.remaining, fresh.reset_at) == (True, 2, start + 120)


async def test_keys_and_durations_count_apart(limiter: RateLimiter) -> None:
    window_start(60)
    await limiter.hit("a", 1, 60)

    other_key = await limiter.hit("b", 1, 60)
    other_duration = await limiter.hit("a", 1, 3600)
    same = await limiter.hit("a", 1, 60)

    assert other_key.allowed
    assert other_duration.allowed
    assert not same.allowed


async def test_retry_after_is_whole_seconds_and_at_least_one(limiter: RateLimiter) -> None:
    start = window_start(1)

    decision = await limiter.hit("k", 1, 1)

    assert (decision.retry_after, decision.reset_at) == (1, start + 1)


async def test_peek_does_not_count(limiter: RateLimiter) -> None:
    start = window_start(60)
    await limiter.hit("k", 2, 60)

    peeked = [await limiter.peek("k", 2, 60) for _ in range(3)]
    counted = await limiter.hit("k", 2, 60)
    spent = await limiter.peek("k", 2, 60)

    assert {(p.allowed, p.remaining, p.reset_at) for p in peeked} == {(True, 1, start + 60)}
    assert (counted.allowed, counted.remaining) == (True, 0)
    assert (spent.allowed, spent.remaining) == (False, 0)


async def test_memory_drops_windows_that_ended() -> None:
    limiter = MemoryLimiter()
    window_start(10)
    for n in range(50):
        await limiter.hit(f"key-{n}", 5, 10)
    assert len(limiter) == 50

    clock.advance(timedelta(seconds=10))
    await limiter.hit("key-0", 5, 10)

    assert len(limiter) == 1


async def test_memory_is_bounded_and_drops_the_oldest_first() -> None:
    limiter = MemoryLimiter(max_entries=100)
    window_start(3600)
    for n in range(1000):
        await limiter.hit(f"key-{n}", 1, 3600)

    newest = await limiter.hit("key-999", 1, 3600)
    oldest = await limiter.hit("key-0", 1, 3600)

    assert len(limiter) == 100
    assert not newest.allowed  # still counted
    assert oldest.allowed  # forgotten to make room
    assert len(limiter._ends) <= 2 * limiter.max_entries + 1


async def test_redis_hits_are_atomic(redis_url: str, redis_prefix: str) -> None:
    window_start(60)
    first, second = RedisLimiter(redis_url, redis_prefix), RedisLimiter(redis_url, redis_prefix)
    try:
        # Two limiters stand for two processes sharing the Redis.
        decisions = await asyncio.gather(*(limiter.hit("shared", 20, 60) for limiter in [first, second] * 25))
    finally:
        await first.close()
        await second.close()

    assert sum(d.allowed for d in decisions) == 20
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(20))


async def test_redis_counter_lives_under_the_prefix_and_expires_after_its_window(
    redis_url: str, redis_prefix: str
) -> None:
    start = window_start(60)
    limiter = RedisLimiter(redis_url, redis_prefix)
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        await limiter.hit("k", 3, 60)
        await limiter.hit("k", 3, 60)
        name = f"{redis_prefix}rl:k:60:{start // 60}"
        count = await client.get(name)
        ttl = await client.pttl(name)
    finally:
        await limiter.close()
        await client.aclose()

    assert count == b"2"
    assert 55_000 < ttl <= 60_000 + ratelimit.MARGIN_MS


async def test_redis_unreachable_fails_open_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0", "keyplane-test-nowhere:", timeout=0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="keyplane"):
            decisions = [await limiter.hit("k", 1, 60) for _ in range(3)]
            peeked = await limiter.peek("k", 1, 60)
    finally:
        await limiter.close()

    assert all(d.allowed and d.remaining == 1 for d in decisions)
    assert peeked.allowed
    warnings = [r for r in caplog.records if r.getMessage() == "ratelimit.redis.unavailable"]
    assert len(warnings) == 1


async def test_limiter_for_follows_the_settings(redis_url: str) -> None:
    memory = ratelimit.limiter_for(Settings(redis_url=""))
    shared = ratelimit.limiter_for(Settings(redis_url=redis_url, redis_prefix="keyplane-test-x:"))
    try:
        assert isinstance(memory, MemoryLimiter)
        assert isinstance(shared, RedisLimiter)
        assert shared.prefix == "keyplane-test-x:"
    finally:
        await memory.close()
        await shared.close()
