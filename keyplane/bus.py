"""Invalidations between Keyplane processes: what one process changed, every other forgets.

When a transaction commits, the tags of the records it changed are applied to this
process's caches at once (before its answer leaves), and reach the others two ways:

- **The invalidation log** (``keyplane.invalidations``), always: rows written in the
  changing transaction itself, read by every process every quarter second. It is the
  channel that vouches for the caches: a process that has not read it for a second stops
  serving from its caches (every check reads the database) until it reads it again, and
  then starts over empty. So no process accepts a revoked credential more than about a
  second after the revocation committed, whatever happens to Redis, to a notification
  connection or to the network; two seconds is the documented bound.
- **A fast path**, kept for speed (milliseconds instead of a quarter second):
  ``RedisBus``, Redis pub/sub on ``<prefix>invalidate`` when ``KEYPLANE_REDIS_URL`` is set;
  ``PostgresBus``, ``LISTEN/NOTIFY`` on the database itself when it is PostgreSQL; the
  memory bus (nothing to tell) on SQLite, whose workers learn from the log alone. Each fast
  path checks its connection with a heartbeat (a PING, or ``SELECT 1``, whose reply must
  come within ``HEARTBEAT_DEADLINE``); silence past it, a reset or a closed connection
  tears it down and subscribes again. A lost message costs nothing but time: the log
  carries it too.

What operators read (``/readyz``, ``/metrics``): ``bus.kind`` (``memory``, ``redis``,
``postgresql``), ``bus.subscribed`` and ``bus.last_heard_age()`` (seconds since the fast
path's last message or heartbeat reply), ``bus.healthy()`` (the fast path is subscribed and
heard from within its deadline; always true for the memory bus), and ``bus.log``:
``vouching()`` (the caches may serve) and ``last_read_age()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from keyplane.cache import Caches
from keyplane.db import Database
from keyplane.invalidations import libpq_url
from keyplane.log_reader import LogReader

log = logging.getLogger("keyplane.bus")

CHANNEL = "keyplane_invalidate"
RECONNECT_SECONDS = 0.5
HEARTBEAT_SECONDS = 0.5
"""Silence after which a fast path checks its connection (a PING, a ``SELECT 1``)."""
HEARTBEAT_DEADLINE = 1.5
"""Silence after which a fast path's connection is torn down and made again."""
PUBLISH_ATTEMPTS = 5
_CHUNK = 150
"""Ids per message: a NOTIFY payload must stay under 8,000 bytes."""


class Silence(Exception):
    """A fast path heard nothing, not even a heartbeat reply, within its deadline."""


