"""Work that runs every so many seconds in a process's background (usage writes, batched
events, retention, notifications), started and stopped with the server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress


class Periodic:
    """``work`` every ``interval`` seconds (first at once with ``at_start``, else after one
    interval) until ``stop``. ``work`` must not raise: it logs its own failures and leaves
    the rest to its next run. ``stop`` lets a run in progress finish rather than cancel it (a
    write cancelled mid-transaction would leave SQLite's lock to time out)."""

    def __init__(
        self, name: str, interval: float, work: Callable[[], Awaitable[object]], *, at_start: bool = False
    ) -> None:
        self._name = name
        self._interval = interval
        self._work = work
        self._at_start = at_start
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        stopping = self._stopping
        if self._at_start:
            await self._work()
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._interval)
            if stopping.is_set():
                return
            await self._work()

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping.set()
            await self._task
            self._task = None
