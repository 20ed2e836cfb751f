"""The delivery worker: each Keyplane process runs one. It claims the deliveries that are
due (the outbox rows written with each change), sends them, and writes down each outcome:
``DELIVERED`` on a 2xx answer, else the next attempt's time (``backoff``) or, after the last,
``FAILED``.

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
from keyplane.webhooks.schemas import sent_resource

log = logging.getLogger("keyplane.webhooks")

BATCH = 20
"""Most deliveries a process claims (and sends at once) per look."""
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
        # Longer than any one send can take: past it, a claim is taken for abandoned.
        self._lease = timedelta(seconds=4 * timeout + 5)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _prepare(self, delivery: WebhookEvent) -> Request | None:
        """The request of a claimed delivery: its payload rendered (and stored) the first
        time, the endpoint's current URL, the account's key. None if the endpoint is gone."""
        async with self._database.writer() as session:
            endpoint = None
            if delivery.endpoint_id is not None:
                endpoint = await repository.endpoint(session, delivery.account_id, delivery.endpoint_id, None)
            if endpoint is None:
                return None
            if delivery.payload is None:
                delivery.payload = await payloads.render(session, delivery)
                await repository.store_payload(session, delivery.id, delivery.payload)
            key = await self._keys.key(session, delivery.account_id)
            await session.commit()
        document = {"data": sent_resource(delivery)}
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        return Request(delivery.id, delivery.account_id, endpoint.url, delivery.api_version, body, key)

    async def _send(self, request: Request) -> Outcome:
        try:
            target = addresses.parse(request.url, allow_private=self._allow_private)
            address = (await addresses.resolve(target, allow_private=self._allow_private))[0]
            path = _path(request.url)
            headers = signed_headers(request, target, path, formatdate(usegmt=True))
            answer = await sender.post(target, address, path, headers, request.body, self._timeout)
        except (OSError, TimeoutError, addresses.Refused, h11.ProtocolError) as error:
            return Outcome(None, _failure(error))
        return Outcome(answer.status, answer.body.decode("utf-8", errors="replace"))

    async def _settle(
        self, delivery: WebhookEvent, lease: datetime, outcome: Outcome, *, final: bool = False
    ) -> None:
        """Write ``outcome`` down: delivered, due again after its backoff, or (past the last
        attempt, or ``final``) failed."""
        now = clock.now()
        values: dict[str, object] = {
            "last_response_code": outcome.code,
            "last_response_body": outcome.body,
            "updated_at": now,
        }
        if outcome.delivered:
            values["status"] = DeliveryStatus.DELIVERED.value
        else:
            jitter = random.random()  # noqa: S311 (jitter, not a secret)
            delay = None if final else backoff.next_delay(delivery.attempts, self._first_retry, jitter)
            if delay is None:
                values["status"] = DeliveryStatus.FAILED.value
            else:
                values["next_attempt_at"] = now + timedelta(seconds=delay)
        async with self._database.writer() as session:
            await repository.settle(session, delivery.id, lease, values)
            await session.commit()
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

    async def _deliver(self, delivery: WebhookEvent, lease: datetime) -> None:
        try:
            request = await self._prepare(delivery)
            if request is None:
                await self._settle(delivery, lease, Outcome(None, "ENDPOINT_GONE"), final=True)
            else:
                await self._settle(delivery, lease, await self._send(request))
        except Exception as error:
            # The lease brings it back; the log says which, never what it carries.
            outages.log_failure(log, "webhooks.delivery_error", error, delivery=str(delivery.id))

    async def deliver_due(self) -> int:
        """Claim what is due and send it; how many were claimed."""
        now = clock.now()
        lease = now + self._lease
        async with self._database.reader() as session:
            if not await repository.any_due(session, now):
                return 0
        async with self._database.writer() as session:
            claimed = await repository.claim(session, now, lease, BATCH)
            await session.commit()
        if claimed:
            await asyncio.gather(*(self._deliver(delivery, lease) for delivery in claimed))
        return len(claimed)

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
