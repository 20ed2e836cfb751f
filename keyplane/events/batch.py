"""Events of reads, written in batches off the request's path: validation results and the
refused uses of credentials. A validation is a read that must stay a read (a write per
validation would serialise them on SQLite and double the work on PostgreSQL), so its event
is kept in memory and written with the others of the last second, as ``lastValidated`` is.
A crash loses at most that second of them, never a change's event (those commit with it).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert

from keyplane import outages
from keyplane.db import Database
from keyplane.events import fanout
from keyplane.events.fanout import Occurrence
from keyplane.events.names import EventName
from keyplane.kit import clock
from keyplane.kit.actor import Origin, Whodunnit
from keyplane.kit.ids import uuid7
from keyplane.kit.periodic import Periodic
from keyplane.models import Event
from keyplane.observe import metrics

log = logging.getLogger("keyplane.events")

CHUNK = 1_000
"""Rows per statement (their parameters are prepared on the event loop, a few milliseconds'
work). Few statements matter more: each costs a few turns of the event loop, and a turn of a
loop saturated by requests takes tens of milliseconds."""
PER_TRANSACTION = 1_000
"""Most events a flush writes (with their webhook deliveries) per transaction. On SQLite a
transaction holds the process's one turn to write: a flush of every validation of a
saturated second in one would hold it for seconds, while the requests' writes and the
webhook deliverer's claims wait behind it (and time out). Between its transactions the
turn goes to whoever was waiting for it."""
PENDING = 50_000
"""Most events a process holds between flushes; past it, new ones are dropped and counted
(``keyplane_events_dropped_total``): a database too slow to take them must not exhaust memory."""


Noted = tuple[
    uuid.UUID,
    datetime,
    uuid.UUID,
    EventName,
    uuid.UUID,
    uuid.UUID | None,
    Whodunnit,
    Origin | Callable[[], Origin],
    dict[str, Any],
]
"""An event as noted: its id and time, account, name, resource, product, whodunnit, origin
(or what builds it) and metadata. Its row is built at the flush, off the request's path."""


EVENTS = insert(cast(Table, Event.__table__))
"""The batch's statement: a table's insert, whose rows are keyed by column. The ORM's bulk
insert of the same rows (``insert(Event)``) maps each one first, and that cost half as much
again per event, on the event loop, as everything else the flush does."""


def _row(noted: Noted) -> dict[str, Any]:
    event_id, created_at, account_id, event, resource_id, product_id, who, held, metadata = noted
    origin = held if isinstance(held, Origin) else held()
    return {
        "id": event_id,
        "account_id": account_id,
        "event": event.value,
        "resource_type": event.resource.value,
        "resource_id": resource_id,
        "product_id": product_id,
        "whodunnit_type": who.type.value,
        "whodunnit_id": who.id,
        "request_id": origin.request_id,
        "address": origin.address,
        "user_agent": None if origin.user_agent is None else origin.user_agent[:512],
        "metadata": metadata,
        "created_at": created_at,
    }


class EventBatch:
    def __init__(self, database: Database, interval: float) -> None:
        self._database = database
        self._pending: list[Noted] = []
        self._periodic = Periodic("keyplane-events", interval, self.flush)

    def note(
        self,
        account_id: uuid.UUID,
        event: EventName,
        resource_id: uuid.UUID,
        who: Whodunnit,
        origin: Origin | Callable[[], Origin],
        metadata: dict[str, Any],
        product_id: uuid.UUID | None = None,
    ) -> None:
        """Keep ``event`` for the next flush (which calls ``origin`` if it is not one yet)."""
        if len(self._pending) >= PENDING:
            metrics.events_dropped(1)
            return
        self._pending.append(
            (uuid7(), clock.now(), account_id, event, resource_id, product_id, who, origin, metadata)
        )

    async def flush(self) -> int:
        """Write what is pending, ``PER_TRANSACTION`` events a transaction, each waiting its
        turn; what a failed transaction held goes back with those not yet written (in front
        of what came meanwhile, within ``PENDING``). How many were written."""
        batch, self._pending = self._pending, []
        written = 0
        for start in range(0, len(batch), PER_TRANSACTION):
            part = batch[start : start + PER_TRANSACTION]
            try:
                await self._write(part)
            except Exception as error:
                outages.log_failure(log, "events.flush_failed", error, count=len(batch) - start)
                kept = (batch[start:] + self._pending)[:PENDING]
                metrics.events_dropped(len(batch) - start + len(self._pending) - len(kept))
                self._pending = kept
                break
            metrics.events_written(len(part))
            written += len(part)
        return written

    async def _write(self, batch: list[Noted]) -> None:
        """``batch`` and its webhook deliveries, in one transaction."""
        rows = [_row(noted) for noted in batch]
        async with self._database.writer(background=True) as session:
            for start in range(0, len(rows), CHUNK):
                await session.execute(EVENTS, rows[start : start + CHUNK])
            # Their webhook deliveries commit with them.
            await fanout.insert_deliveries(session, [Occurrence.of_values(values) for values in rows])
            await session.commit()

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        """Write everything kept (a flush in progress is let finish)."""
        await self._periodic.stop()
        await self.flush()
