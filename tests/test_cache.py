"""The in-process caches: bounded, short-lived, and never keeping what a change made stale."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from keyplane import outages
from keyplane.bus import Bus
from keyplane.cache import EVERYTHING, JITTER, Caches, TaggedCache
from keyplane.db import Database


def _cache(size: int = 10, ttl: float = 60.0) -> tuple[Caches, TaggedCache[str, str]]:
    caches = Caches()
    return caches, caches.cache("test", size, ttl)


def test_an_entry_is_served_until_its_lifetime_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    caches, cache = _cache(ttl=5)
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now)
    cache.put("k", "v", ["t"], caches.generation())
    assert cache.get("k") == "v"
    monkeypatch.setattr(time, "monotonic", lambda: now + 5 * (1 - JITTER) - 0.01)
    assert cache.get("k") == "v"
    monkeypatch.setattr(time, "monotonic", lambda: now + 5.01)
    assert cache.get("k") is None
    assert len(cache) == 0


def test_entries_filled_together_do_not_all_expire_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache filled in one burst (a restart) must not empty in one instant 300 s later, with
    every request of that moment reading the database: lifetimes spread over the last
    ``JITTER`` of ``ttl``, and none is longer than ``ttl``."""
    caches, cache = _cache(size=1000, ttl=100)
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now)
    for number in range(1000):
        cache.put(f"k{number}", "v", [], caches.generation())
    alive = []
    for elapsed in (100 * (1 - JITTER) - 0.01, 90, 100.01):
        monkeypatch.setattr(time, "monotonic", lambda elapsed=elapsed: now + elapsed)
        alive.append(sum(cache.get(f"k{number}") is not None for number in range(1000)))
    assert alive[0] == 1000
    assert 300 < alive[1] < 700  # about half lived past 90 s, half did not
    assert alive[2] == 0


def test_the_size_is_bounded_and_the_least_recently_used_goes_first() -> None:
    caches, cache = _cache(size=3)
    for key in ("a", "b", "c"):
        cache.put(key, key.upper(), [key], caches.generation())
    assert cache.get("a") == "A"  # now the most recently used
    cache.put("d", "D", ["d"], caches.generation())
    assert len(cache) == 3
    assert cache.get("b") is None
    assert [cache.get(key) for key in ("a", "c", "d")] == ["A", "C", "D"]
    for number in range(1000):
        cache.put(f"x{number}", "x", [f"x{number}", "shared"], caches.generation())
    assert len(cache) == 3
    assert len(cache._index) <= 4  # the index shrinks with the entries


def test_an_invalidation_drops_every_entry_with_that_tag_in_every_cache() -> None:
    caches = Caches()
    one: TaggedCache[str, str] = caches.cache("one", 10, 60)
    two: TaggedCache[str, str] = caches.cache("two", 10, 60)
    owner, other = uuid.uuid4(), uuid.uuid4()
    one.put("a", "A", [owner, None], caches.generation())
    one.put("b", "B", [other], caches.generation())
    two.put("c", "C", [owner, "extra"], caches.generation())
    caches.invalidate([str(owner)])
    assert (one.get("a"), one.get("b"), two.get("c")) == (None, "B", None)
    caches.invalidate([EVERYTHING])
    assert one.get("b") is None


def test_a_fill_that_raced_an_invalidation_of_its_tags_is_not_kept() -> None:
    caches, cache = _cache()
    before = caches.generation()  # read before the database read
    caches.invalidate(["k"])  # a change to what the entry is built from, committed meanwhile
    cache.put("k", "stale?", ["k"], before)
    assert cache.get("k") is None
    cache.put("k", "fresh", ["k"], caches.generation())
    assert cache.get("k") == "fresh"


def test_a_fill_is_kept_when_only_unrelated_things_changed_meanwhile() -> None:
    caches, cache = _cache()
    before = caches.generation()
    for number in range(100):
        caches.invalidate([f"used:{number}"])  # the lastUsedAt batches of other keys
    cache.put("k", "v", ["k"], before)
    assert cache.get("k") == "v"
    caches.invalidate([EVERYTHING])
    cache.put("j", "v", ["j"], before)
    assert cache.get("j") is None


def test_a_fill_older_than_the_remembered_invalidations_is_not_kept() -> None:
    caches, cache = _cache()
    before = caches.generation()
    for number in range(5000):
        caches.invalidate([f"other:{number}"])
    cache.put("k", "v", ["k"], before)
    assert cache.get("k") is None


def test_while_suspended_nothing_is_served_or_kept() -> None:
    caches, cache = _cache()
    cache.put("k", "v", ["k"], caches.generation())
    caches.suspend()
    assert cache.get("k") is None
    cache.put("k", "v", ["k"], caches.generation())
    caches.resume()
    assert cache.get("k") is None  # restarted empty
    cache.put("k", "v", ["k"], caches.generation())
    assert cache.get("k") == "v"


async def test_concurrent_misses_load_once() -> None:
    _, cache = _cache()
    loads = 0

    async def load() -> tuple[str, list[str]]:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return "loaded", ["k"]

    results = await asyncio.gather(*(cache.fill("k", load) for _ in range(20)))
    assert results == ["loaded"] * 20
    assert loads == 1
    assert cache.get("k") == "loaded"


async def test_a_failed_load_leaves_the_others_to_load_themselves() -> None:
    _, cache = _cache()
    calls = 0

    async def load() -> tuple[str, list[str]]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise ValueError("a row the loader could not read")
        return "second try", ["k"]

    results = await asyncio.gather(*(cache.fill("k", load) for _ in range(3)), return_exceptions=True)
    assert isinstance(results[0], ValueError)
    assert results[1:] == ["second try", "second try"]


async def test_a_load_that_found_the_database_unavailable_fails_its_followers_at_once() -> None:
    """Waiting requests do not each wait out the database's timeout again (a 503 within the
    bound, not twice it)."""
    _, cache = _cache()
    calls = 0

    async def load() -> tuple[str, list[str]]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise ConnectionResetError("database gone")

    results = await asyncio.gather(*(cache.fill("k", load) for _ in range(3)), return_exceptions=True)
    assert isinstance(results[0], ConnectionResetError)
    assert all(isinstance(result, outages.DatabaseUnavailable) for result in results[1:])
    assert calls == 1


def _database(tmp_path: Path) -> Database:
    """A database the bus is made for (these tests never connect to it)."""
    return Database(f"sqlite:///{tmp_path / 'unused.db'}")


async def test_the_memory_bus_applies_a_publication_at_once(tmp_path: Path) -> None:
    caches, cache = _cache()
    bus = Bus(caches, _database(tmp_path))
    cache.put("k", "v", ["tag"], caches.generation())
    bus.publish(["tag"])
    assert cache.get("k") is None
    await bus.stop()


def test_a_message_from_another_process_is_applied_and_an_echo_ignored(tmp_path: Path) -> None:
    caches, cache = _cache()
    bus = Bus(caches, _database(tmp_path))
    cache.put("mine", "v", ["a"], caches.generation())
    cache.put("theirs", "v", ["b"], caches.generation())
    bus._receive(f'{{"origin": "{bus.origin}", "tags": ["a"]}}')
    bus._receive('{"origin": "another", "tags": ["b"]}')
    bus._receive("not json")
    assert (cache.get("mine"), cache.get("theirs")) == ("v", None)
