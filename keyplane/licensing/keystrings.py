"""License and pool key strings: Keygen's generated format, and the digest that indexes them."""

from __future__ import annotations

import hashlib
import secrets

RESERVED = frozenset({"action", "actions"})
"""Path words a key may not be (``/licenses/actions/...`` must stay routable)."""


def digest(key: str) -> bytes:
    """SHA-256 of a key string: the fixed-size value unique indexes and lookups use."""
    return hashlib.sha256(key.encode()).digest()


def generate() -> str:
    """Keygen's default license key: ``XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX-V3`` (128 random bits,
    the last byte replaced by the format version)."""
    raw = (secrets.token_hex(16)[:-2] + "v3").upper()
    return "-".join(raw[i : i + 6] for i in range(0, len(raw), 6))
