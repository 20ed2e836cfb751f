"""OAuth2 client credentials (RFC 6749 §4.4): which API key may get an access token, with
which scopes, until when, and how each refusal reads (RFC 6749 §5.2's ``error`` codes).

The endpoint parses the request (form-encoded or JSON body, HTTP Basic) into a
``TokenRequest``; everything decided about it is decided here, in the order a client sees:
the grant type, then the client's credentials, then the key's budget, then the scopes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane import ratelimit
from keyplane.auth.headers import BASIC_CHALLENGE, Malformed
from keyplane.auth.network import Address
from keyplane.auth.principal import AccountRef
from keyplane.auth.scopes import Scope, ordered
from keyplane.credentials.authentication import NOTHING, Refusal, authenticate
from keyplane.credentials.engine import CredentialEngine, CredentialState
from keyplane.errors import BadRequest, Unauthorized
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock
from keyplane.kit.actor import Acting, ActorType, Origin, Whodunnit
from keyplane.kit.credentials import CredentialKind
from keyplane.oauth.schemas import AccessToken
from keyplane.ratelimit import RateLimiter

GRANT_TYPE = "client_credentials"
"""The only grant Keyplane implements: an API key is the client."""


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A ``POST /oauth/token`` as sent: parsed, not yet judged."""

    grant_type: str | None
    """None when the body has no ``grant_type``."""
    client: tuple[str, str] | Malformed | None
    """The client's (id, secret), from HTTP Basic or the body; ``MALFORMED`` for Basic
    credentials that are not ``id:secret``; None when the body lacks either field."""
    basic: bool
    """The client authenticated with HTTP Basic: its refusal then carries a challenge."""
    scope: str | None
    """The space-separated scopes asked for; None for all of the key's."""


def _grant(asked: TokenRequest) -> None:
    if asked.grant_type is None:
        raise BadRequest("grant_type is required", "invalid_request")
    if asked.grant_type != GRANT_TYPE:
        raise BadRequest("Only grant_type=client_credentials is supported", "unsupported_grant_type")


def _client(asked: TokenRequest) -> tuple[str, str]:
    if asked.basic and not isinstance(asked.client, tuple):
        raise Unauthorized("Malformed Basic client credentials", "invalid_client", headers=BASIC_CHALLENGE)
    if not isinstance(asked.client, tuple):
        raise Unauthorized("client_id and client_secret are required", "invalid_client")
    return asked.client


def _invalid_client(asked: TokenRequest) -> Unauthorized:
    """Every refusal of the key itself: a client learns nothing of why."""
    return Unauthorized(
        "The client credentials are invalid, inactive or expired",
        "invalid_client",
        # RFC 6749 §5.2: a client that authenticated with HTTP Basic MUST get a matching challenge.
        headers=BASIC_CHALLENGE if asked.basic else None,
    )


def _scopes(state: CredentialState, asked: str | None) -> set[Scope]:
    """The token's scopes: the key's, or those asked for when the key holds them all."""
    held = set(state.scopes)
    if asked is None:
        return held
    try:
        wanted = {Scope(part) for part in asked.split()}
    except ValueError:
        raise BadRequest("scope names an unknown scope", "invalid_scope") from None
    if not wanted or not wanted <= held:
        raise BadRequest("scope asks for more than the key holds", "invalid_scope")
    return wanted


async def issue(
    session: AsyncSession,
    engine: CredentialEngine,
    limiter: RateLimiter,
    account: AccountRef,
    asked: TokenRequest,
    address: Address | None,
    ttl: timedelta,
    origin: Origin,
) -> AccessToken:
    """An access token for the API key ``asked`` names, from ``address``: it carries the key's
    scopes (or fewer), its address allowlist and API version, and lives ``ttl`` at most (never
    past the key's own expiry). The key acted (``origin`` is its request), for the event log."""
    _grant(asked)
    client_id, secret = _client(asked)
    now = clock.now()
    state = await authenticate(engine, session, secret, account, address, NOTHING, now)
    if (
        isinstance(state, Refusal)
        or state.kind is not CredentialKind.API_KEY
        or str(state.id) != client_id.strip().lower()
    ):
        raise _invalid_client(asked)
    # Getting a token is a use of the key: it spends the key's budget, as the token's uses will
    # (RFC 6749 names no error for this; ``rate_limited`` in its style, with Retry-After).
    await ratelimit.enforce(limiter, state, "rate_limited")
    scopes = _scopes(state, asked.scope)
    expires_at = now + ttl if state.expires_at is None else min(now + ttl, state.expires_at)
    access, plaintext = engine.mint(
        CredentialKind.ACCESS_TOKEN,
        account_id=state.account_id,
        user_id=state.user_id,
        parent_id=state.id,
        scopes=ordered(scopes),
        whitelisted_ips=list(state.whitelisted_ips) if state.whitelisted_ips else None,
        api_version=state.api_version,
        expires_at=expires_at,
    )
    session.add(access)
    await session.flush()
    actor = Acting(account, Whodunnit(ActorType.API_KEY, state.id), origin)
    await events.record(
        session, actor, EventName.TOKEN_GENERATED, access.id, metadata={"grant": "client_credentials"}
    )
    return AccessToken(
        access_token=plaintext,
        token_type="Bearer",  # noqa: S106 (the scheme's name, not a secret)
        expires_in=int((expires_at - now).total_seconds()),
        scope=" ".join(ordered(scopes)),
    )
