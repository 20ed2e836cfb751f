"""A license-file and machine-file reader written from Keygen's own verification steps
(keygen-api's ``features/step_definitions/request_steps.rb``, "certificate signed using" and
"encrypted certificate data"; Keygen's example https://gist.github.com/ezekg/ff9a11e47ddc6f67b9f1cb49f4b2e4bc),
independent of Keyplane's code, for the tests that check what Keyplane writes.

1. Strip the ``-----BEGIN LICENSE FILE-----`` armour and base64-decode the rest into JSON
   ``{"enc", "sig", "alg"}``.
2. Verify ``sig`` (base64 Ed25519) over ``"license/" + enc`` (``"machine/"`` for a machine
   file) with the account's public key.
3. ``base64+ed25519``: ``enc`` is the base64 of the JSON:API document.
   ``aes-256-gcm+ed25519``: ``enc`` is ``ciphertext.iv.tag`` (each base64); the key is
   SHA-256 of the license key (followed by the fingerprint for a machine file).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class NotGenuine(Exception):
    """The file's signature does not verify: it was not made by the account, or was changed."""


def envelope(certificate: str, kind: str) -> dict[str, str]:
    """Step 1: the ``{enc, sig, alg}`` of a ``kind`` ("license" or "machine") file."""
    head, tail = f"-----BEGIN {kind.upper()} FILE-----\n", f"-----END {kind.upper()} FILE-----\n"
    assert certificate.startswith(head), certificate[:40]
    assert certificate.endswith(tail), certificate[-40:]
    payload = certificate.removeprefix(head).removesuffix(tail)
    decoded: dict[str, str] = json.loads(base64.b64decode(payload.replace("\n", ""), validate=True))
    assert set(decoded) == {"enc", "sig", "alg"}, decoded
    return decoded


def verify(certificate: str, kind: str, public_hex: str) -> dict[str, str]:
    """Step 2: the envelope, once its signature verifies (else ``NotGenuine``)."""
    found = envelope(certificate, kind)
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
    try:
        key.verify(base64.b64decode(found["sig"], validate=True), f"{kind}/{found['enc']}".encode())
    except (InvalidSignature, binascii.Error) as error:
        raise NotGenuine from error
    return found


def read(certificate: str, kind: str, public_hex: str, secret: str | None = None) -> dict[str, Any]:
    """Steps 1 to 3: the verified file's JSON:API document (decrypted with ``secret``, the
    license key or license key + fingerprint, when the file is encrypted)."""
    found = verify(certificate, kind, public_hex)
    if found["alg"] == "base64+ed25519":
        assert secret is None, "an unencrypted file needs no secret"
        plain = base64.b64decode(found["enc"], validate=True)
    else:
        assert found["alg"] == "aes-256-gcm+ed25519", found["alg"]
        assert secret is not None, "an encrypted file needs its secret"
        plain = decrypt(found["enc"], secret)
    document: dict[str, Any] = json.loads(plain)
    return document


def decrypt(enc: str, secret: str) -> bytes:
    """AES-256-GCM as Keygen's steps give it (raises ``InvalidTag`` for the wrong secret)."""
    ciphertext, iv, tag = (base64.b64decode(part, validate=True) for part in enc.split("."))
    assert len(iv) == 12, len(iv)
    assert len(tag) == 16, len(tag)
    key = hashlib.sha256(secret.encode()).digest()
    return AESGCM(key).decrypt(iv, ciphertext + tag, None)
