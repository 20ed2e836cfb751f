"""What a restore does with the server secret: one pure decision.

A backup's database is of use only with the secret it was set up with; a restore never
puts one in place under another, and never replaces the secret a deployment is configured
with. ``decide`` takes the backup's secret (opened, or None when the backup holds none),
the configured one (None when there is none yet) and the backup's verifier, and answers.
"""

from __future__ import annotations

import hmac
from enum import StrEnum

from keyplane.secret import rules as secret_rules


class Secret(StrEnum):
    KEEP = "keep"
    """The configured secret is the backup's: nothing to do."""
    PLACE = "place"
    """No secret is configured: the backup's goes into the data dir."""
    MISMATCH = "mismatch"
    """The configured secret is not the one the backup's database was set up with."""
    MISSING = "missing"
    """The backup holds no secret and none is configured: nothing could open the database."""
    INCONSISTENT = "inconsistent"
    """The backup's secret is not the one its own database was set up with."""


def decide(backup: bytes | None, configured: bytes | None, verifier: str | None) -> Secret:
    if backup is not None:
        if (
            verifier is not None
            and secret_rules.match(verifier, backup, ()) is not secret_rules.Match.CURRENT
        ):
            return Secret.INCONSISTENT
        if configured is None:
            return Secret.PLACE
        return Secret.KEEP if hmac.compare_digest(configured, backup) else Secret.MISMATCH
    if configured is None:
        return Secret.MISSING
    if verifier is None:
        return Secret.KEEP  # a database no start had checked: any secret opens it
    found = secret_rules.match(verifier, configured, ())
    return Secret.KEEP if found is secret_rules.Match.CURRENT else Secret.MISMATCH
