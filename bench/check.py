"""``python -m bench.check``: the credential check of a request, in process, without HTTP.

Times (``timeit``; the median of ``--repeat`` runs of ``--number`` calls, in microseconds):

- a cache hit: ``state = engine.cached(plaintext); state.evaluate(clock.now(), address)``,
  the whole check of a request whose key is cached, and its parts;
- the refusals that cost no I/O: ``engine.peek`` of a key with a wrong checksum (digest,
  cache miss, format check: MALFORMED), and ``parse`` of junk and of such a key;
- the cache key (BLAKE2s, every request) and the keyed digest (HMAC-SHA256 with the server
  secret, a cache miss only).

Then the memory a cached entry costs: ``--entries`` keys are bulk-loaded into a scratch
SQLite database and resolved through the engine (which caches each), under ``tracemalloc``;
what stays allocated, divided by the entries, is one entry's cost (the state, its key, the
cache's bookkeeping and tag index).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import os
import secrets
import statistics
import tempfile
import timeit
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.table import Table

from bench import load as loader
from bench.common import console, init_account, machine_facts, stop_on_sigterm
from keyplane.auth.network import Address
from keyplane.cache import Caches
from keyplane.config import Settings
from keyplane.credentials.engine import CredentialEngine, CredentialState, cache_key
from keyplane.db import Database
from keyplane.kit import clock
from keyplane.kit.credentials import CredentialHasher, parse

NO_CACHED = (
    "CredentialEngine has no cached(plaintext) method yet (the in-process credential cache): "
    "the cache-hit timings and the engine's memory per entry are skipped"
)


def _time(fn: Callable[[], object], number: int, repeat: int) -> tuple[float, float]:
    """Median and best of ``repeat`` runs, in microseconds per call."""
    runs = [total / number * 1e6 for total in timeit.Timer(fn).repeat(repeat=repeat, number=number)]
    return statistics.median(runs), min(runs)


def _engine(secret: bytes, entries: int) -> CredentialEngine:
    # Big enough for every entry, and long-lived enough not to expire during the run.
    return CredentialEngine(CredentialHasher(secret), Caches(), size=entries * 2 + 100, ttl=3600.0)


async def _resolve_all(
    database: Database,
    engine: CredentialEngine,
    keys: Sequence[str],
    keep: dict[bytes, CredentialState] | None,
) -> None:
    """Resolve every key (the engine caches each); ``keep``: also hold the states in a dict."""
    for start in range(0, len(keys), 1_000):
        async with database.reader() as session:
            for key in keys[start : start + 1_000]:
                _, state = await engine.resolve(session, key)
                if state is None:
                    raise SystemExit(f"a loaded key did not resolve: {key[:9]}...")
                if keep is not None:
                    keep[cache_key(key)] = state


async def _memory(url: str, engine: CredentialEngine, keys: Sequence[str], has_cache: bool) -> float:
    """Bytes that stay allocated per resolved and cached entry."""
    database = Database(url)
    kept: dict[bytes, CredentialState] | None = None if has_cache else {}
    try:
        await _resolve_all(database, engine, keys[:50], None)  # compiled statements, pools: not counted
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        await _resolve_all(database, engine, keys[50:], kept)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    finally:
        await database.dispose()
    if has_cache:
        missing = sum(engine.cached(key) is None for key in keys)
        if missing:
            console.print(f"[yellow]{missing} of {len(keys)} keys are not in the engine's cache[/]")
    return (after - before) / (len(keys) - 50)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--number", type=int, default=100_000, help="calls per timing run (default 100,000)")
    parser.add_argument(
        "--repeat", type=int, default=7, help="timing runs; the median is reported (default 7)"
    )
    parser.add_argument(
        "--entries", type=int, default=5_000, help="cache entries for the memory figure (default 5,000)"
    )
    args = parser.parse_args(argv)
    stop_on_sigterm()
    if args.entries < 100:
        raise SystemExit("--entries must be at least 100")

    for line in machine_facts():
        console.print(line)
    with tempfile.TemporaryDirectory(prefix="keyplane-check-") as scratch:
        folder = Path(scratch)
        secret = secrets.token_urlsafe(48)
        env = {
            **os.environ,
            "KEYPLANE_DATA_DIR": str(folder),
            "KEYPLANE_SECRET_KEY": secret,
            "KEYPLANE_LOG_LEVEL": "warning",
        }
        env.pop("KEYPLANE_DATABASE_URL", None)
        slug, admin_key = init_account(env)
        url = Settings(data_dir=folder, database_url="").resolved_database_url()
        loaded = asyncio.run(loader.load(url, secret.encode(), slug, args.entries - 1))
        keys = [admin_key] + [sample.plaintext for sample in loaded.samples]

        engine = _engine(secret.encode(), args.entries)
        has_cache = hasattr(engine, "cached")
        if not has_cache:
            console.print(f"[yellow]{NO_CACHED}[/]")
        per_entry = asyncio.run(_memory(url, engine, keys, has_cache))

    address: Address = ipaddress.ip_address("127.0.0.1")
    key = keys[-1]
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    hasher = engine.hasher
    n, r = args.number, args.repeat
    timings: list[tuple[str, Callable[[], object]]] = []
    if has_cache:
        cached = engine.cached
        state = cached(key)
        if state is None:
            raise SystemExit("the key just resolved is not cached: is the cache turned off?")

        def hit() -> object:
            found = cached(key)
            assert found is not None
            return found.evaluate(clock.now(), address)

        timings += [
            ("cache hit: cached(plaintext) + evaluate(now, address)", hit),
            ("  cached(plaintext) alone", lambda: cached(key)),
            ("  state.evaluate(now, address) alone", lambda: state.evaluate(clock.now(), address)),
            ("  clock.now() alone", clock.now),
            ("refusal without I/O: peek() of a key with a wrong checksum", lambda: engine.peek(wrong)),
        ]
    timings += [
        ("parse(valid key)", lambda: parse(key)),
        ("parse(wrong checksum) -> None", lambda: parse(wrong)),
        ("parse(junk) -> None", lambda: parse("not-a-keyplane-credential")),
        ("cache_key(key): BLAKE2s, what the caches know it by", lambda: cache_key(key)),
        ("HMAC-SHA256 digest of a key (compared with the stored one on a miss)", lambda: hasher.digest(key)),
    ]
    table = Table(title=f"credential check in process: median of {r} x {n:,} calls")
    table.add_column("operation")
    table.add_column("median µs", justify="right")
    table.add_column("best µs", justify="right")
    table.add_column("per second (median)", justify="right")
    for label, fn in timings:
        median, best = _time(fn, n, r)
        table.add_row(label, f"{median:.2f}", f"{best:.2f}", f"{1e6 / median:,.0f}")
    console.print(table)
    where = "the engine's cache" if has_cache else "a dict of CredentialState (no engine cache yet)"
    console.print(
        f"memory per cached entry ({args.entries - 50:,} entries in {where}, tracemalloc): "
        f"{per_entry:,.0f} bytes; 100,000 entries: {per_entry * 100_000 / 2**20:,.1f} MiB per process"
    )


if __name__ == "__main__":
    main()
