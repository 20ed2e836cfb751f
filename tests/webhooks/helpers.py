"""The webhook events an account has, and a receiver's check of a delivery's signature
(what a vendor's receiver does: it knows the account's public key, nothing else)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bench.receiver import signature_problem
from tests.factories import Tenant, bearer
from tests.webhooks.receiver import Received


async def deliveries(
    client: httpx.AsyncClient, account: Tenant, key: str | None = None
) -> list[dict[str, Any]]:
    """The account's webhook events, newest first."""
    response = await client.get(f"{account.base}/webhook-events", headers=bearer(key or account.key))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def public_key(client: httpx.AsyncClient, account: Tenant) -> Ed25519PublicKey:
    response = await client.get(f"/v1/accounts/{account.slug}", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    public = base64.b64decode(response.json()["meta"]["keys"]["ed25519"]).decode()
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))


def verify(received: Received, key: Ed25519PublicKey) -> None:
    """Fail unless ``received`` is signed by ``key``: the digest of its body, and the
    signature over its request target, Host, Date and Digest, as the receiver got them (the
    check the benchmark's receiver makes of every delivery)."""
    problem = signature_problem(key, received.method, received.target, received.headers, received.body)
    assert problem is None, problem
