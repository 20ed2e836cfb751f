"""The console's account page: what a client app pins (the account's Ed25519 public key, in
the two forms Keygen's clients take) and the account's own settings (its name, slug and id,
and the API base they make). Every signed-in user of the account may read it: the key is
public, and the account's document (``GET /accounts/{account}``) gives it to any bearer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from keyplane.accounts import repository
from keyplane.accounts.signing import public_base64, public_hex
from keyplane.console.pages import PREFIX, Caller, ConsoleRoute, render
from keyplane.errors import NotFound
from keyplane.kit.jsonapi import account_base
from keyplane.services import services_of
from keyplane.web.dependencies import DbSession

router = APIRouter(prefix=f"{PREFIX}/account", route_class=ConsoleRoute, include_in_schema=False)


@router.get("")
async def account_page(request: Request, session: DbSession, console: Caller) -> Response:
    account = await repository.by_id_or_slug(session, str(console.signed.account.id))
    if account is None:
        raise NotFound("The requested account was not found", "NOT_FOUND")
    key = await services_of(request.app).keys.key(session, account.id)
    return render(
        request,
        "account/show.html",
        account=account,
        public_hex=public_hex(key),
        public_base64=public_base64(key),
        api_base=account_base(account.id),
        slug_base=f"/v1/accounts/{account.slug}",
    )
