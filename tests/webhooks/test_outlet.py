"""The delivery worker's requests go out from an event loop of their own while it runs (the
process's own may be saturated by requests), and a round cut short cancels what it had
there."""

from __future__ import annotations

import asyncio
import threading

import pytest

from keyplane.webhooks.outlet import Outlet


async def _where() -> tuple[str, asyncio.AbstractEventLoop]:
    return threading.current_thread().name, asyncio.get_running_loop()


async def test_work_runs_on_the_outlets_own_loop_from_start_to_stop() -> None:
    here = threading.current_thread().name, asyncio.get_running_loop()
    outlet = Outlet("test-outlet")
    assert await outlet.run(_where()) == here
    outlet.start()
    try:
        name, loop = await outlet.run(_where())
        assert name == "test-outlet"
        assert loop is not here[1]
    finally:
        outlet.stop()
    assert await outlet.run(_where()) == here


async def test_a_caller_cancelled_cancels_its_work_on_the_outlet() -> None:
    outlet = Outlet("test-outlet")
    outlet.start()
    started, cancelled = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    try:
        waiting = asyncio.create_task(outlet.run(forever()))
        assert await asyncio.to_thread(started.wait, 10)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert await asyncio.to_thread(cancelled.wait, 10)
    finally:
        outlet.stop()
