"""``lastUsedAt`` and ``lastValidated`` written in batches, off the request path.

A write per verification would turn every read into a write (and, on SQLite, serialise
them). Uses are collected in memory, newest instant per credential, and flushed on a timer
and at shutdown; losing the last second of ``lastUsedAt`` in a crash loses no committed
API write.

It sits above ``credentials`` and ``licenses``: it writes the uses of the one and the
validations of the other.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from operator import attrgetter
from typing import TypeVar

from keyplane.credentials import repository
from keyplane.credentials.engine import CredentialState
from keyplane.db import Database
from keyplane.kit.periodic import Periodic
from keyplane.licenses import repository as licenses
from keyplane.observe import metrics

log = logging.getLogger("keyplane.usage")
T = TypeVar("T")


CHUNK = 100
"""Rows per statement of a flush: the parameters of each statement are prepared on the
event loop, so one statement for ten thousand keys would stall every request of the moment."""
TRANSACTION_CHUNKS = 10
"""Chunks per transaction of a flush (1,000 rows): an API write of the moment, in this
process or another, waits for one transaction at most, never for a whole batch of ten
thousand keys (seconds, when requests keep the event loop busy). A transaction per chunk
would cost 20 us more per row in commits."""
TRACKED = 100_000
"""Keys whose last written use a process remembers (past that it starts afresh, which costs
one more write per key)."""


def _in_order(uses: dict[uuid.UUID, T]) -> list[tuple[uuid.UUID, T]]:
    """By id, so that concurrent batches of several processes lock rows in one order (no
    deadlock). Ordered on ``UUID.int`` with C calls only: ``UUID.__lt__`` and ``__hash__``
    are Python, and ten thousand keys through them stall the event loop for milliseconds."""
    ordered = sorted(zip(map(_ID_ORDER, uses), uses.items(), strict=True))
    return [use for _, use in ordered]


_ID_ORDER = attrgetter("int")


def _chunks(rows: list[T]) -> list[list[T]]:
    return [rows[start : start + CHUNK] for start in range(0, len(rows), CHUNK)]


class UsageRecorder:
    """Uses and validations, written in batches every ``interval`` seconds.

    ``lastUsedAt`` is kept to ``resolution``: a key's use is written when it moves the time
    this process last wrote for the key by at least that much (a key's first use always is).
    A key in constant use thus costs one row a minute, not one every flush: with ten thousand
    keys in use, writing each every second took a third of a core.
    """

    def __init__(self, database: Database, interval: float, resolution: float = 0.0) -> None:
        self._database = database
        self._resolution = timedelta(seconds=resolution)
        self._pending: dict[uuid.UUID, datetime] = {}
        self._written: dict[uuid.UUID, datetime] = {}
        self._validated: dict[uuid.UUID, datetime] = {}
        self._rehashes: dict[uuid.UUID, tuple[bytes, bytes]] = {}
        self._periodic = Periodic("keyplane-usage", interval, self.flush)

    def record(self, state: CredentialState, when: datetime) -> None:
        """A use of this credential; an OAuth2 access token's use is its API key's use too.

        A cached state is used over and over: it remembers until when its uses need no
        recording, so that most uses look nothing up (the dictionaries here are keyed by
        ``UUID``, whose hash is Python code)."""
        if when < state.noted_until:
            return
        until = self._note(state.id, when)
        if state.parent_id is not None:
            until = min(until, self._note(state.parent_id, when))
        object.__setattr__(state, "noted_until", until)  # bookkeeping, not what the state says

    def validated(self, license_id: uuid.UUID, when: datetime) -> None:
        """A full validation of this license (its ``lastValidated``)."""
        previous = self._validated.get(license_id)
        if previous is None or previous < when:
            self._validated[license_id] = when

    def rehash(self, credential_id: uuid.UUID, stored: bytes, digest: bytes) -> None:
        """Store ``digest`` (under the current server secret) as this credential's digest in
        place of ``stored`` (under a former one), at the next flush. A rotation re-hashes
        every credential on its first use: written here, a burst of first uses after the
        restart costs one batch a second, and verification stays a read."""
        self._rehashes[credential_id] = (stored, digest)

    def _note(self, credential_id: uuid.UUID, when: datetime) -> datetime:
        """Queue this use unless the time written for the credential is close enough; the
        instant until which its uses need not be noted again."""
        written = self._written.get(credential_id)
        if written is not None and when - written < self._resolution:
            return written + self._resolution  # the stored time is close enough (or newer)
        if len(self._written) >= TRACKED:
            self._written.clear()
        self._written[credential_id] = when
        self._pending[credential_id] = when
        return when + self._resolution

    async def flush(self) -> None:
        """Write what was noted, ``TRANSACTION_CHUNKS`` chunks per transaction. When one
        fails, what it held goes back to be noted, with everything after it; the
        transactions already committed stay written."""
        await self._flush_rehashes()
        if not self._pending and not self._validated:
            metrics.usage_flushed(0)
            return
        batch, self._pending = self._pending, {}
        validations, self._validated = self._validated, {}
        chunks = [(True, chunk) for chunk in _chunks(_in_order(batch))]
        chunks += [(False, chunk) for chunk in _chunks(_in_order(validations))]
        written = 0
        try:
            while written < len(chunks):
                transaction = chunks[written : written + TRANSACTION_CHUNKS]
                async with self._database.writer(background=True) as session:
                    for is_use, chunk in transaction:
                        if is_use:
                            await repository.touch(session, chunk)
                        else:
                            await licenses.touch_validated(session, chunk)
                    await session.commit()
                written += len(transaction)
            metrics.usage_flushed(len(batch) + len(validations))
        except Exception:
            left = chunks[written:]
            count = sum(len(chunk) for _, chunk in left)
            log.exception("credential.usage.flush_failed", extra={"count": count})
            metrics.usage_flush_failed()
            for is_use, chunk in left:
                for record_id, when in chunk:
                    if is_use:
                        self._written.pop(record_id, None)
                        self._note(record_id, when)
                    else:
                        self.validated(record_id, when)

    async def _flush_rehashes(self) -> None:
        """Write the queued re-hashes; those of a transaction that fails go back in the queue."""
        if not self._rehashes:
            return
        batch, self._rehashes = self._rehashes, {}
        chunks = _chunks([(credential_id, *pair) for credential_id, pair in _in_order(batch)])
        for start in range(0, len(chunks), TRANSACTION_CHUNKS):
            transaction = chunks[start : start + TRANSACTION_CHUNKS]
            try:
                async with self._database.writer(background=True) as session:
                    for chunk in transaction:
                        await repository.rehash(session, chunk)
                    await session.commit()
            except Exception:
                count = sum(len(chunk) for chunk in transaction)
                log.exception("credential.rehash.flush_failed", extra={"count": count})
                for chunk in transaction:
                    for credential_id, stored, digest in chunk:
                        self._rehashes.setdefault(credential_id, (stored, digest))

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        """Write everything noted. A flush in progress is let finish, not cancelled: cancelled,
        its batch was lost, and on SQLite the final flush then waited out the busy timeout
        (10 s) on the cancelled transaction's write lock and failed, losing the rest too."""
        await self._periodic.stop()
        await self.flush()
