"""Per-key rate limits: fixed windows aligned to the epoch, counted in this process or in Redis.

A key limited to ``limit`` requests per ``duration`` seconds has one counter per window
``floor(now / duration)``; every use adds one, and a use is allowed while the count is at
most ``limit``. Windows are aligned to the epoch, so every process agrees on where one ends
without talking to the others. Time is ``keyplane.kit.clock``'s, so tests can move it.

``MemoryLimiter`` counts for one process (the default install, and the tests);
``RedisLimiter`` counts for every process that shares the Redis. ``limiter_for`` picks one
from the settings, as the other Redis-or-memory services do.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from keyplane.errors import AppError, TooManyRequests
from keyplane.kit import clock
from keyplane.observe import metrics

if TYPE_CHECKING:
    from keyplane.config import Settings
    from keyplane.credentials.engine import CredentialState
    from keyplane.services import Services

log = logging.getLogger("keyplane")

MEMORY_ENTRIES = 100_000
"""How many windows ``MemoryLimiter`` keeps at most; past it, the oldest go."""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    duration: int
    remaining: int
    reset_at: int
    """UTC epoch seconds when the current window ends."""
    retry_after: int
    """Whole seconds until ``reset_at``, at least 1."""


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, duration: int) -> Decision:
        """Count one use of ``key`` in the current window of ``duration`` seconds."""
        ...

    async def peek(self, key: str, limit: int, duration: int) -> Decision:
        """The current window's standing without counting a use (``allowed``: would one be?)."""
        ...

    async def close(self) -> None: ...


