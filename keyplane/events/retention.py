"""Pruning the event log: events older than ``KEYPLANE_EVENT_RETENTION_DAYS`` go, in the
background, a batch per short transaction. Several processes may prune at once: each batch
deletes rows by id, so they only ever repeat each other's work, never undo it."""

from __future__ import annotations

import logging

from keyplane import outages
from keyplane.db import Database
from keyplane.events.service import prune
from keyplane.kit.periodic import Periodic

log = logging.getLogger("keyplane.events")


class Retention:
    def __init__(self, database: Database, days: int, interval: float) -> None:
        self._database = database
        self._days = days
        self._interval = interval
        self._periodic = Periodic("keyplane-event-retention", interval, self.sweep, at_start=True)

    async def sweep(self) -> int:
        """Prune once; how many events went. A failure is logged and the next sweep tries
        again (a database outage is waited out the same way)."""
        try:
            pruned = await prune(self._database, self._days)
        except Exception as error:
            outages.log_failure(log, "events.prune_failed", error)
            return 0
        if pruned:
            log.info("events.pruned", extra={"count": pruned, "days": self._days})
        return pruned

    def start(self) -> None:
        if self._days > 0:
            self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
