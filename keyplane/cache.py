"""Bounded, short-lived in-process caches that forget what the database changed.

Every entry carries *tags*: the ids of the records it was built from (a credential, its
parent key, its user, a license, its policy...). Ids are UUIDs, unique across tables, so a
tag needs no namespace. When a transaction that changed a record commits, this process
drops the entries tagged with its id at once, and every other process within a bounded
time: the id is written to the invalidation log in that transaction and sent over the
bus's fast path (``keyplane.invalidations``, ``keyplane.bus``).

Three rules keep a cache from ever serving what the database no longer says:

- **Size and lifetime are bounded.** An entry lives at most ``ttl`` seconds and the cache
  holds at most ``size`` entries, dropping the least recently used; memory does not grow
  with the number of keys stored. Each entry's lifetime is shortened by a random share of up
  to ``JITTER``: entries filled together (after a restart, or when a lost bus connection
  emptied the caches) would otherwise all expire in the same instant, and every request of
  that moment would read the database at once.
- **A fill that raced a change is not kept.** ``generation()`` is read before the database
  read; ``put`` refuses the entry if an invalidation of one of its tags arrived in between
  (or the history of invalidations no longer reaches back that far), since the row it was
  built from may predate the change. Unrelated changes (the stream of ``lastUsedAt``
  batches) do not hold back other fills.
- **No news is not good news.** While the process cannot vouch that it hears of every
  change (no read of the invalidation log has succeeded for a second, or none yet), the
  caches neither serve nor keep anything (``Caches.enabled``: every check reads the
  database); when a read succeeds again they start empty. A lost fast path (Redis,
  ``LISTEN``) does not suspend them: the log still vouches.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Generic, TypeVar

from keyplane import outages

K = TypeVar("K")
V = TypeVar("V")

Tag = uuid.UUID | str | None
_HISTORY = 4096
"""Invalidations remembered, to tell whether one concerned a fill that was under way."""
_FAILED = object()
_UNAVAILABLE = object()
_NONE = object()
EVERYTHING = "*"
"""The tag that drops every entry of every cache (after a change too wide to name)."""
JITTER = 0.2
"""Largest share of ``ttl`` an entry's lifetime is shortened by, at random."""


class Caches:
    """The process's caches and what they share: the generation counter and the switch."""

    def __init__(self) -> None:
        self._caches: list[TaggedCache[object, object]] = []
        self._generation = 0
        self._recent: deque[tuple[int, frozenset[str]]] = deque(maxlen=_HISTORY)
        self.enabled = True

    def cache(self, name: str, size: int, ttl: float) -> TaggedCache[K, V]:
        made: TaggedCache[K, V] = TaggedCache(self, name, size, ttl)
        self._caches.append(made)  # type: ignore[arg-type]
        return made

    def generation(self) -> int:
        return self._generation

    def changed_since(self, generation: int, tags: Iterable[str]) -> bool:
        """Whether an invalidation since ``generation`` named one of ``tags`` (or everything).
        When the history no longer reaches back that far, assume it did."""
        if generation == self._generation:
            return False
        if not self._recent or self._recent[0][0] > generation + 1:
            return True
        names = set(tags)
        for made, dropped in reversed(self._recent):
            if made <= generation:
                break
            if EVERYTHING in dropped or not names.isdisjoint(dropped):
                return True
        return False

    def invalidate(self, tags: Iterable[str]) -> None:
        """Drop every entry tagged with one of ``tags`` (``*``: everything), in every cache."""
        self._generation += 1
        tags = frozenset(tags)
        self._recent.append((self._generation, tags))
        for cache in self._caches:
            if EVERYTHING in tags:
                cache.clear()
            else:
                cache.drop(tags)

    def suspend(self) -> None:
        """Invalidations may be lost from now on: serve nothing, keep nothing."""
        self.enabled = False
        self.invalidate([EVERYTHING])

    def resume(self) -> None:
        """Invalidations flow again; start from empty caches (some may have been missed)."""
        self.invalidate([EVERYTHING])
        self.enabled = True

    def __iter__(self) -> Iterator[TaggedCache[object, object]]:
        return iter(self._caches)


