"""OAuth2 client credentials (RFC 6749 §4.4): an API key's id and secret for a short-lived
bearer token that carries the key's scopes, or fewer when ``scope`` asks for fewer."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from keyplane.auth.headers import MALFORMED, Malformed, basic, uses_basic
from keyplane.auth.network import client_address
from keyplane.errors import BadRequest
from keyplane.kit.documents import returns
from keyplane.oauth import service
from keyplane.oauth.schemas import AccessToken, request_body
from keyplane.services import services_of
from keyplane.web.dependencies import CurrentAccount, DbSession, origin_of

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


def _token_request(request: Request, form: dict[str, str]) -> service.TokenRequest:
    header = request.headers.get("authorization")
    client: tuple[str, str] | Malformed | None = None
    if uses_basic(header):
        pair = basic(header)
        # RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic's encoding.
        client = (unquote(pair[0]), unquote(pair[1])) if isinstance(pair, tuple) else MALFORMED
    elif "client_id" in form and "client_secret" in form:
        client = (form["client_id"], form["client_secret"])
    return service.TokenRequest(
        grant_type=form.get("grant_type"), client=client, basic=uses_basic(header), scope=form.get("scope")
    )


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
    asked = _token_request(request, await _form(request))
    services = services_of(request.app)
    issued = await service.issue(
        session,
        services.credentials,
        services.limiter,
        account,
        asked,
        client_address(request.scope, services.trusted_proxies),
        timedelta(seconds=services.settings.access_token_ttl_seconds),
        origin_of(request),
    )
    return JSONResponse(issued.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
