"""Which API a path belongs to: the one rule that errors (their envelope), signing (whether
an answer is signed), content negotiation and the lean handlers' routing all read.

Keyplane serves several APIs side by side, each with its own conventions:

- ``LICENSING``: Keygen's JSON:API (``/v1/...`` and ``/v1/accounts/{account}/...``), signed.
- ``API_KEYS``: Keyplane's own plain-JSON API-key surface (seeds 002 and 003): dated, not
  signed (a signature would cost more than the verification itself).
- ``OAUTH``: ``/oauth/token``, whose errors follow RFC 6749.
- ``OPERATIONS``: ``/healthz``, ``/readyz``, ``/metrics``, outside ``/v1``: plain JSON.
- ``OTHER``: anything else outside ``/v1`` (``/docs``, ``/openapi.json``, unknown paths).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class Family(StrEnum):
    LICENSING = "licensing"
    API_KEYS = "api_keys"
    OAUTH = "oauth"
    OPERATIONS = "operations"
    OTHER = "other"


Dialect = Literal["jsonapi", "plain", "oauth"]
"""The envelope an API's errors are written in."""

API_KEY_SEGMENTS = frozenset({"api-keys", "api-versions"})
"""First path segments (after the account) of the API-key surface."""
OPERATION_SEGMENTS = frozenset({"healthz", "readyz", "metrics"})
"""First path segments of the operations endpoints (outside ``/v1``)."""

DIALECTS: dict[Family, Dialect] = {
    Family.LICENSING: "jsonapi",
    Family.API_KEYS: "plain",
    Family.OAUTH: "oauth",
    Family.OPERATIONS: "plain",
    Family.OTHER: "jsonapi",
}
"""The error envelope of each family (a family missing here fails ``test_families``)."""


def split(path: str) -> tuple[str | None, list[str]] | None:
    """(the account named in a ``/v1/accounts/{account}...`` path, or None for bare ``/v1``;
    the segments after it) for an API path; None for a path outside ``/v1/``, or an
    account path without an account."""
    if not path.startswith("/v1/"):
        return None
    parts = path[4:].split("/")
    if parts[0] == "accounts":
        if len(parts) < 2 or not parts[1]:
            return None
        return parts[1], parts[2:]
    return None, parts


def family(path: str) -> Family:
    """The API ``path`` belongs to."""
    if path.startswith("/v1/"):
        parts = path[4:].split("/", 3)
        if parts[0] == "accounts":
            parts = parts[2:]
        first = parts[0] if parts else ""
        if first in API_KEY_SEGMENTS:
            return Family.API_KEYS
        return Family.OAUTH if first == "oauth" else Family.LICENSING
    first = path.split("/", 2)[1] if path.startswith("/") else path
    return Family.OPERATIONS if first in OPERATION_SEGMENTS else Family.OTHER


def dialect(path: str) -> Dialect:
    """The envelope of ``path``'s errors: ``jsonapi``, ``plain`` or ``oauth``."""
    return DIALECTS[family(path)]


def is_plain(path: str) -> bool:
    """Whether ``path``'s errors are plain JSON (camelCase parameters, dotted pointers)."""
    return DIALECTS[family(path)] != "jsonapi"


SIGNED = frozenset({Family.LICENSING, Family.OAUTH})
"""The families whose answers are signed (Keygen's ``Keygen-Signature``): every ``/v1`` API
but the API-key surface, whose answers are dated, not signed."""


def is_signed(path: str) -> bool:
    """Whether answers on ``path`` are signed."""
    return family(path) in SIGNED
