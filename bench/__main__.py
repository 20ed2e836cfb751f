"""``python -m bench``: Keyplane's hot paths against the raw-ASGI floor, under wrk, with up to
a million stored API keys.

1. The floor (``bench/floor.py``) is served exactly like Keyplane and measured with the same
   two wrk loads the targets use (a fixed request; a key drawn at random per request).
2. Phase 1: the account is topped up to 1,000 API keys straight into the database; Keyplane
   starts, is warmed up, and verify runs with keys drawn from all 1,000.
3. Phase 2: topped up to ``--keys`` (1,000,000); Keyplane restarts, is warmed up, and verify
   runs with keys drawn from ``--working-set`` keys sampled uniformly from the whole stored
   set; then an authenticated GET of those keys, validate-key (signed) and ping. Right after
   the verify rows, the peer (Django REST framework with djangorestframework-api-key,
   ``bench/peer``) is measured under the same wrk settings, when the ``peer`` extra is
   installed; the per-worker goal compares with it.

The account has a webhook endpoint subscribed to every event (``*``), pointing at the run's
own receiver (``bench/receiver.py``), which checks every delivery's signature: validate-key's
row also says how fast its events were delivered, what it left to deliver, and how long that
took.

Each row and comparison is judged against the goal table, ``GOALS`` in ``bench/goals.py``; the
run is appended to ``bench/results.jsonl`` at the end (not with ``--no-log``).

Each load is bounded in time and targets 127.0.0.1. Every process and the scratch data (a
folder; on PostgreSQL a database of its own) are removed at the end. Needs ``wrk``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.markup import escape
from rich.table import Table

from bench import load as loader
from bench import results, wrk
from bench.common import (
    KEYPLANE,
    CpuTimes,
    Machine,
    add_wrk_options,
    console,
    cpu_times,
    init_account,
    machine,
    python_loop_ms,
    scratch_postgres,
    server_command,
    serving,
    stolen_share,
    stop_on_sigterm,
)
from bench.goals import COMPARISONS, PEER_PER_WORKER, ROW_GOALS, ROWS, Figures, describe_row, row_met
from bench.peer.run import PeerResult, measure_peer, peer_missing
from bench.receiver import Receiver, Tally, receiving
from bench.results import Entry, comparison_entry
from keyplane.config import Settings
from keyplane.kit.credentials import CredentialKind, generate

SMALL = 1_000
WARM_CONCURRENCY = 32
WARM_WRK_SECONDS = 2
WARM_CHECKED = 300
"""Keys of the working set whose verification is checked one by one (VALID, the right id)."""
WARM_SWEEP_BASE_SECONDS = 3
WARM_SWEEP_RATE = 250
"""Cache misses per second a warm-up sweep is given time for (they read the database; a
process answers about 300 to 1,000 a second here, PostgreSQL being the slower)."""
WARM_RESWEEP_RATE = 2_500
"""The second sweep of a warm-up: hits, and whatever the first one did not get to."""
TARGETS = ("verify-1k", "verify", "get", "validate-key", "ping", "peer")
FLUSH_SECONDS = 2.0
"""How long the event log's batch takes to be written (every second), and with it the
webhook deliveries of its events."""
DRAIN_SECONDS = 120.0
"""Longest the run waits, after a load that recorded events, for the webhook deliveries it
queued (the delivery worker may lag under full load); what is left is printed."""
SAME_DRAW = "verify, as many drawn as in phase 1: "


@dataclass
class Row:
    key: str
    """Which row this is, whatever its printed name: what bench/goals.py's table names."""
    name: str
    stored: int | None
    measured: wrk.Measured
    floor: float | None
    """The floor's requests/s under this very load, measured just before and just after it
    (their mean); None for the floor's own rows."""
    problem: str = ""
    webhooks: dict[str, float] | None = None
    """What the endpoint subscribed to ``*`` received during and after the row (``Hooks``)."""

    def __post_init__(self) -> None:
        assert self.key in ROWS or self.key.startswith("peer: "), (
            f"a row bench/goals.py does not know: {self.key}"
        )

    @property
    def errors(self) -> int:
        return self.measured.non_2xx + self.measured.socket_errors

    @property
    def figures(self) -> Figures:
        m = self.measured
        return Figures(m.rps, m.p99_ms, self.floor, self.errors, self.problem)

    def goal(self) -> str:
        return describe_row(self.key)

    def met(self) -> bool | None:
        return row_met(self.key, self.figures)


