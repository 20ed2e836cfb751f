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

from sqlalchemy import Table

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
from keyplane.models.bulk import JsonRows, json_time, json_uuid
from keyplane.observe import metrics

log = logging.getLogger("keyplane.events")

PER_TRANSACTION = 5_000
"""Most events a flush writes (with their webhook deliveries) per transaction. On SQLite a
transaction holds the process's one turn to write: a flush of every validation of a
saturated second in one would hold it for seconds, while the requests' writes and the
webhook deliverer's claims wait behind it (and time out). Between its transactions the
turn goes to whoever was waiting for it. Fewer would not keep up: a transaction takes about
fifteen of the database thread's round trips, each a turn of the event loop (milliseconds
when requests saturate it), so under a saturating validate-key load (about 12,000 a second,
one process) transactions of 1,000 wrote 95,000 of 127,000 events in 10 s, and of 5,000 every
one, each transaction holding the turn 150-350 ms."""
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


EVENTS = JsonRows(
    cast(Table, Event.__table__),
    [
        "id",
        "account_id",
        "event",
        "resource_type",
        "resource_id",
        "product_id",
        "whodunnit_type",
        "whodunnit_id",
        "request_id",
        "address",
        "user_agent",
        "metadata",
        "created_at",
    ],
)
"""The batch's insert: every row of a transaction in one statement (see ``JsonRows``: the
ORM's bulk insert of the same rows cost the event loop three times as much a row)."""


def _row(noted: Noted) -> list[Any]:
    """``noted``'s row in the JSON form of ``EVENTS``, in the order of its columns."""
    event_id, created_at, account_id, event, resource_id, product_id, who, held, metadata = noted
    origin = held if isinstance(held, Origin) else held()
    return [
        event_id.hex,
        account_id.hex,
        event.value,
        event.resource.value,
        resource_id.hex,
        json_uuid(product_id),
        who.type.value,
        json_uuid(who.id),
        origin.request_id,
        origin.address,
        None if origin.user_agent is None else origin.user_agent[:512],
        metadata,
        json_time(created_at),
    ]


def _occurrence(noted: Noted) -> Occurrence:
    event_id, _, account_id, event, resource_id, product_id, *_ = noted
    return Occurrence(event_id, account_id, event.value, event.resource.value, resource_id, product_id)


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
        rows = EVENTS.encoded([_row(noted) for noted in batch])
        dialect = self._database.engine.dialect.name
        async with self._database.writer(background=True) as session:
            await session.execute(EVENTS.statement(dialect), rows)
            # Their webhook deliveries commit with them.
            await fanout.insert_deliveries(session, dialect, [_occurrence(noted) for noted in batch])
            await session.commit()

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        """Write everything kept (a flush in progress is let finish)."""
        await self._periodic.stop()
        await self.flush()
