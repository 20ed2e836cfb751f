"""Revocation reaches every process within two seconds whatever happens to the channel.

Real ``keyplane serve`` processes share one PostgreSQL database. Process B has a key in its
cache; a fault is put between it and what tells it of changes (Redis frozen, killed,
partitioned or closed; the revoking process alone cut off from Redis; B's database
connections frozen or reset), then process A deletes the key. Every verification B
answers is recorded, and the last one it answers VALID must come no later than ``BOUND``
seconds after A's answer to the delete (the revoking commit). Meanwhile B may answer 503,
or not in time, while it cannot read its database; it must never accept.

Before the invalidation log, Redis frozen kept B accepting for minutes (its listener's
PING was never checked), and a frozen notification connection for about five seconds.
Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests import live
from tests.faults import Proxy, RedisServer

pytestmark = pytest.mark.xdist_group("revocation-faults")
"""One worker runs these tests (``make test`` distributes by group): its two clusters of
servers start once per database, not once per worker."""


SECRET = "revocation-faults-secret-" + "f" * 32
BOUND = 2.0
"""Seconds after the revoking commit within which no process may accept (the product's bound)."""
OBSERVE = BOUND + 1.0
"""How long B is watched after the revocation."""
ATTEMPT_TIMEOUT = 1.0
"""A verification B has not answered by then counts as refused (it cannot read its database)."""
WARM_TIMEOUT = 10.0
"""For the verifications that put the key in B's cache before the fault (a first read)."""
RECOVERY = 15.0
"""Generous time for B to answer from its database again once the fault is healed."""


@dataclass
class Cluster:
    """Two processes on one database: A revokes, B is watched."""

    a: str
    b: str
    account: dict[str, str]


@pytest.fixture(scope="module")
def postgresql_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("faults of Redis and of PostgreSQL's connections: PostgreSQL only")
    return database_url


def _through(database_url: str, proxy: Proxy) -> str:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


def _cluster(
    stack: ExitStack, workdir: Path, envs: tuple[dict[str, str], dict[str, str]], slug: str
) -> Cluster:
    made = live.init(envs[0], slug, f"admin@{slug}.test", "a long enough password")
    a = stack.enter_context(live.serve(envs[0], workdir / f"{slug}-a.log"))
    b = stack.enter_context(live.serve(envs[1], workdir / f"{slug}-b.log"))
    return Cluster(a, b, {"key": made["apiKey"], "slug": slug})


@dataclass
class RedisFaults:
    cluster: Cluster
    redis: RedisServer
    to_a: Proxy
    to_b: Proxy


@pytest.fixture(scope="module")
def redis_faults(postgresql_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisFaults]:
    """A and B on PostgreSQL, each reaching a Redis of the test's own through a proxy of its own."""
    workdir = tmp_path_factory.mktemp("redis-faults")
    try:
        with ExitStack() as stack:
            redis = RedisServer(workdir)
            redis.start()
            stack.callback(redis.stop)
            proxies = [Proxy("127.0.0.1", redis.port) for _ in range(2)]
            for proxy in proxies:
                stack.callback(proxy.close)
            envs = tuple(
                live.environment(
                    postgresql_url,
                    SECRET,
                    workdir,
                    redis_url=f"redis://127.0.0.1:{proxy.port}/0",
                    redis_prefix="faults:",
                )
                for proxy in proxies
            )
            cluster = _cluster(stack, workdir, (envs[0], envs[1]), f"rf{time.monotonic_ns() % 10**9}")
            yield RedisFaults(cluster, redis, proxies[0], proxies[1])
    finally:
        asyncio.run(live.empty(postgresql_url))


@pytest.fixture(scope="module")
def database_faults(
    postgresql_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cluster, Proxy]]:
    """A and B on PostgreSQL without Redis; B reaches the database through a proxy."""
    workdir = tmp_path_factory.mktemp("database-faults")
    try:
        with ExitStack() as stack:
            database = make_url(postgresql_url)
            proxy = Proxy(database.host or "127.0.0.1", database.port or 5432)
            stack.callback(proxy.close)
            envs = (
                live.environment(postgresql_url, SECRET, workdir),
                live.environment(_through(postgresql_url, proxy), SECRET, workdir),
            )
            cluster = _cluster(stack, workdir, envs, f"df{time.monotonic_ns() % 10**9}")
            yield cluster, proxy
    finally:
        asyncio.run(live.empty(postgresql_url))


def _auth(cluster: Cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.account['key']}"}


def _verify(
    http: httpx.Client, base: str, cluster: Cluster, key: str, timeout: float = ATTEMPT_TIMEOUT
) -> str:
    """The code B answers, or the status when it refuses, or ``timeout``/``error``."""
    try:
        response = http.post(
            f"{base}/v1/accounts/{cluster.account['slug']}/api-keys/verify",
            json={"key": key},
            headers=_auth(cluster),
            timeout=timeout,
        )
    except httpx.TimeoutException:
        return "timeout"
    except httpx.TransportError:
        return "error"
    if response.status_code != 200:
        return str(response.status_code)
    code: str = response.json()["code"]
    return code