@dataclass
class Plan:
    args: argparse.Namespace
    folder: Path
    env: dict[str, str]
    url: str
    slug: str
    admin_key: str
    floor_base: str = ""
    """The floor's server, running for the whole run."""
    peer: PeerResult | None = None
    """The peer, when measured in this run."""
    argv: Sequence[str] = ()
    """The command line's arguments, for the results log."""
    cpu_at_start: CpuTimes | None = field(default_factory=cpu_times)
    receiver: Receiver | None = None
    """The webhook receiver, running for the whole run."""
    subscribed: bool = False
    """Whether the account has its webhook endpoint (made once, when a server first runs)."""

    def log(self, server: str) -> Path:
        """Where a server's output goes (kept with the run's scratch data)."""
        return self.folder / f"{server}.log"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def verify_load(self, name: str, keys: Sequence[str], *, sweep: bool = False) -> wrk.Load:
        return wrk.random_script(
            self.folder,
            name,
            keys,
            "POST",
            f"/v1/accounts/{self.slug}/api-keys/verify",
            {**self.auth, "Content-Type": "application/json"},
            ('{"key": "', '"}'),
            sweep=sweep,
        )

    def measure(self, url: str, load: wrk.Load) -> wrk.Measured:
        args = self.args
        wrk.run(url, load, WARM_WRK_SECONDS, args.connections, args.wrk_threads)  # discarded
        return wrk.run(url, load, args.seconds, args.connections, args.wrk_threads)

    def paired(
        self,
        base: str,
        url: str,
        load: wrk.Load,
        warmed: Callable[[], object] | None = None,
        ended: Callable[[wrk.Measured], object] | None = None,
    ) -> tuple[wrk.Measured, float]:
        """Keyplane (at ``base``) under ``load`` after a discarded warm-up (then ``warmed`` is
        called), paired with the floor under the same load (``wrk.paired``, which calls
        ``ended`` between Keyplane's run and the second floor run; the Python loop printed at
        both ends of a run shows how the host drifts)."""
        args = self.args
        there = url.replace(base, self.floor_base, 1)
        wrk.run(url, load, WARM_WRK_SECONDS, args.connections, args.wrk_threads)  # discarded
        if warmed is not None:
            warmed()
        return wrk.paired(url, there, load, args.seconds, args.connections, args.wrk_threads, ended)

    def subscribe(self, api: str) -> None:
        """The account's webhook endpoint, subscribed to every event (``*``) and pointing at
        the run's receiver, made through the API the first time a server runs; the receiver
        is given the account's public key first, to check every delivery with."""
        if self.subscribed or self.receiver is None:
            return
        account = httpx.get(api, headers=self.auth, timeout=30)
        account.raise_for_status()
        public = base64.b64decode(account.json()["meta"]["keys"]["ed25519"]).decode()
        self.receiver.key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))
        body = {
            "data": {
                "type": "webhook-endpoints",
                "attributes": {"url": self.receiver.url, "subscriptions": ["*"]},
            }
        }
        made = httpx.post(
            f"{api}/webhook-endpoints", json=body, headers={**self.auth, **VALIDATE_HEADERS}, timeout=30
        )
        if made.status_code != 201:
            raise SystemExit(f"the webhook endpoint was refused: {made.status_code} {made.text[:300]}")
        self.subscribed = True
        console.print(
            f"webhooks: an endpoint subscribed to [bold]*[/] at {self.receiver.url}, the run's own "
            "receiver (it answers 200 at once and checks each delivery's signature with the "
            "account's public key)"
        )


def _settings_line(env: dict[str, str], workers: int) -> str:
    overrides: dict[str, Any] = {
        "data_dir": env["KEYPLANE_DATA_DIR"],
        "database_url": env.get("KEYPLANE_DATABASE_URL", ""),
        "secret_key": env["KEYPLANE_SECRET_KEY"],
        "workers": workers,
        "log_level": env["KEYPLANE_LOG_LEVEL"],
        "webhooks_allow_private": env["KEYPLANE_WEBHOOKS_ALLOW_PRIVATE"],
    }
    settings = Settings(**overrides).model_dump(exclude={"secret_key", "database_url", "data_dir"})
    if settings.get("redis_url"):
        settings["redis_url"] = "(set)"  # may hold a password
    return "Keyplane settings: " + ", ".join(f"{k}={v}" for k, v in settings.items() if k != "account")


async def _warm(api: str, admin_key: str, keys: Sequence[str], passes: int) -> dict[str, str]:
    """Verify every key ``passes`` times (a new set of connections each pass, so that with
    several workers each is likely to see each key); every key must be valid. Returns each
    key's id."""
    ids: dict[str, str] = {}
    refused: list[str] = []
    limits = httpx.Limits(max_connections=WARM_CONCURRENCY)
    headers = {"Authorization": f"Bearer {admin_key}"}

    async def client(http: httpx.AsyncClient, queue: Iterator[str]) -> None:
        for key in queue:
            answer = await http.post(f"{api}/api-keys/verify", json={"key": key})
            body = answer.json() if answer.status_code == 200 else {}
            if body.get("valid") is not True:
                refused.append(f"{answer.status_code} {answer.text[:200]}")
                continue
            ids[key] = str(body["keyId"])

    async def reader(http: httpx.AsyncClient, queue: Iterator[str]) -> None:
        for key_id in queue:
            answer = await http.get(f"{api}/api-keys/{key_id}")
            if answer.status_code != 200:
                refused.append(f"GET {answer.status_code} {answer.text[:200]}")

    for _ in range(passes):
        queue = iter(keys)  # shared: each client takes the next key
        async with httpx.AsyncClient(limits=limits, headers=headers, timeout=60) as http:
            await asyncio.gather(*(client(http, queue) for _ in range(WARM_CONCURRENCY)))
        # And each key's document read once, as the GET load reads them.
        documents = iter(list(ids.values()))
        async with httpx.AsyncClient(limits=limits, headers=headers, timeout=60) as http:
            await asyncio.gather(*(reader(http, documents) for _ in range(WARM_CONCURRENCY)))
    if refused:
        raise SystemExit(f"warm-up: {len(refused)} requests failed, e.g. {refused[0]}")
    return ids


