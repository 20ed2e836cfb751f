"""The start rules for the server secret (``keyplane.secret.rules``), without a database."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest

from keyplane.accounts.signing import KeyRing, Signer
from keyplane.secret.rules import (
    REFUSALS,
    VERIFIER_TEXT,
    Action,
    Match,
    Plan,
    Reason,
    Seals,
    decide,
    match,
    verifier,
)

CURRENT = b"the-current-server-secret"
OLD = b"the-previous-server-secret"
OTHER = b"a-secret-nobody-configured"


@pytest.mark.parametrize(
    ("found", "seals", "plan"),
    [
        # A verifier of another secret: refused, whatever the keys.
        (Match.OTHER, None, Plan(Action.REFUSE, Reason.WRONG_SECRET)),
        (Match.OTHER, Seals(current=3), Plan(Action.REFUSE, Reason.WRONG_SECRET)),
        # The current secret's verifier, no rotation configured: one read, go on.
        (Match.CURRENT, None, Plan(Action.GO)),
        (Match.CURRENT, Seals(current=2), Plan(Action.GO)),
        # A rotation configured, and keys a previous secret sealed: re-seal them.
        (Match.CURRENT, Seals(current=2, previous=1), Plan(Action.ROTATE)),
        (Match.PREVIOUS, Seals(previous=2), Plan(Action.ROTATE)),
        (Match.PREVIOUS, Seals(), Plan(Action.ROTATE)),
        (Match.PREVIOUS, Seals(current=1, previous=1), Plan(Action.ROTATE)),
        # No verifier yet: a new database, or one that predates the check.
        (Match.NONE, Seals(), Plan(Action.ADOPT)),
        (Match.NONE, Seals(current=5), Plan(Action.ADOPT)),
        (Match.NONE, Seals(current=1, previous=1), Plan(Action.ROTATE)),
        # A key no configured secret opens: refused, even with a matching verifier.
        (Match.NONE, Seals(neither=1), Plan(Action.REFUSE, Reason.UNOPENED_KEYS)),
        (Match.NONE, Seals(current=4, neither=1), Plan(Action.REFUSE, Reason.UNOPENED_KEYS)),
        (Match.CURRENT, Seals(current=1, neither=1), Plan(Action.REFUSE, Reason.UNOPENED_KEYS)),
        (Match.PREVIOUS, Seals(previous=1, neither=1), Plan(Action.REFUSE, Reason.UNOPENED_KEYS)),
    ],
)
def test_decide(found: Match, seals: Seals | None, plan: Plan) -> None:
    assert decide(found, seals) == plan


@pytest.mark.parametrize("found", [Match.NONE, Match.PREVIOUS])
def test_decide_refuses_to_guess_without_the_keys(found: Match) -> None:
    with pytest.raises(ValueError, match="signing keys"):
        decide(found, None)


@pytest.mark.parametrize(
    ("stored", "previous", "found"),
    [
        (None, (), Match.NONE),
        (None, (OLD,), Match.NONE),
        (verifier(CURRENT), (), Match.CURRENT),
        (verifier(CURRENT), (OLD,), Match.CURRENT),
        (verifier(OLD), (OLD,), Match.PREVIOUS),
        (verifier(OLD), (OTHER, OLD), Match.PREVIOUS),
        (verifier(OLD), (), Match.OTHER),
        (verifier(OTHER), (OLD,), Match.OTHER),
        ("", (), Match.OTHER),
    ],
)
def test_match(stored: str | None, previous: tuple[bytes, ...], found: Match) -> None:
    assert match(stored, CURRENT, previous) is found


def test_the_verifier_is_a_keyed_hash_that_says_nothing_of_the_secret() -> None:
    value = verifier(CURRENT)
    assert value == hmac.new(CURRENT, VERIFIER_TEXT, hashlib.sha256).hexdigest()
    assert len(value) == 64  # the column's width
    assert CURRENT.decode() not in value
    assert CURRENT.hex() not in value
    assert verifier(OLD) != value


def test_every_refusal_is_one_line_that_says_what_to_do() -> None:
    for reason in Reason:
        line = REFUSALS[reason].format(source="KEYPLANE_SECRET_KEY", count=2)
        assert "\n" not in line
        assert "KEYPLANE_SECRET_KEY_PREVIOUS" in line
        assert "backup" in line


def test_a_key_ring_opens_what_the_current_or_a_previous_secret_sealed() -> None:
    account = uuid.uuid4()
    key = Signer.generate()
    _, under_old = KeyRing(OLD).seal(account, key)
    _, under_current = KeyRing(CURRENT).seal(account, key)
    rotating = KeyRing(CURRENT, (OTHER, OLD))

    opened = rotating.unseal(account, under_old)
    assert opened is not None
    assert (opened[0], opened[1]) == (key.seed(), False)
    opened = rotating.unseal(account, under_current)
    assert opened is not None
    assert (opened[0], opened[1]) == (key.seed(), True)
    # Not without the previous secret; and a sealed key is bound to its account.
    assert KeyRing(CURRENT).unseal(account, under_old) is None
    assert rotating.unseal(uuid.uuid4(), under_old) is None