class TaggedCache(Generic[K, V]):
    __slots__ = ("_entries", "_index", "_loading", "_owner", "hits", "misses", "name", "size", "ttl")

    def __init__(self, owner: Caches, name: str, size: int, ttl: float) -> None:
        self._owner = owner
        self.name = name
        self.size = size
        self.ttl = ttl
        self._entries: OrderedDict[K, tuple[float, V, tuple[str, ...]]] = OrderedDict()
        # tag -> the one key tagged with it (most tags: an entry's own id), or a set of them.
        self._index: dict[str, K | set[K]] = {}
        self._loading: dict[K, asyncio.Future[object]] = {}
        self.hits = 0
        self.misses = 0
        """Lookups since the metrics last read them (``keyplane.observe.publish``)."""

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The live entry for ``key``, or None. No I/O, a few hundred nanoseconds."""
        entry = self._entries.get(key)
        if entry is None or not self._owner.enabled:
            self.misses += 1
            return None
        if entry[0] < time.monotonic():
            self._remove(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: K, value: V, tags: Iterable[Tag], generation: int) -> None:
        """Keep ``value`` unless an invalidation arrived since ``generation`` was read."""
        if self.size <= 0 or not self._owner.enabled:
            return
        # Interned: the account's and the owner's ids are shared by many entries.
        names = tuple({sys.intern(str(tag)) for tag in tags if tag is not None})
        if self._owner.changed_since(generation, names):
            return
        if key in self._entries:
            self._remove(key)
        lifetime = self.ttl * (1.0 - JITTER * random.random())  # noqa: S311 (not a secret)
        self._entries[key] = (time.monotonic() + lifetime, value, names)
        for name in names:
            held = self._index.get(name, _NONE)
            if held is _NONE:
                self._index[name] = key
            elif isinstance(held, set):
                held.add(key)
            elif held != key:
                self._index[name] = {held, key}  # type: ignore[arg-type]
        while len(self._entries) > self.size:
            self._remove(next(iter(self._entries)))

    async def fill(
        self, key: K, load: Callable[[], Awaitable[tuple[V, Iterable[Tag]] | None]], *, wait: bool = True
    ) -> V | None:
        """The entry for ``key``, loaded by ``load`` (a value and its tags, or None for nothing
        to keep) once, however many requests ask at the same time. With ``wait`` False (the
        caller holds a pooled connection: see ``keyplane.db.holds_connection``) a load under
        way elsewhere is not waited for; this caller loads too."""
        leader = self._loading.get(key)
        if leader is not None and wait:
            shared = await asyncio.shield(leader)
            if shared is _UNAVAILABLE:
                raise outages.DatabaseUnavailable(
                    "the load this request waited for could not reach the database"
                )
            if shared is not _FAILED:
                return shared  # type: ignore[return-value]
        generation = self._owner.generation()
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            loaded = await load()
        except BaseException as error:
            # The others load it themselves; unless the database is unavailable: then they
            # fail at once, rather than wait out its timeout a second time.
            future.set_result(_UNAVAILABLE if outages.unavailable(error) else _FAILED)
            raise
        finally:
            if self._loading.get(key) is future:
                del self._loading[key]
        value = None
        if loaded is not None:
            value, tags = loaded
            self.put(key, value, tags, generation)
        future.set_result(value)
        return value

    def drop(self, tags: frozenset[str]) -> None:
        # Only the tags this cache holds, found by a set intersection in C (over the smaller
        # of the two): a batch of uses names thousands of keys, and most caches hold few.
        for tag in tags.intersection(self._index):
            held = self._index.pop(tag, _NONE)
            if held is _NONE:
                continue
            for key in list(held) if isinstance(held, set) else [held]:
                self._remove(key)  # type: ignore[arg-type]

    def clear(self) -> None:
        self._entries.clear()
        self._index.clear()

    def _remove(self, key: K) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for name in entry[2]:
            held = self._index.get(name, _NONE)
            if isinstance(held, set):
                held.discard(key)
                if not held:
                    del self._index[name]
            elif held is not _NONE and held == key:
                del self._index[name]