def _license(api: str, auth: dict[str, str]) -> str:
    """A product, a node-locked policy and a license with one machine: what validate-key checks."""

    def made(path: str, type_: str, attributes: dict[str, object], **related: str) -> str:
        relationships = {
            name: {"data": {"type": kind, "id": id_}}
            for name, (kind, id_) in ((name, value.split(":", 1)) for name, value in related.items())
        }
        data: dict[str, object] = {"type": type_, "attributes": attributes}
        if relationships:
            data["relationships"] = relationships
        body = {"data": data}
        answer = httpx.post(f"{api}/{path}", json=body, headers=auth)
        answer.raise_for_status()
        return str(answer.json()["data"]["id"])

    product = made("products", "products", {"name": "Bench"})
    policy = made("policies", "policies", {"name": "Bench", "strict": True}, product=f"products:{product}")
    license_id = made("licenses", "licenses", {}, policy=f"policies:{policy}")
    made("machines", "machines", {"fingerprint": "bench-machine"}, license=f"licenses:{license_id}")
    answer = httpx.get(f"{api}/licenses/{license_id}", headers=auth)
    return str(answer.json()["data"]["attributes"]["key"])


def _validations(api: str, auth: dict[str, str]) -> int:
    """How many validations the event log holds."""
    return _count(api, auth, "event-logs", {"event": "license.validation.succeeded"})


def _count(api: str, auth: dict[str, str], path: str, params: dict[str, str] | None = None) -> int:
    """How many records a listing holds (the count of a one-record page)."""
    answer = httpx.get(
        f"{api}/{path}",
        params={**(params or {}), "page[number]": "1", "page[size]": "1"},
        headers=auth,
        timeout=30,
    )
    answer.raise_for_status()
    return int(answer.json()["links"]["meta"]["count"])


@dataclass(frozen=True)
class Drained:
    seconds: float
    """From the call (the load's end) until the last delivery made came (0 when none was
    pending), or until the bound."""
    left: int
    """Deliveries made and not received when the wait ended."""


def _drain(plan: Plan, api: str) -> Drained:
    """Wait (``DRAIN_SECONDS`` at most) until the receiver has every webhook event the account
    has, and their number has not grown for ``FLUSH_SECONDS`` (the event log's batches,
    which make them, are written)."""
    receiver = plan.receiver
    assert receiver is not None
    started = time.monotonic()
    made, changed = -1, started
    while True:
        # A loaded server's batches may fall behind: the count of webhook events must also
        # have stopped moving for a flush's time.
        count = _count(api, plan.auth, "webhook-events")
        now = time.monotonic()
        if count != made:
            made, changed = count, now
        if receiver.tally().distinct >= made and now - changed >= FLUSH_SECONDS:
            break
        if now - started >= DRAIN_SECONDS:
            break
        time.sleep(0.5)
    left = max(made - receiver.tally().distinct, 0)
    if left:
        return Drained(time.monotonic() - started, left)
    return Drained(max(receiver.last_at - started, 0.0), 0)


@dataclass(frozen=True)
class Hooks:
    """What the endpoint subscribed to ``*`` received of a row's validations."""

    received_rps: float
    """Deliveries received per second during the row."""
    pending: int
    """Validations the row recorded whose delivery had not come when it ended."""
    drain: Drained
    """The wait after the row, for what it left."""
    drained_rps: float
    """Deliveries received per second during that wait (the server idle otherwise)."""
    bad: int
    """Deliveries whose signature did not verify, during the row and the wait."""
    delivered: int
    """The row's validations delivered by the end of the wait."""

    @classmethod
    def of(
        cls, start: Tally, end: Tally, after: Tally, drain: Drained, seconds: float, recorded: int
    ) -> Hooks:
        return cls(
            received_rps=(end.distinct - start.distinct) / seconds if seconds else 0.0,
            pending=max(recorded - (end.validations - start.validations), 0),
            drain=drain,
            drained_rps=(after.distinct - end.distinct) / drain.seconds if drain.seconds > 0.1 else 0.0,
            bad=after.bad - start.bad,
            delivered=after.validations - start.validations,
        )

    def describe(self) -> str:
        left = f", {self.drain.left:,} still pending" if self.drain.left else ""
        return (
            f"webhooks: {self.received_rps:,.0f} deliveries/s received, {self.pending:,} pending at the "
            f"row's end, then drained at {self.drained_rps:,.0f}/s in {self.drain.seconds:.1f} s{left}; "
            f"{self.bad:,} bad signatures"
        )

    def entry(self) -> dict[str, float]:
        return {
            "received_rps": round(self.received_rps, 1),
            "pending_at_end": self.pending,
            "drain_s": round(self.drain.seconds, 1),
            "drained_rps": round(self.drained_rps, 1),
            "left_after_drain": self.drain.left,
            "bad_signatures": self.bad,
            "delivered": self.delivered,
        }


