"""A change made through one Keyplane process is honoured by every other within a second.

Two real ``keyplane serve`` processes share one database. Process B has the key (or the
license) in its cache, verified a moment ago; process A revokes, deactivates or narrows it,
or suspends the license; B must refuse it within one second. Without invalidations B
would go on trusting its cache for minutes (``KEYPLANE_CACHE_SECONDS``), so these tests
fail if the bus does not work.

Channels: the invalidation log in the database always, plus a fast path: Redis pub/sub
(PostgreSQL + Redis is the production setup), PostgreSQL LISTEN/NOTIFY (no Redis), and on
SQLite without Redis none (workers learn from the log alone, and keep their caches as one
process does).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from keyplane.invalidations import POLL_SECONDS, VOUCH_SECONDS
from tests import live
from tests.conftest import redis_keys
from tests.factories import bearer

SECRET = "cross-process-secret-" + "z" * 32
DEADLINE = 1.0
"""Seconds within which the other process must refuse (the documented bound)."""


pytestmark = pytest.mark.xdist_group("cross-process")
"""One worker runs the module (``make test`` distributes by group): each pair of servers
below is started once, not once per worker."""


@pytest.fixture(scope="module", params=["redis", "without-redis"])
def bus(request: pytest.FixtureRequest, database_url: str) -> Iterator[dict[str, str]]:
    """The extra settings of both processes, for each way they learn of changes: Redis
    pub/sub (on either database); without Redis, PostgreSQL's LISTEN/NOTIFY, or on SQLite
    the invalidation log alone (two workers)."""
    if request.param != "redis":
        yield {} if database_url.startswith("postgresql") else {"workers": "2"}
        return
    redis_url = request.getfixturevalue("redis_url")
    with redis_keys(redis_url) as prefix:
        yield {"redis_url": redis_url, "redis_prefix": prefix}


@pytest.fixture(scope="module")
def pair(
    database_url: str, bus: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Two processes on one database: (base URL of A, of B, the account's admin key and slug).

    One pair per database and bus serves the module's tests: starting two servers costs
    more than the tests that use them, and each test makes the keys and licenses it
    watches (nothing it checks is another test's). The rows go when the module ends."""
    workdir = tmp_path_factory.mktemp("pair")
    env = live.environment(database_url, SECRET, workdir, **bus)
    slug = f"xp{time.monotonic_ns() % 10**9}"
    made = live.init(env, slug, f"admin@{slug}.test", "a long enough password")
    try:
        with ExitStack() as stack:
            a = stack.enter_context(live.serve(env, workdir / "a.log"))
            b = stack.enter_context(live.serve(env, workdir / "b.log"))
            yield a, b, {"key": made["apiKey"], "slug": slug}
    finally:
        asyncio.run(live.empty(database_url))  # the next tests start from an empty database


def _verify(base: str, account: dict[str, str], key: str, **extra: Any) -> str:
    response = httpx.post(
        f"{base}/v1/accounts/{account['slug']}/api-keys/verify",
        json={"key": key, **extra},
        headers=bearer(account["key"]),
        timeout=5,
    )
    assert response.status_code == 200, response.text
    code: str = response.json()["code"]
    return code


def _until(check: Callable[[], bool]) -> float:
    """Seconds until ``check`` holds, failing past the deadline (with a little slack for the
    polling request itself)."""
    start = time.monotonic()
    while not check():
        elapsed = time.monotonic() - start
        assert elapsed < DEADLINE, f"the other process still answered the old way after {elapsed:.2f}s"
        time.sleep(0.01)
    return time.monotonic() - start


