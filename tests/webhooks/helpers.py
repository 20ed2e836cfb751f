"""The webhook events an account has, and a receiver's check of a delivery's signature
(what a vendor's receiver does: it knows the account's public key, nothing else)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

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
    """Raise unless ``received`` is signed by ``key``: the digest of its body, and the
    signature over its request target, Host, Date and Digest, as the receiver got them."""
    headers = received.headers
    digest = "sha-256=" + base64.b64encode(hashlib.sha256(received.body).digest()).decode()
    assert headers["digest"] == digest
    params = dict(
        (name.strip(), value.strip().strip('"'))
        for name, _, value in (part.partition("=") for part in headers["keygen-signature"].split(", "))
    )
    assert params["algorithm"] == "ed25519"
    assert params["headers"] == "(request-target) host date digest"
    text = (
        f"(request-target): {received.method.lower()} {received.target}\n"
        f"host: {headers['host']}\ndate: {headers['date']}\ndigest: {digest}"
    )
    key.verify(base64.b64decode(params["signature"]), text.encode())