def _validate_body(license_key: str) -> str:
    return json.dumps({"meta": {"key": license_key, "scope": {"fingerprint": "bench-machine"}}})


VALIDATE_HEADERS = {"Content-Type": "application/vnd.api+json", "Accept": "application/vnd.api+json"}


def _floors(plan: Plan) -> list[Row]:
    """The floor at the start of the run under both kinds of load, for reference: a fixed
    request and a key drawn at random (keys that exist nowhere)."""
    size = min(plan.args.working_set, plan.args.keys)
    dummies = [generate(CredentialKind.API_KEY)[0] for _ in range(size)]
    base = plan.floor_base
    fixed = wrk.fixed_script(plan.folder, "floor-fixed", "POST", VALIDATE_HEADERS, _validate_body("X" * 40))
    return [
        Row("floor-fixed", "floor (raw ASGI): fixed request", None, plan.measure(f"{base}/", fixed), None),
        Row(
            "floor-random",
            "floor (raw ASGI): random key per request",
            None,
            plan.measure(base, plan.verify_load("floor-random", dummies)),
            None,
        ),
    ]


def _sweep(plan: Plan, base: str, load: wrk.Load, count: int) -> None:
    """Send every request of a sweep script once, then once more. wrk's thread stops sending
    once all are answered, but wrk itself runs for its whole duration: give the first pass
    about what misses take; the second is mostly hits, and fills what the first left."""
    wrk.run(base, load, WARM_SWEEP_BASE_SECONDS + count / WARM_SWEEP_RATE, plan.args.connections)
    wrk.run(base, load, WARM_SWEEP_BASE_SECONDS + count / WARM_RESWEEP_RATE, plan.args.connections)


def _warm_up(
    plan: Plan, base: str, api: str, keys: Sequence[str], workers: int, known: dict[str, str]
) -> dict[str, str]:
    """Every key verified and every key's document read (wrk sweeps: the server's pace, not
    a Python client's), then a random sample of the keys, and those whose id the loader does
    not know (the admin key), verified with httpx: each must be VALID."""
    started = time.perf_counter()
    for _ in range(workers):  # each worker has its own cache
        _sweep(plan, base, plan.verify_load("warm-verify", keys, sweep=True), len(keys))
    checked = [key for key in keys if key not in known]
    loaded = [key for key in keys if key in known]
    checked += random.sample(loaded, min(WARM_CHECKED, len(loaded)))
    ids = {key: known[key] for key in keys if key in known}
    ids |= asyncio.run(_warm(api, plan.admin_key, checked, workers))
    for _ in range(workers):
        _sweep(
            plan,
            base,
            wrk.random_script(
                plan.folder,
                "warm-get",
                list(ids.values()),
                "GET",
                (f"/v1/accounts/{plan.slug}/api-keys/", ""),
                plan.auth,
                None,
                sweep=True,
            ),
            len(ids),
        )
    state = "[bold]the cache is warm[/]"
    console.print(
        f"warm-up: {len(keys):,} keys verified (wrk sweep; {len(checked):,} checked VALID) and their "
        f"documents read, x{workers}, in {time.perf_counter() - started:.1f} s; then a "
        f"{WARM_WRK_SECONDS} s wrk warm-up before each timed run (discarded): {state}"
    )
    return ids


ACCESS_LOG_OFF = "verify, access log off: "
TWO_WORKERS = "verify, 2 workers (SQLite, no Redis): "


