"""What a start does about the server secret: one pure decision, from what the database holds.

``decide`` takes which configured secret the stored verifier matches and which secrets open
the accounts' sealed signing keys, and answers one ``Plan``. The refusals, and the line each
prints, are in ``REFUSALS``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

VERIFIER_TEXT = b"keyplane server secret verifier v1"
"""The fixed text whose keyed hash under the server secret is the verifier."""


def verifier(secret: bytes) -> str:
    """HMAC-SHA256 of ``VERIFIER_TEXT`` under ``secret``, hex: it says which secret the
    database was set up with, and nothing about the secret itself."""
    return hmac.new(secret, VERIFIER_TEXT, hashlib.sha256).hexdigest()


class Match(StrEnum):
    """Which configured secret the stored verifier is the verifier of."""

    NONE = "none"
    """No verifier yet: a new database, or one that predates the check."""
    CURRENT = "current"
    PREVIOUS = "previous"
    """One of ``secret_key_previous``: a rotation is under way."""
    OTHER = "other"


def match(stored: str | None, current: bytes, previous: tuple[bytes, ...]) -> Match:
    """Which of the configured secrets ``stored`` (the installation's verifier) belongs to."""
    if stored is None:
        return Match.NONE
    if hmac.compare_digest(stored, verifier(current)):
        return Match.CURRENT
    if any(hmac.compare_digest(stored, verifier(secret)) for secret in previous):
        return Match.PREVIOUS
    return Match.OTHER


@dataclass(frozen=True, slots=True)
class Seals:
    """How many accounts' signing keys each kind of secret opens (accounts without a key,
    made before signing existed, count nowhere: they get one, sealed, on first use)."""

    current: int = 0
    previous: int = 0
    neither: int = 0


class Action(StrEnum):
    GO = "go"
    """The database was set up with this secret, and nothing waits to be re-sealed."""
    ADOPT = "adopt"
    """Write the verifier of the current secret (a database without one)."""
    ROTATE = "rotate"
    """Re-seal the keys a previous secret sealed under the current one, and write its verifier."""
    REFUSE = "refuse"


class Reason(StrEnum):
    WRONG_SECRET = "wrong secret"
    UNOPENED_KEYS = "unopened keys"


REFUSALS = {
    Reason.WRONG_SECRET: (
        "the server secret ({source}) is not the one this database was set up with: "
        "start with that secret (restore it from your backup), or, to rotate, set the new one "
        "in KEYPLANE_SECRET_KEY and the old one in KEYPLANE_SECRET_KEY_PREVIOUS"
    ),
    Reason.UNOPENED_KEYS: (
        "the server secret ({source}) does not open the signing keys of {count} of this "
        "database's accounts: start with the secret the database was set up with (restore it "
        "from your backup), or list it in KEYPLANE_SECRET_KEY_PREVIOUS to rotate"
    ),
}
"""The line a refused start prints; ``source`` names where the secret came from."""


@dataclass(frozen=True, slots=True)
class Plan:
    action: Action
    reason: Reason | None = None


def decide(found: Match, seals: Seals | None) -> Plan:
    """What to do at start. ``seals`` may be None only when the verifier is the current
    secret's and no previous secret is configured: nothing can then be due to re-seal."""
    if found is Match.OTHER:
        return Plan(Action.REFUSE, Reason.WRONG_SECRET)
    if seals is None:
        if found is not Match.CURRENT:
            raise ValueError("the signing keys must be looked at unless the verifier is current")
        return Plan(Action.GO)
    if seals.neither:
        return Plan(Action.REFUSE, Reason.UNOPENED_KEYS)
    if found is Match.PREVIOUS or seals.previous:
        return Plan(Action.ROTATE)
    if found is Match.NONE:
        return Plan(Action.ADOPT)
    return Plan(Action.GO)
