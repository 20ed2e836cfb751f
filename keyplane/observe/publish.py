"""One application's figures into the metrics, at scrape time and (several workers) on a
timer; and the multiprocess directory ``keyplane serve --workers N`` gives its workers.

Under several workers each writes its figures to files in ``PROMETHEUS_MULTIPROC_DIR``, as
``prometheus_client``'s multiprocess mode prescribes: counters and histograms add up over
every worker that ever ran, gauges count only live workers. A worker that stops removes
its live gauges (``mark_process_dead``); one that was killed leaves them behind, and the
next worker to start removes those of every worker that no longer exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest, multiprocess
from sqlalchemy import event

from keyplane.bus import Bus
from keyplane.cache import Caches
from keyplane.db import Database
from keyplane.observe import health
from keyplane.observe.metrics import (
    CACHE_ENTRIES,
    CACHE_HITS,
    CACHE_MISSES,
    CHANNEL_AGE,
    CHANNEL_UP,
    DB_IN_USE,
    ENVIRONMENT,
    MULTIPROCESS,
    PUBLISH_SECONDS,
    REGISTRY,
    TALLY,
    WORKER,
    database_error,
)

_LIVE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


class Publisher:
    """Reads an application's caches, pool and channel, and its process's counts, into the
    metrics."""

    def __init__(self, caches: Caches, database: Database, bus: Bus) -> None:
        self.caches = caches
        self.database = database
        self.bus = bus
        self._task: asyncio.Task[None] | None = None
        event.listen(database.engine.sync_engine, "handle_error", _count_error)

    def publish(self) -> None:
        TALLY.publish()
        for cache in self.caches:
            CACHE_ENTRIES.labels(cache.name).set(len(cache))
            hits, misses = cache.hits, cache.misses
            cache.hits = cache.misses = 0
            if hits:
                CACHE_HITS.labels(cache.name).inc(hits)
            if misses:
                CACHE_MISSES.labels(cache.name).inc(misses)
        pool: Any = self.database.engine.pool
        DB_IN_USE.set(pool.checkedout() if hasattr(pool, "checkedout") else 0)
        for heard in health.channels(self.bus):
            CHANNEL_UP.labels(heard.kind).set(1 if heard.healthy else 0)
            if heard.age is not None:
                CHANNEL_AGE.labels(heard.kind).set(heard.age)
        if MULTIPROCESS:
            for family in ProcessCollector(registry=None).collect():
                for sample in family.samples:
                    WORKER.labels(sample.name).set(sample.value)

    def scrape(self) -> bytes:
        """The text of ``GET /metrics``: this process's figures published first, then every
        worker's (multiprocess mode) or this process's."""
        self.publish()
        if not MULTIPROCESS:
            return generate_latest(REGISTRY)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated library
        return generate_latest(registry)

    def start(self) -> None:
        if MULTIPROCESS:
            reap_dead_workers()
            self._task = asyncio.create_task(self._run(), name="keyplane-metrics")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        self.publish()
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # unannotated library

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(PUBLISH_SECONDS)
            self.publish()


def _count_error(context: Any) -> None:
    database_error(context.original_exception)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now: not one of our workers either
        return False
    return True


def reap_dead_workers() -> None:
    """Remove the live gauges of workers that died without stopping (killed)."""
    folder = os.environ.get(ENVIRONMENT, "")
    dead = set()
    for path in glob.glob(os.path.join(folder, "gauge_live*.db")):
        found = _LIVE_FILE.fullmatch(os.path.basename(path))
        if found is not None and not _alive(int(found.group(1))):
            dead.add(int(found.group(1)))
    for pid in dead:
        multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]  # unannotated library


@contextlib.contextmanager
def multiprocess_dir(workers: int) -> Iterator[None]:
    """With several workers, ``PROMETHEUS_MULTIPROC_DIR`` for them: the operator's, emptied,
    or a private temporary one, removed at the end. One worker keeps its metrics in memory."""
    if workers <= 1:
        yield
        return
    given = os.environ.get(ENVIRONMENT)
    if given:
        os.makedirs(given, mode=0o700, exist_ok=True)
        for path in glob.glob(os.path.join(given, "*.db")):
            os.remove(path)
        yield
        return
    folder = tempfile.mkdtemp(prefix="keyplane-metrics-")
    os.environ[ENVIRONMENT] = folder
    try:
        yield
    finally:
        os.environ.pop(ENVIRONMENT, None)
        shutil.rmtree(folder, ignore_errors=True)
