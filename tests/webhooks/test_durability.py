"""No committed change loses its webhook: a real ``keyplane serve`` makes changes while the
receiver is down (it takes connections and never answers, so deliveries are in flight), is
killed (``kill -9``) with requests and deliveries in flight, and is started again; once the
receiver is back, every change whose request was answered (so committed) has exactly its
event in the log, and that event has reached the receiver at least once."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
import time
from pathlib import Path

import httpx

from tests import live
from tests.factories import bearer
from tests.webhooks.receiver import in_thread

SECRET = "durability-secret-" + "d" * 32


def _changes(base: str, slug: str, key: str, committed: list[str], stop: threading.Event) -> None:
    """Create products until told to stop or the server dies; ``committed`` gets the id of
    each one the server answered for."""
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            try:
                response = client.post(
                    f"{base}/v1/accounts/{slug}/products",
                    json={"data": {"type": "products", "attributes": {"name": f"p{len(committed)}"}}},
                    headers=bearer(key),
                )
            except httpx.TransportError:
                return  # killed mid-request: that change may or may not have committed
            assert response.status_code == 201, response.text
            committed.append(response.json()["data"]["id"])


def test_every_committed_change_is_delivered_after_a_kill_and_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    hooks_port = live.free_port()
    env = live.environment(
        database_url,
        SECRET,
        tmp_path,
        webhooks_allow_private="true",
        webhooks_poll_seconds="0.1",
        webhooks_retry_seconds="0.05",
        webhooks_timeout_seconds="1",
    )
    slug = f"dur{time.monotonic_ns() % 10**9}"
    made = live.init(env, slug, f"admin@{slug}.test", "a long enough password")
    key = made["apiKey"]
    log = tmp_path / "serve.log"
    server, base = live.start(env, log)
    try:
        hook = httpx.post(
            f"{base}/v1/accounts/{slug}/webhook-endpoints",
            json={
                "data": {
                    "type": "webhook-endpoints",
                    "attributes": {
                        "url": f"http://127.0.0.1:{hooks_port}/hooks",
                        "subscriptions": ["product.created"],
                    },
                }
            },
            headers=bearer(key),
            timeout=5,
        )
        assert hook.status_code == 201, hook.text

        # Down: connections are taken (by the kernel) and never answered.
        hanging = socket.socket()
        hanging.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hanging.bind(("127.0.0.1", hooks_port))
        hanging.listen(128)
        committed: list[str] = []
        stop = threading.Event()
        writer = threading.Thread(target=_changes, args=(base, slug, key, committed, stop))
        writer.start()
        while len(committed) < 20:
            time.sleep(0.02)
        server.send_signal(signal.SIGKILL)  # mid-flight: the writer is in the middle of a request
        server.wait(timeout=10)
        writer.join(10)
        assert not writer.is_alive()
        hanging.close()

        server, base = live.start(env, log)
        with in_thread(hooks_port) as receiver:
            deadline = time.monotonic() + 60
            while True:
                delivered = {
                    json.loads(json.loads(each.body)["data"]["attributes"]["payload"])["data"]["id"]
                    for each in list(receiver.received)
                }
                missing = set(committed) - delivered
                if not missing:
                    break
                assert time.monotonic() < deadline, f"{len(missing)} of {len(committed)} never delivered"
                time.sleep(0.1)

        logged = httpx.get(
            f"{base}/v1/accounts/{slug}/event-logs",
            params={"event": "product.created", "limit": "100"},
            headers=bearer(key),
            timeout=5,
        )
        assert logged.status_code == 200, logged.text
        resources = [each["relationships"]["resource"]["data"]["id"] for each in logged.json()["data"]]
        for product in committed:
            assert resources.count(product) == 1
    finally:
        live.stop(server)
        asyncio.run(live.empty(database_url))
