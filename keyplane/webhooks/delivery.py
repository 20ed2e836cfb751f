"""The delivery worker: each Keyplane process runs one. It claims the deliveries that are
due (the outbox rows written with each change), sends them, and writes down each outcome:
``DELIVERED`` on a 2xx answer, else the next attempt's time (``backoff``) or, after the last,
``FAILED``.

It works in rounds, so that a backlog costs a few transactions per hundred deliveries rather
than two per delivery (on SQLite each waits its turn behind the process's other writers):
one transaction claims a batch, a read renders their payloads (stored by a second short
transaction the first time) and makes their requests, the requests go out side by side
(``IN_FLIGHT``, ``PER_ENDPOINT``) from an event loop of their own (``outlet``: the process's
own may be saturated by requests), and one transaction writes all their outcomes. While a
round comes back full, the next one starts at once. Its transactions wait their turn to
write behind the process's other writers however long that takes (``Database.writer``'s
``background``), rather than give up as a request would.

At least once: a claim is a lease, so a delivery whose process died mid-send is due again
when its lease ends, and a receiver may see an event twice (``meta.idempotencyToken``, the
event's id, tells the copies apart). No transaction is open while a request is in flight.
The worker never stops its process: whatever fails is logged (with ids, never a URL, a
payload or a key) and tried again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import random
import ssl
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formatdate
from urllib.parse import urlsplit

import h11

from keyplane import __version__, outages
from keyplane.accounts.signing import KeyRing, Signer
from keyplane.db import Database
from keyplane.kit import clock
from keyplane.models import WebhookEvent
from keyplane.models.webhook_event import DeliveryStatus
from keyplane.webhooks import addresses, backoff, payloads, repository, sender
from keyplane.webhooks.outlet import Outlet
from keyplane.webhooks.schemas import sent_resource

log = logging.getLogger("keyplane.webhooks")

BATCH = 100
"""Most deliveries a process claims per round (a round: claim, send, write the outcomes)."""
IN_FLIGHT = 16
"""Most requests a process has in flight at once."""
PER_ENDPOINT = 4
"""Most requests in flight to any one endpoint (so that a slow receiver holds its own few
places, not everyone's)."""
ALGORITHM = "ed25519"
SIGNED_HEADERS = "(request-target) host date digest"


@dataclass(frozen=True, slots=True)
class Request:
    """A claimed delivery, ready to send: where, what, and the key to sign it with."""

    delivery_id: uuid.UUID
    account_id: uuid.UUID
    url: str
    api_version: str
    body: bytes
    key: Signer


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int | None
    """The receiver's status code; None when there was no answer."""
    body: str

    @property
    def delivered(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


Outcomes = dict[uuid.UUID, Outcome | None]
"""A round's outcomes by delivery id: None where sending failed unexpectedly (the lease
brings it back), nothing for a delivery the round did not get to."""


def signing_text(target: str, host: str, date: str, digest: str) -> bytes:
    """What ``Keygen-Signature`` signs: the lines Keyplane signs its answers with, of this
    request (``keyplane.signing``)."""
    return f"(request-target): post {target}\nhost: {host}\ndate: {date}\ndigest: {digest}".encode()


def signed_headers(request: Request, target: addresses.Target, path: str, date: str) -> list[tuple[str, str]]:
    digest = "sha-256=" + base64.b64encode(hashlib.sha256(request.body).digest()).decode()
    text = signing_text(path, sender.host_header(target), date, digest)
    signature = base64.b64encode(request.key.sign(text)).decode()
    account = str(request.account_id)
    return [
        ("User-Agent", f"Keyplane/{__version__} (webhooks)"),
        ("Content-Type", "application/json"),
        ("Date", date),
        ("Digest", digest),
        ("Keygen-Date", date),
        ("Keygen-Digest", digest),
        ("Keygen-Signature", f'keyid="{account}", algorithm="{ALGORITHM}", {_signed(signature)}'),
        ("Keygen-Account", account),
        ("Keygen-Version", request.api_version),
    ]


def _signed(signature: str) -> str:
    return f'signature="{signature}", headers="{SIGNED_HEADERS}"'


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _failure(error: BaseException) -> str:
    """What ``lastResponseBody`` says of a request that got no answer (Keygen's words)."""
    if isinstance(error, addresses.Refused):
        return "URL_NOT_ALLOWED"
    if isinstance(error, TimeoutError):
        return "REQ_TIMEOUT"
    if isinstance(error, ssl.SSLError):
        return "SSL_ERROR"
    if isinstance(error, ConnectionRefusedError):
        return "CONN_REFUSED"
    if isinstance(error, ConnectionResetError):
        return "CONN_RESET"
    if isinstance(error, h11.ProtocolError):
        return "BAD_RESPONSE"
    return "CONN_ERROR"


class Deliverer:
    def __init__(
        self,
        database: Database,
        keys: KeyRing,
        *,
        poll: float,
        timeout: float,
        first_retry: float,
        allow_private: bool,
    ) -> None:
        self._database = database
        self._keys = keys
        self._poll = poll
        self._timeout = timeout
        self._first_retry = first_retry
        self._allow_private = allow_private
        # Longer than any one send can take (``sender.post`` bounds one by three timeouts):
        # past it, a claim is taken for abandoned. A round starts no send that could outlast
        # it (what it did not get to is given back, untried).
        self._lease = timedelta(seconds=4 * timeout + 5)
        self._send_bound = 3 * timeout + 1
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connections = sender.Connections()
        """Used on the outlet's loop while the worker runs, on the caller's otherwise."""
        self._outlet = Outlet("keyplane-webhooks-send")

    async def _claim(self) -> tuple[datetime, list[tuple[WebhookEvent, Request | None]]]:
        """Claim up to ``BATCH`` due deliveries and make their requests: the payloads rendered
        (and stored) the first time, the endpoints' current URLs, the accounts' keys. Their
        lease (from when the claim got its turn to write: it waits for it rather than give up,
        however busy the process) and the requests; a request is None when its endpoint is
        gone; a delivery whose payload could not be rendered is left out (claimed: its lease
        brings it back).

        The claim is a transaction of its own, and the rendering a read: rendering reads the
        deliveries' resources, and on SQLite a claim that rendered inside its transaction held
        the process's one turn to write meanwhile, a few dozen turns of a busy event loop (the
        event log's batches waited 70 to 390 ms for it under a saturating validation load).
        The payloads are stored, in a second short transaction, before anything is sent, so a
        retry sends what the first attempt sent."""
        async with self._database.writer(background=True) as session:
            now = clock.now()
            lease = now + self._lease
            claimed = await repository.claim(session, now, lease, BATCH)
            await session.commit()
        if not claimed:
            return lease, []
        async with self._database.reader() as session:
            wanted = {each.endpoint_id for each in claimed if each.endpoint_id is not None}
            endpoints = await repository.endpoints(session, wanted)
            live = [each for each in claimed if each.endpoint_id in endpoints]
            fresh = [each for each in live if each.payload is None]
            reading = await payloads.read_all(session, fresh)
            rendered: dict[uuid.UUID, str] = {}
            for each in fresh:
                try:
                    rendered[each.id] = await payloads.render_read(session, each, reading)
                except Exception as error:
                    # Left out of the round (its lease brings it back), not holding up the others.
                    outages.log_failure(log, "webhooks.delivery_error", error, delivery=str(each.id))
            stored = {
                account: await self._keys.stored(session, account) for account in {e.account_id for e in live}
            }
        keys = {account: key for account, key in stored.items() if key is not None}
        if rendered or len(keys) < len(stored):
            async with self._database.writer(background=True) as session:
                await repository.store_payloads(session, rendered)
                for account in stored.keys() - keys.keys():
                    keys[account] = await self._keys.key(session, account)  # made now: it had none
                await session.commit()
        made: list[tuple[WebhookEvent, Request | None]] = []
        for delivery in claimed:
            endpoint = endpoints.get(delivery.endpoint_id) if delivery.endpoint_id is not None else None
            if endpoint is None:
                made.append((delivery, None))
                continue
            if delivery.payload is None:
                if delivery.id not in rendered:
                    continue
                delivery.payload = rendered[delivery.id]
            document = {"data": sent_resource(delivery)}
            body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
            key = keys[delivery.account_id]
            made.append(
                (
                    delivery,
                    Request(delivery.id, delivery.account_id, endpoint.url, delivery.api_version, body, key),
                )
            )
        return lease, made

    async def _send(self, request: Request) -> Outcome:
        try:
            target = addresses.parse(request.url, allow_private=self._allow_private)
            address = (await addresses.resolve(target, allow_private=self._allow_private))[0]
            path = _path(request.url)
            headers = signed_headers(request, target, path, formatdate(usegmt=True))
            answer = await sender.post(
                target, address, path, headers, request.body, self._timeout, self._connections
            )
        except (OSError, TimeoutError, addresses.Refused, h11.ProtocolError) as error:
            return Outcome(None, _failure(error))
        return Outcome(answer.status, answer.body.decode("utf-8", errors="replace"))

    async def _send_all(self, made: list[tuple[WebhookEvent, Request | None]]) -> Outcomes:
        """Send a round's requests, ``IN_FLIGHT`` at a time and at most ``PER_ENDPOINT`` to
        any one endpoint (a slow receiver holds its own few places, not everyone's). The
        outcome of each that was sent (or could not be: ``ENDPOINT_GONE``), by delivery id;
        None for one whose sending failed unexpectedly (its lease brings it back). Those a
        send could no longer finish within the lease are left out."""
        outcomes: Outcomes = {}
        everyone = asyncio.Semaphore(IN_FLIGHT)
        each_endpoint: dict[str, asyncio.Semaphore] = {}
        loop = asyncio.get_running_loop()
        last_start = loop.time() + self._lease.total_seconds() - self._send_bound

        async def send(request: Request) -> None:
            places = each_endpoint.setdefault(request.url, asyncio.Semaphore(PER_ENDPOINT))
            async with places, everyone:
                if loop.time() > last_start:
                    return
                try:
                    outcomes[request.delivery_id] = await self._send(request)
                except Exception as error:
                    outcomes[request.delivery_id] = None
                    outages.log_failure(
                        log, "webhooks.delivery_error", error, delivery=str(request.delivery_id)
                    )

        sends = []
        for delivery, request in made:
            if request is None:
                outcomes[delivery.id] = Outcome(None, "ENDPOINT_GONE")
            else:
                sends.append(send(request))
        await asyncio.gather(*sends)
        return outcomes

    def _settled(self, delivery: WebhookEvent, outcome: Outcome, now: datetime) -> dict[str, object]:
        """``outcome`` written down: delivered, due again after its backoff, or (past the last
        attempt, or its endpoint gone) failed."""
        status = DeliveryStatus.DELIVERING
        next_attempt_at = delivery.next_attempt_at
        if outcome.delivered:
            status = DeliveryStatus.DELIVERED
        else:
            jitter = random.random()  # noqa: S311 (jitter, not a secret)
            final = outcome.body == "ENDPOINT_GONE" and outcome.code is None
            delay = None if final else backoff.next_delay(delivery.attempts, self._first_retry, jitter)
            if delay is None:
                status = DeliveryStatus.FAILED
            else:
                next_attempt_at = now + timedelta(seconds=delay)
        return {
            "id": delivery.id,
            "status": status.value,
            "next_attempt_at": next_attempt_at,
            "last_response_code": outcome.code,
            "last_response_body": outcome.body,
            "updated_at": now,
        }

    async def _settle_all(
        self, made: list[tuple[WebhookEvent, Request | None]], lease: datetime, outcomes: Outcomes
    ) -> None:
        """Write a round's outcomes, and give back what it did not send, in one transaction
        (an outcome is written only where this worker's claim still holds: a claim that
        outlived its lease has been taken over, and the other attempt's outcome stands)."""
        now = clock.now()
        settled = [
            self._settled(each, outcome, now)
            for each, _ in made
            if (outcome := outcomes.get(each.id)) is not None
        ]
        untried = [each.id for each, _ in made if each.id not in outcomes]
        async with self._database.writer(background=True) as session:
            await repository.settle_all(session, lease, settled)
            await repository.release(session, lease, untried)
            await session.commit()
        for delivery, _ in made:
            outcome = outcomes.get(delivery.id)
            if outcome is not None:
                _log(delivery, outcome)

    async def deliver_due(self) -> int:
        """Claim a batch of what is due, send it, and write the outcomes; how many were claimed."""
        async with self._database.reader() as session:
            if not await repository.any_due(session, clock.now()):
                return 0
        lease, made = await self._claim()
        if not made:
            return 0
        # Cut short (its process stopping), a round writes nothing: the lease brings it back.
        outcomes = await self._outlet.run(self._send_all(made))
        try:
            await self._settle_all(made, lease, outcomes)
        except Exception as error:
            # The lease brings them back; the log says which, never what they carry.
            ids = ",".join(str(each.id) for each, _ in made)
            outages.log_failure(log, "webhooks.settle_failed", error, deliveries=ids)
        return len(made)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            claimed = 0
            try:
                claimed = await self.deliver_due()
            except Exception as error:
                outages.log_failure(log, "webhooks.claim_failed", error)
            if claimed < BATCH:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._poll)

    def start(self) -> None:
        self._stopping.clear()
        self._outlet.start()
        self._task = asyncio.create_task(self._run(), name="keyplane-webhooks")

    async def stop(self) -> None:
        """Let the sends in flight finish (briefly); what is cut short is sent again by the
        next process once its lease ends."""
        if self._task is None:
            return
        self._stopping.set()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._task, self._timeout)
        self._task = None
        await self._outlet.run(self._close_connections())
        self._outlet.stop()

    async def _close_connections(self) -> None:
        # On the loop they were opened on.
        self._connections.close()


def _log(delivery: WebhookEvent, outcome: Outcome) -> None:
    extra = {
        "delivery": str(delivery.id),
        "endpoint": str(delivery.endpoint_id),
        "account": str(delivery.account_id),
        "webhookEvent": delivery.event,
        "attempt": delivery.attempts,
        "code": outcome.code,
    }
    if outcome.delivered:
        log.info("webhooks.delivered", extra=extra)
    elif outcome.code is None:
        log.warning("webhooks.delivery_failed", extra={**extra, "reason": outcome.body})
    else:
        # The receiver's answer is its own business (and may echo what it was sent).
        log.warning("webhooks.delivery_failed", extra=extra)
