"""Prometheus metrics (``GET /metrics``), kept cheap for the hot paths.

A request pays for plain integer and float additions on ``TALLY`` (in-process counts);
they reach the ``prometheus_client`` metrics when they are read: at every scrape, and
every ``PUBLISH_SECONDS`` under ``keyplane serve --workers N``, where each worker writes
its counts to the shared multiprocess files (``PROMETHEUS_MULTIPROC_DIR``) so that any
worker's scrape sums them all. A labelled ``inc()`` per request would cost about a
microsecond, and a write to an mmap'd file in multiprocess mode; a dictionary increment
costs a tenth of that.
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"
MULTIPROCESS = bool(os.environ.get(ENVIRONMENT))
"""Whether this process shares its metrics through files (``prometheus_client`` chooses how
values are kept when it is first imported, from the same variable)."""
PUBLISH_SECONDS = 1.0
"""How often a worker writes its counts to the shared files (multiprocess mode only)."""

LATENCY_BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROWS_BOUNDS = (1, 10, 100, 1_000, 10_000, 100_000)

REGISTRY = CollectorRegistry()
"""What one process reports (single-process mode); in multiprocess mode the files are."""

HTTP_REQUESTS = Counter(
    "keyplane_http_requests",
    "Requests answered, by route template, method and status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "keyplane_http_request_duration_seconds",
    "Time from a request's arrival to its answer's end",
    ["route", "method"],
    buckets=LATENCY_BOUNDS,
    registry=REGISTRY,
)
VERIFICATIONS = Counter(
    "keyplane_verifications", "POST /api-keys/verify answers, by result code", ["code"], registry=REGISTRY
)
VALIDATIONS = Counter(
    "keyplane_license_validations", "License validations, by result code", ["code"], registry=REGISTRY
)
CACHE_HITS = Counter(
    "keyplane_cache_hits", "Cache lookups answered from memory", ["cache"], registry=REGISTRY
)
CACHE_MISSES = Counter(
    "keyplane_cache_misses", "Cache lookups that found nothing", ["cache"], registry=REGISTRY
)
CACHE_ENTRIES = Gauge(
    "keyplane_cache_entries", "Entries held", ["cache"], multiprocess_mode="livesum", registry=REGISTRY
)
CHANNEL_UP = Gauge(
    "keyplane_channel_up",
    "1 while the invalidation channel vouches for the caches, else 0",
    ["bus"],
    multiprocess_mode="liveall",
    registry=REGISTRY,
)
CHANNEL_AGE = Gauge(
    "keyplane_channel_last_message_age_seconds",
    "Seconds since the channel was last heard from",
    ["bus"],
    multiprocess_mode="liveall",
    registry=REGISTRY,
)
USAGE_LAG = Gauge(
    "keyplane_usage_flush_lag_seconds",
    "Seconds since the usage recorder last had everything written",
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
USAGE_ROWS = Histogram(
    "keyplane_usage_flush_rows",
    "Rows (lastUsedAt, lastValidated) written per flush",
    buckets=ROWS_BOUNDS,
    registry=REGISTRY,
)
EVENTS_WRITTEN = Counter(
    "keyplane_events_written",
    "Batched events (validations, refusals) written to the event log",
    registry=REGISTRY,
)
EVENTS_DROPPED = Counter(
    "keyplane_events_dropped",
    "Batched events dropped: more were waiting than a process holds, the database being too slow",
    registry=REGISTRY,
)
USAGE_FAILURES = Counter("keyplane_usage_flush_failures", "Usage flushes that failed", registry=REGISTRY)
DB_IN_USE = Gauge(
    "keyplane_db_pool_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
DB_ERRORS = Counter(
    "keyplane_db_errors", "Errors the database driver raised, by class", ["error"], registry=REGISTRY
)
RATE_LIMITS = Counter(
    "keyplane_rate_limit_decisions",
    "Rate-limit decisions: allowed, refused, or unavailable (let through)",
    ["decision"],
    registry=REGISTRY,
)
WORKER = Gauge(
    "keyplane_worker",
    "Each worker's process figures (multiprocess mode; process_* otherwise)",
    ["figure"],
    multiprocess_mode="liveall",
    registry=REGISTRY,
)
if not MULTIPROCESS:
    ProcessCollector(registry=REGISTRY)


class Tally:
    """Counts the request path adds to, read (and reset) when metrics are published."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int | None], list[float]] = {}
        """(route, method, status) -> [seconds summed, then a count per latency bucket]."""
        self.verifications: dict[str, int] = {}
        self.validations: dict[str, int] = {}
        self.rate_limits: dict[str, int] = {}
        self.db_errors: dict[str, int] = {}
        self.usage_rows: list[int] = []
        self.usage_failures = 0
        self.usage_caught_up = time.monotonic()

    def request(self, route: str, method: str, status: int | None, seconds: float) -> None:
        key = (route, method, status)
        cell = self.requests.get(key)
        if cell is None:
            cell = self.requests[key] = [0.0] * (len(LATENCY_BOUNDS) + 2)
        cell[0] += seconds
        cell[bisect_left(LATENCY_BOUNDS, seconds) + 1] += 1

    def publish(self) -> None:
        """Add what was counted since the last call to the ``prometheus_client`` metrics."""
        requests, self.requests = self.requests, {}
        for (route, method, status), cell in requests.items():
            HTTP_REQUESTS.labels(route, method, str(status or 0)).inc(sum(cell[1:]))
            _add_observations(HTTP_LATENCY.labels(route, method), cell)
        for counts, metric in (
            (self.verifications, VERIFICATIONS),
            (self.validations, VALIDATIONS),
            (self.rate_limits, RATE_LIMITS),
            (self.db_errors, DB_ERRORS),
        ):
            taken = dict(counts)
            counts.clear()
            for label, count in taken.items():
                metric.labels(label).inc(count)
        rows, self.usage_rows = self.usage_rows, []
        for count in rows:
            USAGE_ROWS.observe(count)
        if self.usage_failures:
            USAGE_FAILURES.inc(self.usage_failures)
            self.usage_failures = 0
        USAGE_LAG.set(time.monotonic() - self.usage_caught_up)