class Bus:
    """The memory bus (no fast path: one process, or SQLite workers learning from the log)
    and the base of the others."""

    kind = "memory"

    def __init__(self, caches: Caches, database: Database) -> None:
        self.caches = caches
        self.origin = database.origin
        self.log = LogReader(database, caches, self.origin)
        """The invalidation log's reader, which vouches for the caches."""
        self.subscribed = False
        """Whether the fast path is subscribed (confirmed by its server)."""
        self._heard_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._up = asyncio.Event()

    def healthy(self) -> bool:
        """Whether the fast path works: subscribed, and heard from within its deadline."""
        if self.kind == "memory":
            return True
        age = self.last_heard_age()
        return self.subscribed and age is not None and age <= HEARTBEAT_DEADLINE

    def last_heard_age(self) -> float | None:
        """Seconds since the fast path's last message or heartbeat reply (None: never)."""
        return None if self._heard_at is None else time.monotonic() - self._heard_at

    def _heard(self) -> None:
        self._heard_at = time.monotonic()

    def _subscribed(self, subscribed: bool) -> None:
        self.subscribed = subscribed
        if subscribed:
            self._up.set()

    async def _started(self) -> None:
        """Wait a little for the fast path to subscribe (the log vouches meanwhile)."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), HEARTBEAT_DEADLINE)

    async def start(self) -> None:
        """Read the log (waiting a little for its first read), then start the fast path."""
        await self.log.start()

    async def stop(self) -> None:
        """Let publications under way finish (a little while: the log carries them too),
        then stop reading the log."""
        await self._drain()
        await self.log.stop()

    async def _drain(self) -> None:
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=HEARTBEAT_DEADLINE)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def publish(self, tags: Iterable[str]) -> None:
        """Forget ``tags`` here now, and tell the other processes (without waiting)."""
        tags = list(set(tags))
        if not tags:
            return
        self.caches.invalidate(tags)
        if self.kind != "memory":  # else nobody else to tell but the log
            self._spawn(self._deliver_all(tags))

    async def _deliver_all(self, tags: list[str]) -> None:
        """Each message in turn, letting requests run in between: a batch of uses can name
        thousands of keys."""
        for start in range(0, len(tags), _CHUNK):
            await self._deliver(json.dumps({"origin": self.origin, "tags": tags[start : start + _CHUNK]}))

    def _spawn(self, coroutine: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coroutine)
        except RuntimeError:  # no loop (a synchronous caller): the log tells the others
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

    def __init__(self, caches: Caches, database: Database, url: str, prefix: str) -> None:
        super().__init__(caches, database)
        self.channel = f"{prefix}invalidate"
        # Timeouts on every command: a frozen server must fail a publish, not hang it.
        self._client = aioredis.Redis.from_url(
            url, socket_timeout=HEARTBEAT_DEADLINE, socket_connect_timeout=HEARTBEAT_DEADLINE
        )
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self._listener = asyncio.create_task(self._listen(), name="keyplane-bus-redis")
        await self._started()

    async def stop(self) -> None:
        await self._drain()
        if self._listener is not None:
            self._listener.cancel()
            with suppress(asyncio.CancelledError):
                await self._listener
        await super().stop()
        await self._client.aclose()

    async def _send(self, payload: str) -> None:
        await self._client.publish(self.channel, payload)

    async def _listen(self) -> None:
        while True:
            pubsub = self._client.pubsub()
            try:
                # asyncio.timeout, not wait_for, in tasks that stop() cancels: on Python 3.11
                # wait_for can swallow a cancellation, and the loop would never end.
                async with asyncio.timeout(HEARTBEAT_DEADLINE):
                    await self._subscribe(pubsub)
                await self._follow(pubsub)
            except (RedisError, OSError, TimeoutError, Silence) as error:
                log.warning("bus.disconnected", extra={"bus": self.kind, "error": type(error).__name__})
            finally:
                self._subscribed(False)
                with suppress(Exception):
                    async with asyncio.timeout(HEARTBEAT_DEADLINE):
                        await pubsub.aclose()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _subscribe(self, pubsub: Any) -> None:
        """Subscribe, and wait for the server to confirm it."""
        await pubsub.subscribe(self.channel)
        while True:
            message = await pubsub.get_message(timeout=HEARTBEAT_DEADLINE)
            if message is not None and message.get("type") == "subscribe":
                break
        self._heard()
        self._subscribed(True)

    async def _follow(self, pubsub: Any) -> None:
        """Apply messages; PING after ``HEARTBEAT_SECONDS`` of silence, and give up after
        ``HEARTBEAT_DEADLINE`` without a message or a reply."""
        while True:
            message = await pubsub.get_message(timeout=HEARTBEAT_SECONDS)
            if message is not None:
                self._heard()
                if message.get("type") == "message":
                    self._receive(message["data"])
                continue
            age = self.last_heard_age()
            if age is None or age > HEARTBEAT_DEADLINE:
                raise Silence(f"nothing from Redis for {age}s")
            async with asyncio.timeout(HEARTBEAT_SECONDS):
                await pubsub.ping()


class PostgresBus(Bus):
    kind = "postgresql"

    def __init__(self, caches: Caches, database: Database) -> None:
        super().__init__(caches, database)
        self._dsn = libpq_url(database.url)
        self._connection: Any = None
        self._lock = asyncio.Lock()
        self._runner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self._runner = asyncio.create_task(self._run(), name="keyplane-bus-postgresql")
        await self._started()

    async def stop(self) -> None:
        await self._drain()
        if self._runner is not None:
            self._runner.cancel()
            with suppress(asyncio.CancelledError):
                await self._runner
        await super().stop()

    async def _send(self, payload: str) -> None:
        async with asyncio.timeout(HEARTBEAT_DEADLINE), self._lock:
            if self._connection is None:
                raise ConnectionError("not connected")
            await self._connection.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._heard()
        self._receive(payload)

    async def _run(self) -> None:
        import asyncpg

        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self._dsn, timeout=HEARTBEAT_DEADLINE)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, self._notified)
                self._connection = connection
                self._heard()
                self._subscribed(True)
                await self._heartbeat(connection, lost)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError, Silence) as error:
                log.warning("bus.disconnected", extra={"bus": self.kind, "error": type(error).__name__})
            finally:
                self._subscribed(False)
                self._connection = None
                if connection is not None:
                    connection.terminate()  # at once: a frozen peer would never answer a close
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _heartbeat(self, connection: Any, lost: asyncio.Event) -> None:
        """``SELECT 1`` after every ``HEARTBEAT_SECONDS``; its reply must come within the
        deadline (waiting for a publish under way included)."""
        while True:
            with suppress(TimeoutError):
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    await lost.wait()
            if lost.is_set():
                raise Silence("the notification connection was closed")
            async with asyncio.timeout(HEARTBEAT_DEADLINE), self._lock:
                await connection.fetchval("SELECT 1")
            self._heard()


def bus_for(caches: Caches, database: Database, redis_url: str, prefix: str) -> Bus:
    """Redis when configured, else the database's own LISTEN/NOTIFY, else memory."""
    if redis_url:
        return RedisBus(caches, database, redis_url, prefix)
    if make_url(database.url).get_backend_name() == "postgresql":
        return PostgresBus(caches, database)
    return Bus(caches, database)