def _phase_one(plan: Plan, population: list[str], known: dict[str, str], stored: int) -> list[Row]:
    """Verify with keys drawn from all 1,000, as shipped (access log on); then the same with
    the access log off, for what it costs; and on SQLite with one worker, the same with two
    workers, which learn of each other's changes from the invalidation log."""
    rows = []
    variants: list[tuple[str, str, dict[str, str], int]] = [("verify-1k", "", {}, plan.args.workers)]
    variants.append(("verify-1k-quiet", ACCESS_LOG_OFF, {"KEYPLANE_ACCESS_LOG": "false"}, plan.args.workers))
    if not plan.args.database_url and plan.args.workers == 1 and not plan.env.get("KEYPLANE_REDIS_URL"):
        variants.append(("verify-1k-2-workers", TWO_WORKERS, {}, 2))
    for key, label, extra, workers in variants:
        env = plan.env | extra
        with serving(KEYPLANE, env, True, workers, "/v1/ping", plan.log("keyplane")) as (base, _):
            plan.subscribe(f"{base}/v1/accounts/{plan.slug}")
            _warm_up(plan, base, f"{base}/v1/accounts/{plan.slug}", population, workers, known)
            load = plan.verify_load("verify-1k", population)
            if workers == plan.args.workers:
                measured, paired = plan.paired(base, base, load)
                rows.append(Row(key, f"{label or 'verify: '}{load.label} keys", stored, measured, paired))
            else:
                # The floor runs with the run's worker count: this row is compared with the
                # one-worker verify row instead (the summary says by how much).
                rows.append(Row(key, f"{label}{load.label} keys", stored, plan.measure(base, load), None))
    return rows


def run(plan: Plan) -> tuple[list[Row], list[loader.Loaded]]:
    with (
        serving("bench.floor:app", plan.env, False, plan.args.workers, "/", plan.log("floor")) as (
            floor_base,
            _,
        ),
        receiving() as receiver,
    ):
        plan.floor_base = floor_base
        plan.receiver = receiver
        return _run(plan)


def _run(plan: Plan) -> tuple[list[Row], list[loader.Loaded]]:
    args = plan.args
    only = set(args.only or TARGETS)
    workers = args.workers
    secret = plan.env["KEYPLANE_SECRET_KEY"].encode()
    loads: list[loader.Loaded] = []

    console.rule("floor")
    rows = _floors(plan)

    # Phase 1: the stored set is the admin key and what is loaded now; all of it is drawn from.
    console.rule(f"phase 1: {SMALL:,} stored keys")
    small = min(SMALL, args.keys)
    first = asyncio.run(loader.load(plan.url, secret, plan.slug, max(small - 1, 0)))
    loader.report(first, "phase 1: ")
    loads.append(first)
    population = [plan.admin_key] + [sample.plaintext for sample in first.samples]
    known = {sample.plaintext: str(sample.id) for sample in first.samples}
    if "verify-1k" in only:
        rows += _phase_one(plan, population, known, first.stored)

    if not only - {"verify-1k"}:
        return rows, loads

    # Phase 2: the working set is a uniform sample of the whole stored set (admin key, phase 1's
    # keys, phase 2's), chosen before loading so that only its plaintexts are kept.
    console.rule(f"phase 2: {args.keys:,} stored keys")
    more = max(args.keys - len(population), 0)
    picked = loader.pick(len(population) + more, args.working_set)
    keep = {index - len(population) for index in picked if index >= len(population)}
    second = asyncio.run(loader.load(plan.url, secret, plan.slug, more, keep))
    loader.report(second, "phase 2: ")
    loads.append(second)
    working = [population[index] for index in picked if index < len(population)]
    working += [sample.plaintext for sample in second.samples]
    known |= {sample.plaintext: str(sample.id) for sample in second.samples}
    del population
    stored = second.stored

    with serving(KEYPLANE, plan.env, True, workers, "/v1/ping", plan.log("keyplane")) as (base, _):
        api = f"{base}/v1/accounts/{plan.slug}"
        plan.subscribe(api)
        ids = _warm_up(plan, base, api, working, workers, known)
        # Documents first: a verification load moves lastUsedAt, which drops them.
        if "get" in only:
            check = httpx.get(f"{api}/api-keys/{ids[working[0]]}", headers=plan.auth)
            problem = "" if check.status_code == 200 else f"check: {check.status_code} {check.text[:200]}"
            load = wrk.random_script(
                plan.folder,
                "get",
                list(ids.values()),
                "GET",
                (f"/v1/accounts/{plan.slug}/api-keys/", ""),
                plan.auth,
                None,
            )
            measured, paired = plan.paired(base, base, load)
            name = f"GET api-keys/{{id}}, authenticated: {load.label} ids"
            rows.append(Row("get", name, stored, measured, paired, problem))
        if "verify" in only:
            load = plan.verify_load("verify", working)
            measured, paired = plan.paired(base, base, load)
            rows.append(Row("verify", f"verify: {load.label} keys", stored, measured, paired))
            if len(working) > SMALL:
                # As many keys as phase 1 draws from, drawn from all stored keys: what the
                # stored count alone does (the working set's size moves the figure too).
                load = plan.verify_load("verify-same-draw", random.sample(working, SMALL))
                measured, paired = plan.paired(base, base, load)
                name = f"{SAME_DRAW}{load.label} keys"
                rows.append(Row("verify-same-draw", name, stored, measured, paired))
        if "peer" in only:
            rows += _peer(plan, len(working))
        if "validate-key" in only:
            license_key = _license(api, {**plan.auth, **VALIDATE_HEADERS})
            body = _validate_body(license_key)
            answer = httpx.post(
                f"{api}/licenses/actions/validate-key", content=body, headers=VALIDATE_HEADERS
            )
            problem = ""
            if answer.status_code != 200 or answer.json().get("meta", {}).get("valid") is not True:
                problem = f"check: {answer.status_code} {answer.text[:200]}"
            elif "keygen-signature" not in answer.headers:
                problem = "check: the answer is not signed"
            load = wrk.fixed_script(plan.folder, "validate-key", "POST", VALIDATE_HEADERS, body)
            rows.append(_validate_key_row(plan, base, api, load, stored, problem))
        if "ping" in only:
            load = wrk.fixed_script(plan.folder, "ping", "GET", {}, None)
            measured, paired = plan.paired(base, f"{base}/v1/ping", load)
            rows.append(Row("ping", "GET /v1/ping: signed, no I/O", stored, measured, paired))
    return rows, loads


