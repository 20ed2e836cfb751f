"""The token resource (Keygen's shape); shared by user and product tokens."""

from __future__ import annotations

from typing import Any

from keyplane.auth.scopes import TOKEN_KINDS, Role, TokenKind
from keyplane.kit.jsonapi import account_base, to_one
from keyplane.kit.timefmt import iso, iso_or_none
from keyplane.models import Credential


def token_resource(token: Credential, role: str, plaintext: str | None = None) -> dict[str, Any]:
    base = account_base(token.account_id)
    attributes: dict[str, Any] = {"kind": TOKEN_KINDS.get(Role(role), TokenKind.USER)}
    if plaintext is not None:
        attributes["token"] = plaintext
    attributes |= {"expiry": iso_or_none(token.expires_at), "name": token.name}
    if token.license_id is not None:
        # Keygen shows the counts on activation tokens alone.
        attributes |= {
            "maxActivations": token.max_activations,
            "activations": token.activations,
            "maxDeactivations": token.max_deactivations,
            "deactivations": token.deactivations,
        }
    attributes |= {"created": iso(token.created_at), "updated": iso(token.updated_at)}
    return {
        "id": str(token.id),
        "type": "tokens",
        "attributes": attributes,
        "relationships": {
            "account": to_one(base, "accounts", token.account_id, ""),
            "bearer": _bearer(base, token),
        },
        "links": {"self": f"{base}/tokens/{token.id}"},
    }


def _bearer(base: str, token: Credential) -> dict[str, Any]:
    if token.product_id is not None:
        return to_one(base, "products", token.product_id, f"products/{token.product_id}")
    if token.license_id is not None:
        return to_one(base, "licenses", token.license_id, f"licenses/{token.license_id}")
    return to_one(base, "users", token.user_id, f"users/{token.user_id}")
