"""Users in Keygen's JSON:API shapes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from keyplane.kit.documents import Document, ListDocument, returns
from keyplane.kit.jsonapi import document, list_query, listing
from keyplane.kit.paging import Listed
from keyplane.users import service
from keyplane.users.schemas import (
    USER_LIST,
    UserCreate,
    UserFilters,
    UserResource,
    UserUpdate,
    parse_user_list,
    user_resource,
)
from keyplane.web.dependencies import Creator, DbSession, Deleter, Reader, Updater

router = APIRouter(tags=["Users"])
UserList = Annotated[Listed[UserFilters], Depends(list_query(USER_LIST, parse_user_list))]


@router.post("/users", status_code=201, responses=returns(Document[UserResource], 201))
async def create_user(
    request: Request, session: DbSession, principal: Creator, body: UserCreate
) -> JSONResponse:
    """Create a user (needs MANAGE): staff with a role, or an end customer (role ``user``)."""
    user = await service.create(session, principal, body.data.attributes)
    return document(request, user_resource(user), 201)


@router.get("/users", responses=returns(ListDocument[UserResource]))
async def list_users(
    request: Request, session: DbSession, principal: Reader, asked: UserList
) -> JSONResponse:
    """Users of the account, newest first (needs MANAGE); Keygen's ``limit`` and ``page`` paging
    and its filters ``roles[]``, ``status``, ``product``, ``license``, ``assigned``."""
    page = await service.list_users(session, principal, asked)
    return listing(request, [user_resource(u) for u in page.items], page)


@router.get("/users/{user}", responses=returns(Document[UserResource]))
async def get_user(request: Request, user: str, session: DbSession, principal: Reader) -> JSONResponse:
    """A user by id or email: yourself, or anyone with MANAGE."""
    return document(request, user_resource(await service.get(session, principal, user)))


@router.patch("/users/{user}", responses=returns(Document[UserResource]))
async def update_user(
    request: Request, user: str, session: DbSession, principal: Updater, body: UserUpdate
) -> JSONResponse:
    """Change names or password (yourself or, with MANAGE, anyone) and roles (MANAGE)."""
    updated = await service.update(session, principal, user, body.data.attributes)
    return document(request, user_resource(updated))


@router.delete("/users/{user}", status_code=204, response_class=Response)
async def delete_user(user: str, session: DbSession, principal: Deleter) -> Response:
    """Delete a user (needs MANAGE) and every credential it owns."""
    await service.delete(session, principal, user)
    return Response(status_code=204)