def _validate_key_row(plan: Plan, base: str, api: str, load: wrk.Load, stored: int, problem: str) -> Row:
    """validate-key under ``load``: its events written, and their deliveries to the endpoint
    subscribed to ``*``. The warm-up's deliveries are waited for before the row (so that it
    starts with none pending), the row's own after it, before the second floor run (which
    the delivery worker's catching up would otherwise slow)."""
    receiver = plan.receiver
    assert receiver is not None
    marks: dict[str, Tally] = {}
    drains: list[Drained] = []
    counted: list[int] = []

    def warmed() -> None:
        drains.append(_drain(plan, api))
        counted.append(_validations(api, plan.auth))
        marks["start"] = receiver.tally()

    def ended(_measured: wrk.Measured) -> None:
        marks["end"] = receiver.tally()
        drains.append(_drain(plan, api))
        marks["after"] = receiver.tally()

    measured, paired = plan.paired(base, f"{api}/licenses/actions/validate-key", load, warmed, ended)
    recorded = _validations(api, plan.auth) - counted[0]
    seconds = measured.requests / measured.rps if measured.rps else 0.0
    hooks = Hooks.of(marks["start"], marks["end"], marks["after"], drains[-1], seconds, recorded)
    name = "validate-key, signed: strict, 1 machine"
    if seconds:
        name += f" ({recorded / seconds:,.0f} events/s written; {hooks.describe()})"
    if not problem and recorded < measured.requests - measured.non_2xx:
        problem = f"events: {recorded:,} of {measured.requests:,} validations in the event log"
    if not problem and hooks.bad:
        problem = (
            f"webhooks: {hooks.bad:,} deliveries not signed by the account's key, e.g. {receiver.problems[0]}"
        )
    if not problem and recorded and not hooks.delivered:
        problem = "webhooks: none of the row's validations was delivered"
    if drains[0].left:
        console.print(
            f"[yellow]webhooks: {drains[0].left:,} deliveries of the warm-up still pending after "
            f"{drains[0].seconds:.0f} s: the row started with them[/]"
        )
    if drains[-1].left:
        console.print(
            f"[yellow]webhooks: {drains[-1].left:,} deliveries still pending after "
            f"{drains[-1].seconds:.0f} s: the delivery worker sends them during the rows that follow[/]"
        )
    console.print(f"validate-key: {recorded:,} validations recorded; {hooks.describe()}")
    return Row("validate-key", name, stored, measured, paired, problem, hooks.entry())


def _peer(plan: Plan, keys: int) -> list[Row]:
    """The peer's rows, measured now (close in time to the verify rows it is compared with),
    with as many keys as the working set; none when its extra is not installed."""
    missing = peer_missing()
    if missing:
        console.print(f"[yellow]the peer is not measured: {escape(missing)}[/]")
        return []
    args = plan.args
    console.rule("the peer: Django REST framework + djangorestframework-api-key")
    plan.peer = measure_peer(
        args.seconds, args.connections, keys, args.workers, args.wrk_threads, plan.floor_base
    )
    best = plan.peer.best
    return [
        Row(
            # The faster server's row is the peer's figure: the one the goal compares with.
            "peer" if label == best else f"peer: {label}",
            f"peer, {label}: random of {keys:,} keys",
            keys,
            measured,
            plan.peer.floors.get(label),
        )
        for label, measured in plan.peer.measured.items()
    ]


def _yes(value: bool | None) -> str:
    return "-" if value is None else "[green]yes[/]" if value else "[red]no[/]"


@dataclass(frozen=True)
class Summary:
    """What the report found beyond the rows: the comparison goals, and the host at the end."""

    comparisons: list[Entry]
    loop_ms: float
    """The 2,000,000-iteration Python loop at the end of the run."""
    stolen: float | None
    """The share of CPU time stolen over the run."""


