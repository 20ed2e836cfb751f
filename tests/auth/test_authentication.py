"""The credential check as pure rules: ``judge``, the verdict's lifetime, every refusal."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyplane.auth.scopes import Scope
from keyplane.credentials.authentication import NOTHING, REFUSALS, judge, refusal
from keyplane.credentials.engine import FOREVER, CredentialState, Outcome
from keyplane.errors import Forbidden, TooManyRequests, Unauthorized
from keyplane.kit.credentials import CredentialKind
from keyplane.models.credential import CredentialStatus

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ACCOUNT = uuid.uuid4()
OFFICE = ipaddress.ip_address("10.1.2.3")
HOME = ipaddress.ip_address("192.168.0.9")
READ = frozenset({Scope.READ})


def _state(**changes: Any) -> CredentialState:
    key = uuid.uuid4()
    base = CredentialState(
        id=key,
        account_id=ACCOUNT,
        user_id=uuid.uuid4(),
        product_id=None,
        parent_id=None,
        kind=CredentialKind.API_KEY,
        digest=b"d",
        role="admin",
        scopes=READ,
        status=CredentialStatus.ACTIVE,
        deleted=False,
        expires_at=None,
        whitelisted_ips=None,
        api_version=None,
        name=None,
        rate_limit=None,
        limit_id=key,
        budget_id=None,
        budgets=(),
    )
    return replace(base, **changes)


LATER = NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("state", "address", "needed", "outcome", "until"),
    [
        (_state(), None, NOTHING, Outcome.VALID, FOREVER),
        (_state(), None, READ, Outcome.VALID, FOREVER),
        (_state(expires_at=LATER), None, NOTHING, Outcome.VALID, LATER),
        (_state(expires_at=NOW), None, NOTHING, Outcome.EXPIRED, FOREVER),
        (_state(expires_at=NOW - timedelta(seconds=1)), None, NOTHING, Outcome.EXPIRED, FOREVER),
        (_state(deleted=True, status="inactive", expires_at=NOW), None, NOTHING, Outcome.REVOKED, FOREVER),
        (_state(status="inactive", expires_at=NOW), None, NOTHING, Outcome.INACTIVE, FOREVER),
        (_state(whitelisted_ips=("10.0.0.0/8",)), OFFICE, NOTHING, Outcome.VALID, FOREVER),
        (_state(whitelisted_ips=("10.0.0.0/8",)), HOME, NOTHING, Outcome.IP_NOT_ALLOWED, FOREVER),
        (_state(whitelisted_ips=("10.0.0.0/8",)), None, NOTHING, Outcome.IP_NOT_ALLOWED, FOREVER),
        (
            _state(whitelisted_ips=("10.0.0.0/8",), expires_at=LATER),
            HOME,
            NOTHING,
            Outcome.IP_NOT_ALLOWED,
            LATER,  # then it is EXPIRED
        ),
        (_state(expires_at=LATER), None, frozenset({Scope.MANAGE}), Outcome.INSUFFICIENT_SCOPE, LATER),
        (_state(account_id=uuid.uuid4()), None, NOTHING, Outcome.NOT_FOUND, FOREVER),
    ],
)
def test_judge(
    state: CredentialState,
    address: ipaddress.IPv4Address | None,
    needed: frozenset[Scope],
    outcome: Outcome,
    until: datetime,
) -> None:
    verdict = judge(Outcome.VALID, state, ACCOUNT, address, needed, NOW)
    assert verdict.outcome is outcome
    assert verdict.until == until
    if state.account_id == ACCOUNT:  # ``evaluate`` is the verdict's outcome, for any account
        assert state.evaluate(NOW, address, needed) is outcome


@pytest.mark.parametrize("resolved", [Outcome.MALFORMED, Outcome.NOT_FOUND])
def test_an_unresolved_credential_keeps_its_outcome(resolved: Outcome) -> None:
    assert judge(resolved, None, ACCOUNT, OFFICE, READ, NOW).outcome is resolved


def test_a_verdict_stands_until_it_changes() -> None:
    """What a verdict's ``until`` promises: the same use gets the same outcome before it,
    and (for a credential that expires) another one at it."""
    state = _state(expires_at=LATER)
    verdict = state.verdict(NOW, None)
    assert state.verdict(verdict.until - timedelta(microseconds=1), None).outcome is verdict.outcome
    assert state.verdict(verdict.until, None).outcome is not verdict.outcome


@pytest.mark.parametrize(
    ("outcome", "status", "code", "error"),
    [
        (Outcome.MALFORMED, 401, "TOKEN_FORMAT_INVALID", Unauthorized),
        (Outcome.NOT_FOUND, 401, "TOKEN_INVALID", Unauthorized),
        (Outcome.REVOKED, 401, "TOKEN_REVOKED", Unauthorized),
        (Outcome.INACTIVE, 401, "TOKEN_INACTIVE", Unauthorized),
        (Outcome.EXPIRED, 401, "TOKEN_EXPIRED", Unauthorized),
        (Outcome.IP_NOT_ALLOWED, 403, "IP_NOT_ALLOWED", Forbidden),
        (Outcome.INSUFFICIENT_SCOPE, 403, "INSUFFICIENT_SCOPE", Forbidden),
        (Outcome.RATE_LIMITED, 429, "RATE_LIMITED", TooManyRequests),
    ],
)
def test_every_refusal(outcome: Outcome, status: int, code: str, error: type[Exception]) -> None:
    refused = refusal(outcome)
    assert (refused.status, refused.code) == (status, code)
    assert refused.detail.startswith("The credential ")
    raised = refused.error()
    assert isinstance(raised, error)
    assert (raised.status, raised.code, raised.detail) == (status, code, refused.detail)
    assert REFUSALS[outcome] == refused


def test_every_outcome_but_valid_is_refused_and_valid_is_not() -> None:
    assert set(REFUSALS) == set(Outcome) - {Outcome.VALID}
    with pytest.raises(ValueError, match="not refused"):
        refusal(Outcome.VALID)
