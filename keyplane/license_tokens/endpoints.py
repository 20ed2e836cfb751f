"""License tokens (Keygen's activation tokens) in Keygen's JSON:API shapes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from keyplane.auth.dependencies import DbSession, LicensingBearer
from keyplane.auth.scopes import Role
from keyplane.kit.documents import ListDocument, returns
from keyplane.kit.jsonapi import document, list_query, listing
from keyplane.kit.paging import Listed
from keyplane.license_tokens import service
from keyplane.license_tokens.schemas import (
    LICENSE_TOKEN_LIST,
    LicenseTokenDocument,
    LicenseTokenRequest,
    parse_license_token_list,
)
from keyplane.services import services_of
from keyplane.tokens.resources import token_resource
from keyplane.tokens.schemas import TokenResource

router = APIRouter(tags=["Licenses"])
LicenseTokenList = Annotated[Listed[None], Depends(list_query(LICENSE_TOKEN_LIST, parse_license_token_list))]


@router.post("/licenses/{license}/tokens", responses=returns(LicenseTokenDocument))
async def create_license_token(
    request: Request,
    license: str,
    session: DbSession,
    bearer: LicensingBearer,
    body: Annotated[LicenseTokenRequest | None, Body()] = None,
) -> JSONResponse:
    """An activation token for the license (shown this once): with it, an installer
    activates and deactivates the license's machines, protected or not, up to
    ``maxActivations`` and ``maxDeactivations`` (null: no limit); past them 422
    ``ACTIVATIONS_LIMIT_EXCEEDED`` / ``DEACTIVATIONS_LIMIT_EXCEEDED``.

    Answers 200, as Keygen does for tokens created through a license."""
    attributes = (body or LicenseTokenRequest()).data.attributes
    token, plaintext = await service.issue(
        session,
        services_of(request.app).credentials,
        bearer,
        license,
        name=attributes.name,
        expiry=attributes.expiry,
        max_activations=attributes.max_activations,
        max_deactivations=attributes.max_deactivations,
    )
    return document(request, token_resource(token, Role.LICENSE.value, plaintext))


@router.get("/licenses/{license}/tokens", responses=returns(ListDocument[TokenResource]))
async def list_license_tokens(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer, asked: LicenseTokenList
) -> JSONResponse:
    """The license's tokens, newest first; never their secrets."""
    page = await service.listing(session, bearer, license, asked)
    return listing(request, [token_resource(token, Role.LICENSE.value) for token in page.items], page)


@router.get("/licenses/{license}/tokens/{token_id}", responses=returns(LicenseTokenDocument))
async def get_license_token(
    request: Request, license: str, token_id: uuid.UUID, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One of the license's tokens; never its secret."""
    token = await service.get(session, bearer, license, token_id)
    return document(request, token_resource(token, Role.LICENSE.value))
