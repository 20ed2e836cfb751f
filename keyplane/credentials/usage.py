"""``lastUsedAt`` and ``lastValidated`` written in batches, off the request path.

A write per verification would turn every read into a write (and, on SQLite, serialise
them). Uses are collected in memory, newest instant per credential, and flushed on a timer
and at shutdown; losing the last second of ``lastUsedAt`` in a crash loses no committed
API write.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import suppress
from datetime import datetime

from keyplane.credentials import repository
from keyplane.credentials.engine import CredentialState
from keyplane.db import Database
from keyplane.licenses import repository as licenses

log = logging.getLogger("keyplane.usage")


class UsageRecorder:
    def __init__(self, database: Database, interval: float) -> None:
        self._database = database
        self._interval = interval
        self._pending: dict[uuid.UUID, datetime] = {}
        self._validated: dict[uuid.UUID, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def record(self, state: CredentialState, when: datetime) -> None:
        """A use of this credential; an OAuth2 access token's use is its API key's use too.
        (Every request makes one: ``_note`` inlined for the commonest case.)"""
        previous = self._pending.get(state.id)
        if previous is None or previous < when:
            self._pending[state.id] = when
        if state.parent_id is not None:
            self._note(state.parent_id, when)

    def validated(self, license_id: uuid.UUID, when: datetime) -> None:
        """A full validation of this license (its ``lastValidated``)."""
        previous = self._validated.get(license_id)
        if previous is None or previous < when:
            self._validated[license_id] = when

    def _note(self, credential_id: uuid.UUID, when: datetime) -> None:
        previous = self._pending.get(credential_id)
        if previous is None or previous < when:
            self._pending[credential_id] = when

    async def flush(self) -> None:
        if not self._pending and not self._validated:
            return
        batch, self._pending = self._pending, {}
        validations, self._validated = self._validated, {}
        try:
            async with self._database.writer() as session:
                await repository.touch(session, sorted(batch.items()))
                await licenses.touch_validated(session, sorted(validations.items()))
                await session.commit()
        except Exception:
            log.exception("credential.usage.flush_failed", extra={"count": len(batch) + len(validations)})
            for credential_id, when in batch.items():
                self._note(credential_id, when)
            for license_id, when in validations.items():
                self.validated(license_id, when)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="keyplane-usage")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
