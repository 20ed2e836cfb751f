"""Invalidations between Keyplane processes: what one process changed, every other forgets.

When a transaction commits, the ids of the records it changed are applied to this
process's caches at once (before its answer leaves) and published to the others:

- ``RedisBus``: Redis pub/sub on ``<prefix>invalidate``, when ``KEYPLANE_REDIS_URL`` is set;
- ``PostgresBus``: ``LISTEN/NOTIFY`` on the database itself, when it is PostgreSQL;
- ``MemoryBus``: one process, nothing to tell anyone.

A subscriber that loses its connection may miss messages, so until it is subscribed
again its caches are switched off (every check reads the database) and they restart empty.
A message that cannot be published is retried; the entries it should have dropped also
expire on their own (``KEYPLANE_CACHE_SECONDS``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from keyplane.cache import Caches

log = logging.getLogger("keyplane.bus")

CHANNEL = "keyplane_invalidate"
RECONNECT_SECONDS = 0.5
KEEPALIVE_SECONDS = 5.0
PUBLISH_ATTEMPTS = 5
_CHUNK = 150
"""Ids per message: a NOTIFY payload must stay under 8,000 bytes."""


class Bus:
    """The memory bus (one process) and the base of the others."""

    kind = "memory"

    def __init__(self, caches: Caches) -> None:
        self.caches = caches
        self.origin = uuid.uuid4().hex
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def publish(self, tags: Iterable[str]) -> None:
        """Forget ``tags`` here now, and tell the other processes (without waiting)."""
        tags = list(set(tags))
        if not tags:
            return
        self.caches.invalidate(tags)
        if self.kind != "memory":  # else nobody else to tell
            self._spawn(self._deliver_all(tags))

    async def _deliver_all(self, tags: list[str]) -> None:
        """Each message in turn, letting requests run in between: a batch of uses can name
        thousands of keys."""
        for start in range(0, len(tags), _CHUNK):
            await self._deliver(json.dumps({"origin": self.origin, "tags": tags[start : start + _CHUNK]}))

    def _spawn(self, coroutine: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coroutine)
        except RuntimeError:  # no loop (a synchronous caller): nobody else to tell
            coroutine.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, payload: str) -> None:
        for attempt in range(PUBLISH_ATTEMPTS):
            try:
                await self._send(payload)
                return
            except Exception:
                log.warning("bus.publish_failed", extra={"attempt": attempt + 1, "bus": self.kind})
                await asyncio.sleep(RECONNECT_SECONDS * (attempt + 1))
        log.error("bus.publish_lost", extra={"bus": self.kind})

    async def _send(self, payload: str) -> None:
        return None

    def _receive(self, payload: str | bytes) -> None:
        try:
            message = json.loads(payload)
            origin, tags = message["origin"], message["tags"]
        except (ValueError, KeyError, TypeError):
            log.warning("bus.message_invalid")
            return
        if origin != self.origin and isinstance(tags, list):
            self.caches.invalidate(str(tag) for tag in tags)


class RedisBus(Bus):
    kind = "redis"

    def __init__(self, caches: Caches, url: str, prefix: str) -> None:
        super().__init__(caches)
        self.channel = f"{prefix}invalidate"
        self._client = aioredis.Redis.from_url(url, health_check_interval=KEEPALIVE_SECONDS)
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        self.caches.suspend()
        self._listener = asyncio.create_task(self._listen(), name="keyplane-bus-redis")
        # Serve from the cache only once subscribed; don't hold up startup for long.
        with suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def stop(self) -> None:
        await super().stop()
        if self._listener is not None:
            self._listener.cancel()
            with suppress(asyncio.CancelledError):
                await self._listener
        await self._client.aclose()

    async def _send(self, payload: str) -> None:
        await self._client.publish(self.channel, payload)

    async def _listen(self) -> None:
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.caches.resume()
                self._subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=KEEPALIVE_SECONDS)
                    if message is None:
                        await pubsub.ping()
                    elif message.get("type") == "message":
                        self._receive(message["data"])
            except (RedisError, OSError):
                log.warning("bus.disconnected", extra={"bus": self.kind})
            finally:
                self.caches.suspend()
                self._subscribed.clear()
                with suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(RECONNECT_SECONDS)


class PostgresBus(Bus):
    kind = "postgresql"

    def __init__(self, caches: Caches, database_url: str) -> None:
        super().__init__(caches)
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._connection: Any = None
        self._lock = asyncio.Lock()
        self._runner: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        self.caches.suspend()
        self._runner = asyncio.create_task(self._run(), name="keyplane-bus-postgresql")
        with suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def stop(self) -> None:
        await super().stop()
        if self._runner is not None:
            self._runner.cancel()
            with suppress(asyncio.CancelledError):
                await self._runner

    async def _send(self, payload: str) -> None:
        async with self._lock:
            if self._connection is None:
                raise ConnectionError("not connected")
            await self._connection.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._receive(payload)

    async def _run(self) -> None:
        import asyncpg

        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self._dsn, timeout=KEEPALIVE_SECONDS)
                await connection.add_listener(CHANNEL, self._notified)
                connection.add_termination_listener(lambda _connection: self.caches.suspend())
                self._connection = connection
                self.caches.resume()
                self._subscribed.set()
                while True:
                    await asyncio.sleep(KEEPALIVE_SECONDS)
                    async with self._lock:
                        await connection.fetchval("SELECT 1", timeout=KEEPALIVE_SECONDS)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                log.warning("bus.disconnected", extra={"bus": self.kind})
            finally:
                self.caches.suspend()
                self._subscribed.clear()
                self._connection = None
                if connection is not None:
                    with suppress(Exception):
                        await connection.close(timeout=1)
            await asyncio.sleep(RECONNECT_SECONDS)


def bus_for(caches: Caches, database_url: str, redis_url: str, prefix: str) -> Bus:
    """Redis when configured, else the database's own LISTEN/NOTIFY, else memory."""
    if redis_url:
        return RedisBus(caches, redis_url, prefix)
    if make_url(database_url).get_backend_name() == "postgresql":
        return PostgresBus(caches, database_url)
    return Bus(caches)