def _add_observations(child: Histogram, cell: list[float]) -> None:
    """Add a cell's observations (sum, per-bucket counts) to a histogram at once.
    ``Histogram`` has no public call for that; ``observe`` itself adds one to the first
    bucket whose bound holds the value (``_buckets``) and the value to ``_sum``, through
    the same value objects (mmap'd in multiprocess mode)."""
    child._sum.inc(cell[0])
    for index, count in enumerate(cell[1:]):
        if count:
            child._buckets[index].inc(count)


TALLY = Tally()
"""This process's counts (one per process, like ``prometheus_client``'s registry)."""


def verified(code: str) -> None:
    """A ``POST /api-keys/verify`` answered ``code``."""
    counts = TALLY.verifications
    counts[code] = counts.get(code, 0) + 1


def validated(code: str) -> None:
    """A license validation answered ``code``."""
    counts = TALLY.validations
    counts[code] = counts.get(code, 0) + 1


def rate_limited(decision: str) -> None:
    """A rate-limit decision: ``allowed``, ``refused`` or ``unavailable`` (let through)."""
    counts = TALLY.rate_limits
    counts[decision] = counts.get(decision, 0) + 1


def database_error(error: BaseException) -> None:
    counts = TALLY.db_errors
    name = type(error).__name__
    counts[name] = counts.get(name, 0) + 1


def usage_flushed(rows: int) -> None:
    """The usage recorder wrote everything it had (``rows`` rows; 0: nothing was waiting)."""
    TALLY.usage_caught_up = time.monotonic()
    if rows:
        TALLY.usage_rows.append(rows)


def events_written(count: int) -> None:
    EVENTS_WRITTEN.inc(count)


def events_dropped(count: int) -> None:
    if count:
        EVENTS_DROPPED.inc(count)


def usage_flush_failed() -> None:
    TALLY.usage_failures += 1
