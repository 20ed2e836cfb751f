"""The benchmark's webhook receiver (bench/receiver.py): it checks each delivery's signature
as a vendor's receiver does, with the account's public key alone, and counts what it got."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bench.receiver import Receiver, receiving, signature_problem
from keyplane.accounts.signing import Signer
from keyplane.webhooks import addresses
from keyplane.webhooks.delivery import Request, signed_headers

DATE = "Mon, 07 Dec 2026 10:00:00 GMT"
URL = "http://127.0.0.1:8123/bench-hooks"


def _delivery(
    signer: Signer, event: str = "license.validation.succeeded", url: str = URL
) -> tuple[dict[str, str], bytes]:
    """What Keyplane's delivery worker sends to ``url``: its signed headers (and Host) and body."""
    body = json.dumps(
        {"data": {"type": "webhook-events", "id": str(uuid.uuid4()), "attributes": {"event": event}}}
    )
    request = Request(uuid.uuid4(), uuid.uuid4(), url, "1.7", body.encode(), signer)
    target = addresses.parse(url, allow_private=True)
    headers = {name.lower(): value for name, value in signed_headers(request, target, "/bench-hooks", DATE)}
    return {**headers, "host": f"{target.host}:{target.port}"}, request.body


def _public(signer: Signer) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(signer.public)


def test_a_delivery_signed_by_the_account_s_key_verifies() -> None:
    signer = Signer.generate()
    headers, body = _delivery(signer)
    assert signature_problem(_public(signer), "POST", "/bench-hooks", headers, body) is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("another key", "the signature does not verify"),
        ("another body", "the Digest is not the body's"),
        ("another path", "the signature does not verify"),
        ("another host", "the signature does not verify"),
        ("another date", "the signature does not verify"),
        ("no signature", "no Keygen-Signature"),
    ],
)
def test_anything_else_is_a_bad_signature(change: str, problem: str) -> None:
    signer = Signer.generate()
    headers, body = _delivery(signer)
    key, target = _public(signer), "/bench-hooks"
    if change == "another key":
        key = _public(Signer.generate())
    elif change == "another body":
        body = body.replace(b"validation", b"vaIidation")
    elif change == "another path":
        target = "/elsewhere"
    elif change == "another host":
        headers["host"] = "127.0.0.1:8124"
    elif change == "another date":
        headers["date"] = DATE.replace("10:00:00", "10:00:01")
    else:
        del headers["keygen-signature"]
    assert signature_problem(key, "POST", target, headers, body) == problem


def test_the_receiver_counts_each_webhook_event_once_and_every_bad_delivery() -> None:
    signer, stranger = Signer.generate(), Signer.generate()
    receiver = Receiver()
    receiver.key = _public(signer)
    headers, body = _delivery(signer)
    receiver.take("POST", "/bench-hooks", headers, body)
    receiver.take("POST", "/bench-hooks", headers, body)  # at least once: the same event again
    receiver.take("POST", "/bench-hooks", *_delivery(signer, "license.created"))
    receiver.take("POST", "/bench-hooks", *_delivery(stranger))
    tally = receiver.tally()
    assert (tally.deliveries, tally.distinct, tally.validations, tally.bad) == (4, 2, 1, 1)
    assert receiver.problems == ["the signature does not verify"]


def test_the_receiver_answers_200_over_http_and_checks_what_it_got() -> None:
    signer = Signer.generate()
    with receiving() as receiver:
        receiver.key = _public(signer)
        for key in (signer, Signer.generate()):
            headers, body = _delivery(key, url=receiver.url)
            del headers["host"]  # httpx sends the URL's, the one signed for
            answer = httpx.post(receiver.url, content=body, headers=headers, timeout=10)
            assert answer.status_code == 200
        tally = receiver.tally()
    assert (tally.deliveries, tally.distinct, tally.validations, tally.bad) == (2, 1, 1, 1)