def _new_key(base: str, account: dict[str, str], **body: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/v1/accounts/{account['slug']}/api-keys",
        json={"name": "customer", **body},
        headers=bearer(account["key"]),
        timeout=5,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_revoked_key_is_refused_by_the_other_process(pair: tuple[str, str, dict[str, str]]) -> None:
    a, b, account = pair
    key = _new_key(a, account)
    keys_on_b = f"{b}/v1/accounts/{account['slug']}/api-keys"
    # B trusts the key: verified, and used to authenticate (both now cached in B).
    for _ in range(3):
        assert _verify(b, account, key["key"]) == "VALID"
        assert httpx.get(keys_on_b, headers=bearer(key["key"]), timeout=5).status_code == 200

    deleted = httpx.delete(
        f"{a}/v1/accounts/{account['slug']}/api-keys/{key['id']}", headers=bearer(account["key"]), timeout=5
    )
    assert deleted.status_code == 204
    _until(lambda: _verify(b, account, key["key"]) == "REVOKED")
    _until(lambda: httpx.get(keys_on_b, headers=bearer(key["key"]), timeout=5).status_code == 401)


def test_sqlite_workers_keep_their_caches_and_hear_of_changes(
    request: pytest.FixtureRequest, database_url: str, bus: dict[str, str]
) -> None:
    """Without Redis, SQLite workers learn of changes from the log, so each keeps what it
    verified as a single process does (they once kept entries half a second at most)."""
    if not database_url.startswith("sqlite") or "redis_url" in bus:
        pytest.skip("SQLite workers without Redis")
    a, b, account = request.getfixturevalue("pair")
    key = _new_key(a, account, name="kept in B's cache")
    # The creation's log row names the key, and B drops the key when it reads that row: an
    # entry B filled before reading it would go (harmlessly: B reads the database once more).
    # Within VOUCH_SECONDS of the commit B has read the log past it (or its caches are
    # suspended, and it would answer INACTIVE below anyway), so what B caches next is kept.
    time.sleep(VOUCH_SECONDS + POLL_SECONDS)
    for _ in range(3):
        assert _verify(b, account, key["key"]) == "VALID"
    # Deactivate the key behind every process's back (no log row): a process that reads the
    # database refuses it at once, one that answers from its cache does not.
    with sqlite3.connect(make_url(database_url).database or "") as database:
        database.execute("UPDATE credentials SET status = 'inactive' WHERE name = ?", (key["name"],))
    kept_from = time.monotonic()
    while time.monotonic() - kept_from < 1.5:
        assert _verify(b, account, key["key"]) == "VALID", "B read the database: it kept no cache"
        time.sleep(0.05)

    deleted = httpx.delete(
        f"{a}/v1/accounts/{account['slug']}/api-keys/{key['id']}", headers=bearer(account["key"]), timeout=5
    )
    assert deleted.status_code == 204
    _until(lambda: _verify(b, account, key["key"]) == "REVOKED")


def test_deactivating_and_narrowing_reach_the_other_process(pair: tuple[str, str, dict[str, str]]) -> None:
    a, b, account = pair
    key = _new_key(a, account, scopes=["READ", "CREATE"])
    url = f"{a}/v1/accounts/{account['slug']}/api-keys/{key['id']}"
    for _ in range(3):
        assert _verify(b, account, key["key"], scopes=["CREATE"]) == "VALID"

    narrowed = httpx.patch(url, json={"scopes": ["READ"]}, headers=bearer(account["key"]), timeout=5)
    assert narrowed.status_code == 200, narrowed.text
    _until(lambda: _verify(b, account, key["key"], scopes=["CREATE"]) == "INSUFFICIENT_SCOPE")

    off = httpx.patch(url, json={"status": "inactive"}, headers=bearer(account["key"]), timeout=5)
    assert off.status_code == 200, off.text
    _until(lambda: _verify(b, account, key["key"]) == "INACTIVE")

    on = httpx.patch(url, json={"status": "active"}, headers=bearer(account["key"]), timeout=5)
    assert on.status_code == 200, on.text
    _until(lambda: _verify(b, account, key["key"]) == "VALID")


def _jsonapi(base: str, account: dict[str, str], path: str, data: dict[str, Any]) -> str:
    response = httpx.post(
        f"{base}/v1/accounts/{account['slug']}/{path}",
        json={"data": data},
        headers={**bearer(account["key"]), "Content-Type": "application/vnd.api+json"},
        timeout=5,
    )
    assert response.status_code in (200, 201), response.text
    made: str = response.json()["data"]["id"]
    return made


def test_a_suspended_license_is_refused_by_the_other_process(pair: tuple[str, str, dict[str, str]]) -> None:
    a, b, account = pair
    product = _jsonapi(a, account, "products", {"type": "products", "attributes": {"name": "App"}})
    policy = _jsonapi(
        a,
        account,
        "policies",
        {
            "type": "policies",
            "attributes": {"name": "Standard"},
            "relationships": {"product": {"data": {"type": "products", "id": product}}},
        },
    )
    license_id = _jsonapi(
        a,
        account,
        "licenses",
        {"type": "licenses", "relationships": {"policy": {"data": {"type": "policies", "id": policy}}}},
    )
    license = httpx.get(
        f"{a}/v1/accounts/{account['slug']}/licenses/{license_id}", headers=bearer(account["key"]), timeout=5
    ).json()["data"]
    key = license["attributes"]["key"]

    def code() -> str:
        response = httpx.post(
            f"{b}/v1/accounts/{account['slug']}/licenses/actions/validate-key",
            json={"meta": {"key": key}},
            timeout=5,
        )
        assert response.status_code == 200, response.text
        found: str = response.json()["meta"]["code"]
        return found

    for _ in range(3):
        assert code() == "VALID"
    suspended = httpx.post(
        f"{a}/v1/accounts/{account['slug']}/licenses/{license_id}/actions/suspend",
        headers=bearer(account["key"]),
        timeout=5,
    )
    assert suspended.status_code == 200, suspended.text
    _until(lambda: code() == "SUSPENDED")
