"""The account, with the public key its responses and signed license keys verify against."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from keyplane.accounts.schemas import AccountDocument
from keyplane.accounts.signing import public_base64
from keyplane.kit.documents import returns
from keyplane.kit.jsonapi import account_base, document
from keyplane.kit.timefmt import iso
from keyplane.models import Account
from keyplane.services import services_of
from keyplane.web.dependencies import DbSession, LicensingBearer

router = APIRouter(tags=["Accounts"])


@router.get("/accounts/{account}", responses=returns(AccountDocument))
async def get_account(request: Request, session: DbSession, bearer: LicensingBearer) -> JSONResponse:
    """The account (id or slug). ``meta.keys.ed25519`` is its Ed25519 public key: base64 of
    the 64 hex characters that Keygen clients take as ``public_key``."""
    account = await session.get(Account, bearer.account.id)
    assert account is not None  # the credential check resolved it
    public = public_base64(await services_of(request.app).keys.key(session, account.id))
    body = {
        "id": str(account.id),
        "type": "accounts",
        "attributes": {
            "name": account.name,
            "slug": account.slug,
            "created": iso(account.created_at),
            "updated": iso(account.updated_at),
        },
        "relationships": {},
        "links": {"self": account_base(account.id)},
    }
    return document(request, body, meta={"keys": {"ed25519": public}})
