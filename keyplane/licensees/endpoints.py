"""A license's users (Keygen 1.8's licensees): list, read one, attach, detach."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from keyplane.kit.documents import Document, ListDocument, returns
from keyplane.kit.jsonapi import document, list_query, listing
from keyplane.kit.paging import Listed, no_filters, parser
from keyplane.licensees import service
from keyplane.licensees.schemas import (
    LICENSE_USER_LIST,
    LicenseUserList,
    license_user_resource,
)
from keyplane.licensing.schemas import UsersChange
from keyplane.users.schemas import UserResource, user_resource
from keyplane.web.dependencies import DbSession, LicensingBearer

router = APIRouter(tags=["Licenses"])
LicenseUserListing = Annotated[
    Listed[None], Depends(list_query(LICENSE_USER_LIST, parser(LICENSE_USER_LIST, no_filters)))
]


@router.get("/licenses/{license}/users", responses=returns(ListDocument[UserResource]))
async def license_users(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer, asked: LicenseUserListing
) -> JSONResponse:
    """A license's users: its owner and the users attached to it, newest first."""
    page = await service.listing(session, bearer, license, asked.paging)
    return listing(request, [user_resource(user) for user in page.items], page)


@router.get("/licenses/{license}/users/{user}", responses=returns(Document[UserResource]))
async def license_user(
    request: Request, license: str, user: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One of a license's users, by id or email."""
    return document(request, user_resource(await service.get(session, bearer, license, user)))


@router.post("/licenses/{license}/users", responses=returns(LicenseUserList))
async def attach_license_users(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer, body: UsersChange
) -> JSONResponse:
    """Attach users to a license (1 to 100): 200 with the new ``license-users``. 422
    ``USER_LIMIT_EXCEEDED`` past ``maxUsers`` (the owner counts), ``USER_TAKEN`` for one
    attached already, ``USER_CONFLICT`` for the owner, ``USER_NOT_FOUND`` for a stranger."""
    attached = await service.attach(session, bearer, license, [item.id for item in body.data])
    return document(request, [license_user_resource(row) for row in attached])


@router.delete("/licenses/{license}/users", status_code=204, response_class=Response)
async def detach_license_users(
    license: str, session: DbSession, bearer: LicensingBearer, body: UsersChange
) -> Response:
    """Detach users from a license (1 to 100); the owner cannot be (403)."""
    await service.detach(session, bearer, license, [item.id for item in body.data])
    return Response(status_code=204)