def _watch(cluster: Cluster, key: str, until: list[float], seen: list[tuple[float, str]]) -> None:
    """Verify ``key`` on B over and over (a fresh connection each time, as callers do)
    until ``until[0]``, recording when each answer arrived."""
    while time.monotonic() < until[0]:
        with httpx.Client() as http:
            code = _verify(http, cluster.b, cluster, key)
        seen.append((time.monotonic(), code))


def _ready(base: str) -> None:
    """Wait until ``base`` reports ready: after the previous fault healed, its caches stay
    suspended until its log reader has caught up, and a key verified meanwhile is not cached."""
    deadline = time.monotonic() + RECOVERY
    while httpx.get(f"{base}/readyz", timeout=WARM_TIMEOUT).status_code != 200:
        assert time.monotonic() < deadline, f"{base} is still not ready {RECOVERY:g}s after the fault healed"
        time.sleep(0.05)


def _revoke_under(cluster: Cluster, name: str, fault: Callable[[], None], heal: Callable[[], None]) -> float:
    """Put ``fault`` in place with B trusting a key, delete the key through A, and watch B.
    The seconds from A's answer to B's last acceptance (0 when none came after)."""
    _ready(cluster.b)
    made = httpx.post(
        f"{cluster.a}/v1/accounts/{cluster.account['slug']}/api-keys",
        json={"name": f"under {name}"},
        headers=_auth(cluster),
        timeout=10,
    )
    assert made.status_code == 201, made.text
    key = made.json()
    with httpx.Client() as http:
        for _ in range(3):  # B verified it: it is in B's cache
            assert _verify(http, cluster.b, cluster, key["key"], WARM_TIMEOUT) == "VALID"
    seen: list[tuple[float, str]] = []
    until = [time.monotonic() + 60.0]
    fault()
    try:
        watcher = threading.Thread(target=_watch, args=(cluster, key["key"], until, seen))
        watcher.start()
        time.sleep(0.3)  # B answers from its cache under the fault
        deleted = httpx.delete(
            f"{cluster.a}/v1/accounts/{cluster.account['slug']}/api-keys/{key['id']}",
            headers=_auth(cluster),
            timeout=10,
        )
        committed = time.monotonic()
        assert deleted.status_code == 204, deleted.text
        until[0] = committed + OBSERVE
        watcher.join()
    finally:
        heal()
    accepted = [when for when, code in seen if code == "VALID"]
    lag = max((when - committed for when in accepted if when > committed), default=0.0)
    answers = sorted({code for _, code in seen})
    figures = (
        f"{name}: last acceptance {lag:.3f}s after the revoking commit; "
        f"{len(seen)} attempts, {len(accepted)} accepted in all, answers {answers}"
    )
    print(figures)
    assert accepted, f"B never answered from its cache under the fault, so this proves nothing: {figures}"
    assert lag <= BOUND, figures
    _recovers(cluster, key["key"])
    return lag


def _recovers(cluster: Cluster, key: str) -> None:
    """Once healed, B answers from its database again by itself, and refuses the key."""
    deadline = time.monotonic() + RECOVERY
    with httpx.Client() as http:
        while (code := _verify(http, cluster.b, cluster, key, WARM_TIMEOUT)) != "REVOKED":
            assert code != "VALID"
            assert time.monotonic() < deadline, f"B still answers {code} after the fault healed"
            time.sleep(0.1)


def test_redis_frozen(redis_faults: RedisFaults) -> None:
    redis = redis_faults.redis
    _revoke_under(redis_faults.cluster, "Redis frozen (SIGSTOP)", redis.pause, redis.resume)


def test_redis_killed(redis_faults: RedisFaults) -> None:
    _revoke_under(redis_faults.cluster, "Redis killed", redis_faults.redis.kill, redis_faults.redis.start)


def test_redis_partitioned(redis_faults: RedisFaults) -> None:
    proxies = (redis_faults.to_a, redis_faults.to_b)

    def freeze() -> None:
        for proxy in proxies:
            proxy.freeze()

    def restore() -> None:
        for proxy in proxies:
            proxy.restore()

    _revoke_under(redis_faults.cluster, "Redis partitioned", freeze, restore)


def test_redis_connections_closed(redis_faults: RedisFaults) -> None:
    proxies = (redis_faults.to_a, redis_faults.to_b)

    def cut() -> None:
        for proxy in proxies:
            proxy.cut()

    def restore() -> None:
        for proxy in proxies:
            proxy.restore()

    _revoke_under(redis_faults.cluster, "Redis connections reset", cut, restore)


def test_the_revoking_process_alone_cut_off_from_redis(redis_faults: RedisFaults) -> None:
    """A's publication never arrives, while B's own Redis connection is fine."""
    to_a = redis_faults.to_a
    _revoke_under(redis_faults.cluster, "revoker partitioned from Redis", to_a.freeze, to_a.restore)


def test_database_connections_frozen(database_faults: tuple[Cluster, Proxy]) -> None:
    """B's pool, log reader and LISTEN connection all stop hearing: it must stop trusting
    its cache."""
    cluster, proxy = database_faults
    _revoke_under(cluster, "B's database connections frozen", proxy.freeze, proxy.restore)


def test_database_connections_reset(database_faults: tuple[Cluster, Proxy]) -> None:
    cluster, proxy = database_faults
    _revoke_under(cluster, "B's database connections reset", proxy.cut, proxy.restore)
