"""Where the delivery worker's requests are sent from: an event loop of their own, on a thread
of their own.

A process's event loop is shared with the requests it serves. Under a load that saturates
it, each of its turns takes tens of milliseconds, and a webhook request takes several turns
(its write, each read of the answer), a few at a time per endpoint: deliveries slowed to a
handful a second while the load lasted. On a loop of its own, sending goes at its own pace
(the two threads take turns at the interpreter), and the worker waits one turn per round for
all of a round's requests.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Outlet:
    """An event loop on a thread, from ``start`` to ``stop``; before and after, work runs on
    the caller's own loop."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """What ``work`` returns, run on the outlet's loop (cancelled there when the caller
        is)."""
        loop = self._loop
        if loop is None:
            return await work
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))

    def stop(self) -> None:
        """End the loop (after whatever ``run`` still has there was let finish or cancelled by
        its caller) and its thread."""
        loop, thread = self._loop, self._thread
        self._loop, self._thread = None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
