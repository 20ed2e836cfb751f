"""Pruning the event log: events older than ``KEYPLANE_EVENT_RETENTION_DAYS`` go, in the
background, a batch per short transaction. Several processes may prune at once: each batch
deletes rows by id, so they only ever repeat each other's work, never undo it."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from keyplane import outages
from keyplane.db import Database
from keyplane.events.service import prune

log = logging.getLogger("keyplane.events")


class Retention:
    def __init__(self, database: Database, days: int, interval: float) -> None:
        self._database = database
        self._days = days
        self._interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> int:
        """Prune once; how many events went. A failure is logged and the next sweep tries
        again (a database outage is waited out the same way)."""
        try:
            pruned = await prune(self._database, self._days)
        except Exception as error:
            if outages.unavailable(error):
                log.warning("events.prune_failed", extra={"error": type(error).__name__})
            else:
                log.exception("events.prune_failed")
            return 0
        if pruned:
            log.info("events.pruned", extra={"count": pruned, "days": self._days})
        return pruned

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.sweep()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    def start(self) -> None:
        if self._days <= 0:
            return
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="keyplane-event-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping.set()
            await self._task
            self._task = None
