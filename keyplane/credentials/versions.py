"""The API versions this server declares, and the rules for moving a key between them.

A key is pinned to a version; a request may ask for another with ``Keyplane-Version``.
Upgrading a key opens a 72-hour window in which it may go back to the version it came
from (Stripe's rollback window); after that, or to any other older version, a downgrade is
refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from keyplane.credentials.engine import Outcome

DOWNGRADE_WINDOW = timedelta(hours=72)
VERSION_HEADER = "Keyplane-Version"


@dataclass(frozen=True, slots=True)
class ApiVersion:
    version: str
    summary: str


VERSIONS: tuple[ApiVersion, ...] = (
    ApiVersion("2024-05-22", "First API-key management API (seeds 002 and 003)."),
    ApiVersion("2026-11-01", "Adds verification codes REVOKED and MALFORMED to /api-keys/verify."),
)
VERIFY_CODES_REVOKED_MALFORMED = "2026-11-01"
KNOWN = frozenset(v.version for v in VERSIONS)
CURRENT = VERSIONS[-1].version


def is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def serving(asked: str | None, pinned: str | None) -> str | None:
    """The version a request is served at: the one it asked for (None when this server does
    not know it), else the key's pin, else the current one."""
    if asked is not None:
        return asked if asked in KNOWN else None
    return pinned or CURRENT


LEGACY_CODES = {Outcome.REVOKED: Outcome.INACTIVE, Outcome.MALFORMED: Outcome.NOT_FOUND}
"""Verification codes that versions before ``VERIFY_CODES_REVOKED_MALFORMED`` did not know,
and what those versions say instead."""


def spoken(outcome: Outcome, version: str) -> Outcome:
    """The verification code ``outcome`` is answered with at ``version`` (both paths ask here)."""
    if version < VERIFY_CODES_REVOKED_MALFORMED:
        return LEGACY_CODES.get(outcome, outcome)
    return outcome
