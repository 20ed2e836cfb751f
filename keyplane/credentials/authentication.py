"""The credential check, written once: every path that accepts an API key or token (the
framework's dependencies, the lean handlers, OAuth's client authentication, and a
verification of a customer's key) decides through ``judge``, and every path that refuses a
request refuses with ``refusal``.

The check, in order: the presented credential is resolved (format, then the cache or the
database), it must belong to the account the request names (another account's credential
is indistinguishable from an unknown one), then ``CredentialState.verdict`` applies its
rules (deletion, status, expiry, the client address against its allowlist, the scopes the
use needs). An ordinary refusal is a value (``Refusal``), not an exception: each caller
answers it in its own API's way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.network import Address
from keyplane.auth.principal import AccountRef
from keyplane.auth.scopes import Scope
from keyplane.credentials.engine import FOREVER, CredentialEngine, CredentialState, Outcome, Verdict
from keyplane.errors import AppError, Forbidden, TooManyRequests, Unauthorized

NOTHING: frozenset[Scope] = frozenset()


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request's credential is refused, and how the framework's API says so."""

    outcome: Outcome
    status: Literal[401, 403, 429]
    code: str
    detail: str

    def error(self) -> AppError:
        """The error the framework raises for it (the envelope is the API's)."""
        kind = {401: Unauthorized, 403: Forbidden, 429: TooManyRequests}[self.status]
        return kind(self.detail, self.code)


def refusal(outcome: Outcome) -> Refusal:
    """The refusal of a request whose credential came out ``outcome``. Every outcome but
    VALID has one: an outcome added to ``Outcome`` and not here fails ``mypy`` (the match
    is checked for exhaustiveness), never a request."""
    match outcome:
        case Outcome.MALFORMED:
            return Refusal(
                outcome,
                401,
                "TOKEN_FORMAT_INVALID",
                "The credential is not a well-formed Keyplane credential",
            )
        case Outcome.NOT_FOUND:
            return Refusal(outcome, 401, "TOKEN_INVALID", "The credential is invalid")
        case Outcome.REVOKED:
            return Refusal(outcome, 401, "TOKEN_REVOKED", "The credential has been deleted")
        case Outcome.INACTIVE:
            return Refusal(outcome, 401, "TOKEN_INACTIVE", "The credential is inactive")
        case Outcome.EXPIRED:
            return Refusal(outcome, 401, "TOKEN_EXPIRED", "The credential is expired")
        case Outcome.IP_NOT_ALLOWED:
            return Refusal(outcome, 403, "IP_NOT_ALLOWED", "The credential may not be used from this address")
        case Outcome.INSUFFICIENT_SCOPE:
            return Refusal(outcome, 403, "INSUFFICIENT_SCOPE", "The credential lacks a required scope")
        case Outcome.RATE_LIMITED:
            return Refusal(outcome, 429, "RATE_LIMITED", "The credential has exceeded its rate limit")
        case Outcome.VALID:
            raise ValueError("a VALID credential is not refused")
        case _:
            assert_never(outcome)


REFUSALS: dict[Outcome, Refusal] = {
    outcome: refusal(outcome) for outcome in Outcome if outcome is not Outcome.VALID
}
"""Every refusal, made once (so each request reads one, and a wrong entry fails at import)."""


def judge(
    resolved: Outcome,
    state: CredentialState | None,
    account_id: uuid.UUID,
    address: Address | None,
    needed: frozenset[Scope],
    now: datetime,
) -> Verdict:
    """The verdict on a resolved credential (``CredentialEngine.resolve``'s answer, or a
    state from its cache with VALID) used for ``account_id``, from ``address``, needing
    ``needed``, at ``now``: its outcome, and until when that stands."""
    if state is None:
        return Verdict(resolved, FOREVER)
    if state.account_id != account_id:
        # Another account's credential is indistinguishable from an unknown one.
        return Verdict(Outcome.NOT_FOUND, FOREVER)
    return state.verdict(now, address, needed)


async def authenticate(
    engine: CredentialEngine,
    session: AsyncSession,
    presented: str,
    account: AccountRef,
    address: Address | None,
    needed: frozenset[Scope],
    now: datetime,
    refused: Callable[[CredentialState, Outcome], None] | None = None,
) -> CredentialState | Refusal:
    """The presented credential's state when it may be used for ``account``, from
    ``address``, with ``needed``, at ``now``; else why not (and, for a credential of the
    account that exists, ``refused`` is told: the event log notes the refusals that matter)."""
    resolved, state = await engine.resolve(session, presented)
    outcome = judge(resolved, state, account.id, address, needed, now).outcome
    if outcome is Outcome.VALID and state is not None:
        return state
    if refused is not None and state is not None and state.account_id == account.id:
        refused(state, outcome)
    return REFUSALS[outcome]