def report(plan: Plan, rows: list[Row], loads: list[loader.Loaded], backend: str) -> Summary:
    args = plan.args
    title = (
        f"uvicorn --workers {args.workers}, wrk -t{args.wrk_threads} -c{args.connections}, "
        f"{args.seconds} s each after a {WARM_WRK_SECONDS} s warm-up, {backend}, cache warm"
    )
    table = Table(title=title)
    for column in (
        "target",
        "stored keys",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "floor req/s",
        "vs floor",
        "CPU stolen: row / floor",
        "non-2xx / socket err",
        "goal",
        "met",
    ):
        table.add_column(column, justify="left" if column in ("target", "goal") else "right")
    for row in rows:
        floor = row.floor
        m = row.measured
        table.add_row(
            row.name + (f"\n[red]{row.problem}[/]" if row.problem else ""),
            f"{row.stored:,}" if row.stored is not None else "-",
            f"{m.rps:,.0f}",
            f"{m.p50_ms:.2f}",
            f"{m.p99_ms:.2f}",
            f"{floor:,.0f}" if floor else "-",
            f"{m.rps / floor:.1%}" if floor else "-",
            f"{_share(m.stolen)} / {_share(m.floor_stolen)}",
            f"{m.non_2xx} / {m.socket_errors}",
            row.goal(),
            _yes(row.met()),
        )
    console.print(table)
    console.print(
        "vs floor: each row against the floor under the very same wrk load (script, path, body), "
        "measured just before and just after it (floor req/s: their mean). The first two rows "
        "are the floor at the start of the run, for reference. CPU stolen: the share of the "
        "host's CPU time the hypervisor gave to other guests during the row and during its floor "
        "runs; a row whose share differs much from its floor's was measured on a different host."
    )

    found = {row.key: row for row in rows}
    comparisons = _phase_one_summary(found)
    small, large = found.get("verify-1k"), found.get("verify")
    goal = COMPARISONS["stored"]
    same, first = found.get(goal.of), found.get(goal.against)
    if same and first:
        share = goal.figure(same.figures, first.figures)
        met = goal.met(same.figures, first.figures)
        comparisons.append(comparison_entry(goal, share, met))
        if share is not None:
            console.print(
                f"{same.stored:,}/{first.stored:,} stored verify throughput, {SMALL:,} keys drawn from "
                f"each, each against its own floor: {share:.1%} (goal {goal.describe()}): {_yes(met)}; "
                f"requests/s alone: {same.measured.rps / first.measured.rps:.1%}"
            )
    if small and large and small.floor and large.floor:
        console.print(
            f"  with {args.working_set:,} keys drawn from the {large.stored:,} instead: "
            f"{(large.measured.rps / large.floor) / (small.measured.rps / small.floor):.1%} (a larger "
            "working set, not the stored count: fewer of its entries stay in the processor's caches "
            "between requests)"
        )
    goal = COMPARISONS["peer"]
    of = found.get(goal.of)
    if of:
        per_worker = of.measured.rps / args.workers
        stated = f"{per_worker / PEER_PER_WORKER:.1f} times the {PEER_PER_WORKER:,}/s the issue states"
        peer_row = found.get(goal.against)
        if plan.peer is not None and peer_row is not None:
            peer = plan.peer.best_per_worker
            # Each against its own paired floor, like every row: the host's speed drifts
            # between the verify row and the peer's, minutes apart.
            times = goal.figure(of.figures, peer_row.figures)
            met = goal.met(of.figures, peer_row.figures)
            comparisons.append(comparison_entry(goal, times, met, "the peer measured in this run"))
            console.print(
                f"verifications/s per worker: {per_worker:,.0f} against the peer's {peer:,.0f}/s measured in "
                f"this run (its faster server): {_times(times)} times, each against its paired floor "
                f"(goal {goal.describe()}): {_yes(met)}; requests/s alone: {per_worker / peer:.1f} times; "
                f"{stated}"
            )
        else:
            stated_peer = Figures(PEER_PER_WORKER * args.workers, float("nan"))
            times = goal.figure(of.figures, stated_peer)
            met = goal.met(of.figures, stated_peer)
            note = f"the peer not measured: against the {PEER_PER_WORKER:,}/s per worker issue 5 states"
            comparisons.append(comparison_entry(goal, times, met, note))
            console.print(
                f"verifications/s per worker: {per_worker:,.0f} = {stated}, the peer not being measured "
                f"(goal {goal.describe()}, {goal.ratio * PEER_PER_WORKER:,.0f}/s): {_yes(met)}"
            )
    for number, loaded in enumerate(loads, 1):
        console.print(
            f"load, phase {number}: {loaded.inserted:,} keys in {loaded.seconds:.1f} s "
            f"({loaded.rate:,.0f} keys/s), {loaded.stored:,} stored"
        )
    stolen = stolen_share(plan.cpu_at_start, cpu_times())
    over_run = "" if stolen is None else f"; CPU time stolen by the hypervisor during the run: {stolen:.1%}"
    loop_ms = python_loop_ms()
    console.print(f"2,000,000-iteration Python loop at the end: {loop_ms:.0f} ms{over_run}")
    return Summary(comparisons, loop_ms, stolen)


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _phase_one_summary(found: dict[str, Row]) -> list[Entry]:
    """What the access line costs, and two SQLite workers against one."""
    shipped = found.get("verify-1k")
    quiet = found.get("verify-1k-quiet")
    if shipped is None:
        return []
    if quiet is not None and shipped.floor and quiet.floor:
        console.print(
            f"access log: verify keeps {shipped.measured.rps / shipped.floor:.1%} of its floor with it (as "
            f"shipped), {quiet.measured.rps / quiet.floor:.1%} without it"
        )
    goal = COMPARISONS["workers"]
    two, one = found.get(goal.of), found.get(goal.against)
    if two is None or one is None:
        return []
    ratio = goal.figure(two.figures, one.figures)
    met = goal.met(two.figures, one.figures)
    console.print(
        f"SQLite, no Redis: verify with 2 workers {two.measured.rps:,.0f}/s, with 1 worker "
        f"{one.measured.rps:,.0f}/s: {'-' if ratio is None else f'{ratio:.2f}'}x "
        f"(goal {goal.describe()}, at least as fast): {_yes(met)}"
    )
    return [comparison_entry(goal, ratio, met)]


