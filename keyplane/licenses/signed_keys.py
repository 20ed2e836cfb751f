"""``ED25519_SIGN`` license keys: ``key/<base64url dataset>.<base64url signature>``.

The signature is the account's Ed25519 signature over ``key/<encoded dataset>``, so a
client holding the account's public key verifies a key offline. Both parts are base64url
with padding, as Keygen's clients decode them.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from keyplane.accounts.signing import Signer
from keyplane.kit.timefmt import iso, iso_or_none
from keyplane.models import License, Policy, User

PREFIX = "key/"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z]+)\s*\}\}")


def dataset(license: License, policy: Policy, owner: User | None) -> dict[str, Any]:
    """Keygen's default dataset for a signed key."""
    return {
        "account": {"id": str(license.account_id)},
        "product": {"id": str(license.product_id)},
        "policy": {"id": str(policy.id), "duration": policy.duration},
        "user": None if owner is None else {"id": str(owner.id), "email": owner.email},
        "license": {
            "id": str(license.id),
            "created": iso(license.created_at),
            "expiry": iso_or_none(license.expiry),
        },
    }


def fill(template: str, license: License, policy: Policy, owner: User | None) -> str:
    """A vendor's own dataset with ``{{id}}``, ``{{expiry}}``... filled in."""
    values = {
        "account": str(license.account_id),
        "product": str(license.product_id),
        "policy": str(policy.id),
        "id": str(license.id),
        "license": str(license.id),
        "created": iso(license.created_at),
        "expiry": iso_or_none(license.expiry) or "",
        "duration": "" if policy.duration is None else str(policy.duration),
        "user": "" if owner is None else str(owner.id),
        "owner": "" if owner is None else str(owner.id),
        "email": "" if owner is None else owner.email,
    }
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def sign(key: Signer, data: bytes) -> str:
    encoded = base64.urlsafe_b64encode(data).decode()
    signature = base64.urlsafe_b64encode(key.sign(f"{PREFIX}{encoded}".encode())).decode()
    return f"{PREFIX}{encoded}.{signature}"


def signed_key(
    key: Signer, license: License, policy: Policy, owner: User | None, template: str | None
) -> str:
    if template is not None:
        return sign(key, fill(template, license, policy, owner).encode())
    return sign(key, json.dumps(dataset(license, policy, owner), separators=(",", ":")).encode())
