"""Failed sign-ins on ``POST /tokens`` are limited, so a password cannot be guessed at speed.

Two budgets, counted by the application's rate limiter (in Redis when configured, so shared
by every process; in memory otherwise), both per account and per ``login_window_seconds``.
They never switch off: while Redis cannot be reached, each process counts alone
(``ratelimit.ProcessFallback``) until it answers again.

- ``login_attempts`` failures for one email from one client address: what a single
  guesser gets against one user. Another address, the user's own, is not locked out by it.
- ``login_address_attempts`` failures from one client address across all emails: a sweep of
  many users from one place.

IPv6 clients are counted by their /64, the block one subscriber is usually given. Only
failures count, so a user signing in often is never slowed down. Once a budget is spent,
every attempt it covers is refused with 429 *before* the password is checked, until the
window ends: a refused guess learns nothing, and costs the server no password hash. The
email is kept in the counter's name only as a digest. A budget is read before the password
is checked and spent after it fails, so attempts sent at the same moment may overshoot it
by as many as were in flight; the next one is refused.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid

from keyplane.auth.network import Address
from keyplane.config import Settings
from keyplane.errors import TooManyRequests
from keyplane.ratelimit import Decision, RateLimiter, plural, rate_headers


def _client(address: Address | None) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address) if address is not None else "unknown"


class LoginThrottle:
    """The budgets one sign-in attempt is counted against."""

    def __init__(
        self,
        limiter: RateLimiter,
        settings: Settings,
        account_id: uuid.UUID,
        email: str,
        address: Address | None,
    ) -> None:
        self._limiter = limiter
        self._window = settings.login_window_seconds
        client = _client(address)
        user = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        budgets = [
            (f"login:{account_id}:{user}:{client}", settings.login_attempts, "this email"),
            (f"login:{account_id}:{client}", settings.login_address_attempts, "any email"),
        ]
        self._budgets = [budget for budget in budgets if budget[1] > 0]  # 0: that limit is off

    async def check(self) -> None:
        """Raise ``TooManyRequests`` (429 ``RATE_LIMITED``) when a budget is spent."""
        for key, limit, scope in self._budgets:
            decision = await self._limiter.peek(key, limit, self._window)
            if not decision.allowed:
                raise _refused(decision, scope)

    async def failed(self) -> None:
        """Count one failed attempt against every budget."""
        for key, limit, _ in self._budgets:
            await self._limiter.hit(key, limit, self._window)


def _refused(decision: Decision, scope: str) -> TooManyRequests:
    return TooManyRequests(
        f"Too many failed sign-ins for {scope} from your address; "
        f"retry in {plural(decision.retry_after, 'second')}",
        "RATE_LIMITED",
        header="Authorization",
        headers=rate_headers(decision),
    )