def _decide(count: int, limit: int, duration: int, now: float, *, counted: bool = True) -> Decision:
    reset_at = (int(now // duration) + 1) * duration
    return Decision(
        allowed=count <= limit if counted else count < limit,
        limit=limit,
        duration=duration,
        remaining=max(0, limit - count),
        reset_at=reset_at,
        retry_after=max(1, math.ceil(reset_at - now)),
    )


class MemoryLimiter:
    """Counts in this process alone: correct for a single worker, and what tests use.

    Memory is bounded: a window is dropped once it has ended, and at most ``max_entries``
    windows are kept (the oldest opened go first, which may let their keys start afresh:
    only under a flood of more distinct keys than that).
    """

    def __init__(self, max_entries: int = MEMORY_ENTRIES) -> None:
        self.max_entries = max_entries
        self._counts: OrderedDict[tuple[str, int, int], int] = OrderedDict()
        self._ends: list[tuple[int, tuple[str, int, int]]] = []
        """A heap of (window end, window) to drop windows in the order they end."""

    def __len__(self) -> int:
        return len(self._counts)

    async def hit(self, key: str, limit: int, duration: int) -> Decision:
        now = clock.now().timestamp()
        self._expire(now)
        window = (key, duration, int(now // duration))
        count = self._counts.get(window)
        if count is None:
            self._open(window)
            count = 0
        self._counts[window] = count + 1
        return _decide(count + 1, limit, duration, now)

    async def peek(self, key: str, limit: int, duration: int) -> Decision:
        now = clock.now().timestamp()
        count = self._counts.get((key, duration, int(now // duration)), 0)
        return _decide(count, limit, duration, now, counted=False)

    async def close(self) -> None:
        self._counts.clear()
        self._ends.clear()

    def _open(self, window: tuple[str, int, int]) -> None:
        while len(self._counts) >= self.max_entries:
            self._counts.popitem(last=False)
        _, duration, number = window
        heapq.heappush(self._ends, ((number + 1) * duration, window))
        if len(self._ends) > 2 * self.max_entries:
            # Windows dropped for room left their entries here: keep only the live ones.
            self._ends = [((n + 1) * d, (k, d, n)) for k, d, n in self._counts]
            heapq.heapify(self._ends)

    def _expire(self, now: float) -> None:
        while self._ends and self._ends[0][0] <= now:
            _, window = heapq.heappop(self._ends)
            self._counts.pop(window, None)


_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
"""
MARGIN_MS = 5_000
"""How long a window's counter outlives the window, for processes whose clocks lag a little."""


class Unavailable(Exception):
    """Redis could not be asked (it failed, or failed under a second ago and is left alone)."""


class RateLimitUnavailable(AppError):
    """A rate limit that cannot be checked while ``rate_limit_fail`` is ``closed``."""

    status = 503


class RedisLimiter:
    """Counts shared by every process using the same Redis (and ``prefix``).

    One Lua script increments the window's counter and, on its first use, sets it to expire
    when the window ends (plus a margin): atomic however many processes hit at once.

    **If Redis cannot be reached**, ``hit`` and ``peek`` do what ``fail`` says (the
    ``rate_limit_fail`` setting): ``open`` (the default) allows the use, since a rate limit
    protects capacity and refusing every request because its counter is unavailable would
    turn a Redis outage into an outage of the API; ``closed`` refuses it with a 503 and
    ``Retry-After``. Either way the outage is logged once when it starts and once when it
    ends, and ``unchecked`` counts the uses decided without Redis (for metrics). While Redis
    fails it is tried at most once a second, and every call is bounded by ``timeout``
    (connecting and each reply), so no request waits long for it. ``count`` and ``standing``
    are the same calls raising ``Unavailable`` instead, for callers that fall back otherwise.
    """

    def __init__(
        self, url: str, prefix: str = "keyplane:", *, timeout: float = 0.5, fail: str = "open"
    ) -> None:
        self.prefix = prefix
        self.fail = fail
        self.unchecked = 0
        """Uses decided without Redis (let through, or refused when ``fail`` is closed)."""
        # No retries: a request waits for one try of at most ``timeout``, never for a series
        # of them with backoff (redis-py retries three times by default).
        self._client = redis.asyncio.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        self._script = self._client.register_script(_HIT)
        self._retry_at = 0.0
        self._down = False

    @property
    def down(self) -> bool:
        """Whether Redis failed on the last try: the outage as it stands."""
        return self._down

    def key(self, key: str, duration: int, window: int) -> str:
        """The Redis key of one window's counter."""
        return f"{self.prefix}rl:{key}:{duration}:{window}"

    async def hit(self, key: str, limit: int, duration: int) -> Decision:
        try:
            return await self.count(key, limit, duration)
        except Unavailable:
            return self._unchecked(limit, duration, counted=True)

    async def peek(self, key: str, limit: int, duration: int) -> Decision:
        try:
            return await self.standing(key, limit, duration)
        except Unavailable:
            return self._unchecked(limit, duration, counted=False)

    async def count(self, key: str, limit: int, duration: int) -> Decision:
        """``hit``, raising ``Unavailable`` when Redis cannot be asked."""
        now = clock.now().timestamp()
        window = int(now // duration)
        self._may_try()
        ttl_ms = math.ceil(((window + 1) * duration - now) * 1000) + MARGIN_MS
        try:
            count = await self._script(keys=[self.key(key, duration, window)], args=[ttl_ms])
        except (RedisError, OSError) as error:
            raise self._unavailable(error) from None
        self._up()
        return _decide(int(count), limit, duration, now)

    async def standing(self, key: str, limit: int, duration: int) -> Decision:
        """``peek``, raising ``Unavailable`` when Redis cannot be asked."""
        now = clock.now().timestamp()
        self._may_try()
        try:
            count = int(await self._client.get(self.key(key, duration, int(now // duration))) or 0)
        except (RedisError, OSError) as error:
            raise self._unavailable(error) from None
        self._up()
        return _decide(count, limit, duration, now, counted=False)

    async def close(self) -> None:
        await self._client.aclose()

    def _may_try(self) -> None:
        if self._down and time.monotonic() < self._retry_at:
            raise Unavailable

    def _unchecked(self, limit: int, duration: int, *, counted: bool) -> Decision:
        self.unchecked += 1
        if self.fail == "closed":
            raise RateLimitUnavailable(
                "Rate limits cannot be checked right now; retry shortly",
                "SERVICE_UNAVAILABLE",
                headers={"Retry-After": "1"},
            )
        return _decide(0, limit, duration, clock.now().timestamp(), counted=counted)

    def _unavailable(self, error: Exception) -> Unavailable:
        metrics.rate_limited("unavailable")
        self._retry_at = time.monotonic() + 1.0
        if not self._down:
            self._down = True
            log.warning(
                "ratelimit.redis.unavailable", extra={"error": type(error).__name__, "fail": self.fail}
            )
        return Unavailable()

    def _up(self) -> None:
        if self._down:
            self._down = False
            log.info("ratelimit.redis.recovered", extra={"unchecked": self.unchecked})


class ProcessFallback:
    """Counts in Redis, and in this process while Redis cannot be reached: for limits that
    must never switch off (failed sign-ins), where counting alone for a while beats not
    counting at all. Each process then allows the budget once; Redis takes over again, with
    what it counted before, as soon as it answers."""

    def __init__(self, shared: RedisLimiter) -> None:
        self.shared = shared
        self._local = MemoryLimiter()

    async def hit(self, key: str, limit: int, duration: int) -> Decision:
        try:
            return await self.shared.count(key, limit, duration)
        except Unavailable:
            return await self._local.hit(key, limit, duration)

    async def peek(self, key: str, limit: int, duration: int) -> Decision:
        try:
            return await self.shared.standing(key, limit, duration)
        except Unavailable:
            return await self._local.peek(key, limit, duration)

    async def close(self) -> None:
        await self._local.close()


def limiter_for(settings: Settings) -> RateLimiter:
    """``RedisLimiter`` when ``redis_url`` is set (several processes), else ``MemoryLimiter``."""
    if settings.redis_url:
        return RedisLimiter(settings.redis_url, settings.redis_prefix, fail=settings.rate_limit_fail)
    return MemoryLimiter()


def steadfast(services: Services) -> RateLimiter:
    """The application's limiter for limits that never switch off (``ProcessFallback`` over
    its Redis), made once and kept with the services."""
    limiter = services.limiter
    if not isinstance(limiter, RedisLimiter):
        return limiter  # counting in this process already
    fallback = services.steadfast_limiter
    if not isinstance(fallback, ProcessFallback) or fallback.shared is not limiter:
        fallback = services.steadfast_limiter = ProcessFallback(limiter)
    return fallback


async def charge(limiter: RateLimiter, state: CredentialState) -> Decision | None:
    """One use of a credential against every budget it spends (``CredentialState.budgets``:
    its own, or an access token's key's, and the one it shares with the key that made it),
    and the tightest standing; None, and no limiter call at all, without a limit."""
    spent = await _spend(limiter, state)
    return None if spent is None else spent[0]


async def standing(limiter: RateLimiter, state: CredentialState) -> Decision | None:
    """The tightest of a credential's budgets as they stand, counting no use."""
    found = await _tightest(limiter.peek, state)
    return None if found is None else found[0]


async def _spend(limiter: RateLimiter, state: CredentialState) -> tuple[Decision, bool] | None:
    """``_tightest`` after one use of every budget, the decision counted in the metrics."""
    spent = await _tightest(limiter.hit, state)
    if spent is not None:
        metrics.rate_limited("allowed" if spent[0].allowed else "refused")
    return spent


async def _tightest(
    count: Callable[[str, int, int], Awaitable[Decision]], state: CredentialState
) -> tuple[Decision, bool] | None:
    """The tightest decision over the state's budgets (a refusal over an allowance, then the
    fewest requests remaining) and whether it is the shared budget's."""
    tightest: tuple[Decision, bool] | None = None
    for counter, limit, duration, shared in state.budgets:
        decision = await count(counter, limit, duration)
        if tightest is None:
            tightest = (decision, shared)
            continue
        kept = tightest[0]
        if (kept.allowed and not decision.allowed) or (
            kept.allowed == decision.allowed and decision.remaining < kept.remaining
        ):
            tightest = (decision, shared)
    return tightest


def rate_headers(decision: Decision) -> dict[str, str]:
    return {
        "Retry-After": str(decision.retry_after),
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(decision.reset_at),
    }


async def enforce(
    limiter: RateLimiter, state: CredentialState, code: str = "RATE_LIMITED"
) -> Decision | None:
    """``charge``, raising ``TooManyRequests`` (429 ``code``) when the budget is spent."""
    spent = await _spend(limiter, state)
    if spent is None or spent[0].allowed:
        return None if spent is None else spent[0]
    decision, shared = spent
    whose = "The rate limit this key shares with the key that made it" if shared else "This key's rate limit"
    raise TooManyRequests(
        f"{whose} of {plural(decision.limit, 'request')} per {plural(decision.duration, 'second')} "
        f"is exhausted; retry in {plural(decision.retry_after, 'second')}",
        code,
        headers=rate_headers(decision),
    )


def plural(n: int, noun: str) -> str:
    """``1 second``, ``3 seconds``: the counts in refusals' messages."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
