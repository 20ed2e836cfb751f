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
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}", re.ASCII)
r"""Keygen's ``TemplateFormatService::TEMPLATE_FORMAT_RE`` (Ruby's ``\w`` is ASCII)."""
_CAMEL = re.compile(r"([A-Z\d]+)(?=[A-Z][a-z])|([a-z\d])(?=[A-Z])")
_REPEATED = re.compile(r"_{2,}")


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


def variable(name: str) -> str:
    """The variable a placeholder names, as Keygen reads it: ``name.underscore.parameterize
    (separator: '_')`` (so ``{{ID}}`` is ``id`` and ``{{createdAt}}`` is ``created_at``)."""
    word = _CAMEL.sub(lambda match: (match.group(1) or match.group(2)) + "_", name).lower()
    return _REPEATED.sub("_", word).strip("_")


def fill(template: str, license: License, policy: Policy, owner: User | None) -> str:
    """A vendor's own dataset with ``{{id}}``, ``{{expiry}}``... filled in: Keygen's
    variables (``license.rb#crypt_key``), and any other placeholder blanked, as Keygen's
    ``TemplateFormatService`` blanks a variable it does not have."""
    values = {
        "account": str(license.account_id),
        "product": str(license.product_id),
        "policy": str(policy.id),
        "user": "" if owner is None else str(owner.id),
        "email": "" if owner is None else owner.email,
        "created": iso(license.created_at),
        "expiry": iso_or_none(license.expiry) or "",
        "duration": "" if policy.duration is None else str(policy.duration),
        "id": str(license.id),
    }
    return _PLACEHOLDER.sub(lambda match: values.get(variable(match.group(1)), ""), template)


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
