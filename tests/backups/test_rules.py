"""What a restore does with the server secret (``keyplane.backups.rules.decide``), case by case."""

from __future__ import annotations

import pytest

from keyplane.backups.rules import Secret, decide
from keyplane.secret.rules import verifier

OURS = b"the secret the backup was made with"
OTHER = b"some other deployment's secret"


@pytest.mark.parametrize(
    ("backup", "configured", "stored", "expected"),
    [
        # The backup holds its secret.
        (OURS, None, verifier(OURS), Secret.PLACE),
        (OURS, OURS, verifier(OURS), Secret.KEEP),
        (OURS, OTHER, verifier(OURS), Secret.MISMATCH),
        (OURS, None, verifier(OTHER), Secret.INCONSISTENT),
        (OURS, OURS, verifier(OTHER), Secret.INCONSISTENT),
        (OURS, None, None, Secret.PLACE),  # a database no start had checked yet
        # It holds none: only the configured secret can open it.
        (None, None, verifier(OURS), Secret.MISSING),
        (None, OURS, verifier(OURS), Secret.KEEP),
        (None, OTHER, verifier(OURS), Secret.MISMATCH),
        (None, OTHER, None, Secret.KEEP),
    ],
)
def test_decide(backup: bytes | None, configured: bytes | None, stored: str | None, expected: Secret) -> None:
    assert decide(backup, configured, stored) is expected