def log_entry(
    plan: Plan, rows: list[Row], summary: Summary, backend: str, facts: Machine, date: str
) -> Entry:
    """The run's line of bench/results.jsonl."""
    return results.entry(
        date=date,
        commit=results.commit(),
        benchmark="bench",
        command=results.command("bench", plan.argv),
        machine=results.machine_entry(facts, summary.loop_ms, summary.stolen),
        database=backend,
        rows=[
            results.row_entry(
                row.name,
                row.key,
                row.stored,
                row.figures,
                row.measured.p50_ms,
                describe_row(row.key) if row.key in ROW_GOALS else None,
                row.met(),
                row.webhooks,
            )
            for row in rows
        ],
        comparisons=summary.comparisons,
    )


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_wrk_options(parser)
    parser.add_argument(
        "--keys", type=int, default=1_000_000, help="API keys stored in phase 2 (default 1,000,000)"
    )
    parser.add_argument(
        "--working-set",
        type=int,
        default=10_000,
        help="phase 2 draws keys from this many, sampled from all stored keys (default 10,000)",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server (e.g. postgresql://postgres@127.0.0.1:5432/test): the run creates "
        "and drops a database keyplane_bench_<random> there; default: a scratch SQLite file",
    )
    parser.add_argument(
        "--only", nargs="+", choices=TARGETS, help="run only these targets (the floor always runs)"
    )
    parser.add_argument(
        "--no-log", action="store_true", help=f"do not append this run to {results.LOG.name} (bench/)"
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    stop_on_sigterm()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    if min(args.seconds, args.connections, args.workers, args.wrk_threads, args.keys, args.working_set) < 1:
        raise SystemExit("every number must be at least 1")

    started = results.now()
    console.rule("machine")
    facts = machine()
    for line in facts.lines():
        console.print(line)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="keyplane-bench-")))
        env = {
            **os.environ,
            "KEYPLANE_DATA_DIR": str(folder),
            "KEYPLANE_LOG_LEVEL": "warning",
            # Fixed for the run, so the loader computes the digests the server does.
            "KEYPLANE_SECRET_KEY": secrets.token_urlsafe(48),
            # What ``keyplane serve --workers N`` tells each process.
            "KEYPLANE_WORKERS": str(args.workers),
            # The run's webhook receiver listens on 127.0.0.1, over http.
            "KEYPLANE_WEBHOOKS_ALLOW_PRIVATE": "true",
        }
        env.pop("KEYPLANE_DATABASE_URL", None)
        if args.database_url:
            env["KEYPLANE_DATABASE_URL"] = stack.enter_context(scratch_postgres(args.database_url))
            backend = "PostgreSQL"
        else:
            backend = "SQLite"
        url = Settings(
            data_dir=folder, database_url=env.get("KEYPLANE_DATABASE_URL", "")
        ).resolved_database_url()
        command = server_command(KEYPLANE, 0, True, args.workers)
        command[0], command[command.index("--port") + 1] = "keyplane", "<free port>"
        floor = server_command("bench.floor:app", 0, False, args.workers)
        floor[0], floor[floor.index("--port") + 1] = "uvicorn", "<free port>"
        console.print(f"server: {' '.join(command)} (its output to a file); the floor: {' '.join(floor)}")
        console.print(_settings_line(env, args.workers))
        slug, admin_key = init_account(env)
        plan = Plan(args, folder, env, url, slug, admin_key, argv=argv)
        rows, loads = run(plan)
    summary = report(plan, rows, loads, backend)
    if not args.no_log:
        results.append(log_entry(plan, rows, summary, backend, facts, started))
        console.print(f"logged in {results.LOG}")


if __name__ == "__main__":
    main()
