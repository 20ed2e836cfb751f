"""OAuth2 client credentials (RFC 6749 §4.4): an API key's id and secret for a short-lived
bearer token that carries the key's scopes, or fewer when ``scope`` asks for fewer."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from keyplane import ratelimit
from keyplane.auth.actor import Acting, ActorType, Whodunnit
from keyplane.auth.authentication import NOTHING, Refusal, authenticate
from keyplane.auth.dependencies import CurrentAccount, origin_of
from keyplane.auth.headers import BASIC_CHALLENGE, basic, uses_basic
from keyplane.auth.network import client_address
from keyplane.auth.scopes import Scope, ordered
from keyplane.db import DbSession
from keyplane.errors import BadRequest, Unauthorized
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock
from keyplane.kit.credentials import CredentialKind
from keyplane.kit.documents import returns
from keyplane.oauth.schemas import AccessToken, request_body
from keyplane.services import services_of

router = APIRouter(tags=["OAuth2"])


async def _form(request: Request) -> dict[str, str]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            loaded = json.loads(raw or b"{}")
        except ValueError:
            raise BadRequest("The request body is not valid JSON", "invalid_request") from None
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise BadRequest("The JSON body must be an object of strings", "invalid_request")
        return loaded
    try:
        fields = parse_qs(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The body must be application/x-www-form-urlencoded", "invalid_request") from None
    if any(len(values) > 1 for values in fields.values()):
        raise BadRequest("Each parameter may be sent once", "invalid_request")
    return {name: values[0] for name, values in fields.items()}


def _client(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization")
    if uses_basic(header):
        pair = basic(header)
        if not isinstance(pair, tuple):
            raise Unauthorized(
                "Malformed Basic client credentials", "invalid_client", headers=BASIC_CHALLENGE
            )
        # RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic's encoding.
        return unquote(pair[0]), unquote(pair[1])
    if "client_id" not in form or "client_secret" not in form:
        raise Unauthorized("client_id and client_secret are required", "invalid_client")
    return form["client_id"], form["client_secret"]


@router.post(
    "/oauth/token",
    responses={**returns(AccessToken), 401: {}, 429: {}},
    # The client authenticates in the body or with HTTP Basic.
    openapi_extra={"requestBody": request_body(), "security": [{}, {"basicAuth": []}]},
)
async def token(request: Request, session: DbSession, account: CurrentAccount) -> JSONResponse:
    """Client credentials grant: ``client_id`` is the API key's id, ``client_secret`` the key.

    Form-encoded (or JSON) body, client authentication in the body or as HTTP Basic.
    Errors follow RFC 6749 (``error``, ``error_description``).
    """
    form = await _form(request)
    if "grant_type" not in form:
        raise BadRequest("grant_type is required", "invalid_request")
    if form["grant_type"] != "client_credentials":
        raise BadRequest("Only grant_type=client_credentials is supported", "unsupported_grant_type")
    client_id, secret = _client(request, form)
    services = services_of(request.app)
    engine = services.credentials
    now = clock.now()
    address = client_address(request.scope, services.trusted_proxies)
    state = await authenticate(engine, session, secret, account, address, NOTHING, now)
    # Every refusal is RFC 6749's invalid_client: a client learns nothing of why.
    if (
        isinstance(state, Refusal)
        or state.kind is not CredentialKind.API_KEY
        or str(state.id) != client_id.strip().lower()
    ):
        raise Unauthorized(
            "The client credentials are invalid, inactive or expired",
            "invalid_client",
            # RFC 6749 §5.2: a client that authenticated with HTTP Basic MUST get a matching challenge.
            headers=BASIC_CHALLENGE if uses_basic(request.headers.get("authorization")) else None,
        )
    # Getting a token is a use of the key: it spends the key's budget, as the token's uses will
    # (RFC 6749 names no error for this; ``rate_limited`` in its style, with Retry-After).
    await ratelimit.enforce(services.limiter, state, "rate_limited")
    scopes = set(state.scopes)
    if "scope" in form:
        try:
            asked = {Scope(part) for part in form["scope"].split()}
        except ValueError:
            raise BadRequest("scope names an unknown scope", "invalid_scope") from None
        if not asked or not asked <= scopes:
            raise BadRequest("scope asks for more than the key holds", "invalid_scope")
        scopes = asked
    ttl = timedelta(seconds=services.settings.access_token_ttl_seconds)
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
    actor = Acting(account, Whodunnit(ActorType.API_KEY, state.id), origin_of(request))
    events.record(
        session, actor, EventName.TOKEN_GENERATED, access.id, metadata={"grant": "client_credentials"}
    )
    return JSONResponse(
        {
            "access_token": plaintext,
            "token_type": "Bearer",
            "expires_in": int((expires_at - now).total_seconds()),
            "scope": " ".join(ordered(scopes)),
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
