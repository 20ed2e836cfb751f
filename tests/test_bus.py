"""The fast paths' heartbeats: a Redis or a notification connection that goes silent is
noticed within its deadline and made again, and says so to whoever asks (``/readyz``);
meanwhile the invalidation log still vouches for the caches."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from sqlalchemy.engine import make_url

from keyplane.bus import HEARTBEAT_DEADLINE, HEARTBEAT_SECONDS, Bus, PostgresBus, RedisBus
from keyplane.cache import Caches, TaggedCache
from keyplane.db import Database
from tests.faults import proxy, redis_server

NOTICED = HEARTBEAT_DEADLINE + HEARTBEAT_SECONDS + 0.5
"""How soon a silent connection must be reported (its deadline, one heartbeat, some slack)."""
BACK = 10.0
"""Generous time to subscribe again once the connection carries bytes again."""


async def _until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _goes_silent_and_comes_back(
    bus: Bus, freeze: Callable[[], None], restore: Callable[[], None]
) -> None:
    """``bus`` (started) is healthy; frozen, it says so and leaves the connection; restored,
    it subscribes again by itself."""
    assert bus.subscribed
    assert bus.healthy()
    freeze()
    assert await _until(lambda: not bus.healthy(), NOTICED), "a frozen connection went unnoticed"
    assert await _until(lambda: not bus.subscribed, NOTICED), "a frozen connection was kept"
    assert bus.log.vouching()  # the log still tells this process of every change
    restore()
    assert await _until(bus.healthy, BACK), "the bus did not subscribe again"
    age = bus.last_heard_age()
    assert age is not None
    assert age <= HEARTBEAT_DEADLINE


async def test_a_frozen_redis_is_noticed_and_subscribed_to_again(
    tmp_path: Path, database_url: str, redis_prefix: str
) -> None:
    database = Database(database_url)
    caches = Caches()
    with redis_server(tmp_path) as server, proxy("127.0.0.1", server.port) as through:
        bus = RedisBus(caches, database, f"redis://127.0.0.1:{through.port}/0", redis_prefix)
        await bus.start()
        try:
            await _goes_silent_and_comes_back(bus, through.freeze, through.restore)
            # Subscribed again, it hears what others publish.
            cache: TaggedCache[str, str] = caches.cache("probe", 10, 60)
            cache.put("k", "v", ["tag"], caches.generation())
            client = redis.Redis(port=server.port)
            try:
                client.publish(bus.channel, json.dumps({"origin": "another", "tags": ["tag"]}))
            finally:
                client.close()
            assert await _until(lambda: cache.get("k") is None, BACK)
        finally:
            await bus.stop()
            await database.dispose()


async def test_a_frozen_notification_connection_is_noticed_and_made_again(
    tmp_path: Path, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY: PostgreSQL only")
    url = make_url(database_url)
    with proxy(url.host or "127.0.0.1", url.port or 5432) as through:
        # The log is read directly; only the notification connection goes through the proxy.
        database = Database(database_url)
        bus = PostgresBus(Caches(), database)
        bus._dsn = (
            make_url(bus._dsn).set(host="127.0.0.1", port=through.port).render_as_string(hide_password=False)
        )
        await bus.start()
        try:
            await _goes_silent_and_comes_back(bus, through.freeze, through.restore)
        finally:
            await bus.stop()
            await database.dispose()
