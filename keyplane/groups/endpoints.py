"""Groups in Keygen's JSON:API shapes, and the ``group`` relationship of licenses, machines
and users."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from keyplane.groups import owners, relations, service
from keyplane.groups.schemas import (
    GROUP_LIST,
    OWNER_LIST,
    GroupChange,
    GroupCreate,
    GroupDocument,
    GroupOwnerList,
    GroupOwnerResource,
    GroupResource,
    GroupUpdate,
    OptionalGroupDocument,
    group_owner_resource,
    group_resource,
    parse_group_list,
    parse_owner_list,
)
from keyplane.kit.documents import Document, ListDocument, returns
from keyplane.kit.jsonapi import created, document, list_query, listing
from keyplane.kit.paging import Listed
from keyplane.licenses import service as licenses
from keyplane.licenses.schemas import LicenseDocument, LicenseResource, license_resource
from keyplane.licensing.schemas import UsersChange
from keyplane.machines import service as machines
from keyplane.machines.schemas import MachineDocument, MachineResource, machine_resource
from keyplane.users.schemas import UserResource, user_resource
from keyplane.web.dependencies import DbSession, LicensingBearer

router = APIRouter(tags=["Groups"])
GroupList = Annotated[Listed[None], Depends(list_query(GROUP_LIST, parse_group_list))]
OwnerList = Annotated[Listed[None], Depends(list_query(OWNER_LIST, parse_owner_list))]


@router.post("/groups", status_code=201, responses=returns(GroupDocument, 201))
async def create_group(
    request: Request, session: DbSession, bearer: LicensingBearer, body: GroupCreate
) -> JSONResponse:
    """Create a group (``name``; ``maxLicenses``, ``maxMachines``, ``maxUsers``: null for no
    limit; ``metadata``). Admins, developers and product tokens."""
    group = await service.create(session, bearer, body.data.attributes)
    return created(request, group_resource(group))


@router.get("/groups", responses=returns(ListDocument[GroupResource]))
async def list_groups(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: GroupList
) -> JSONResponse:
    """Groups the bearer may see, newest first: all of them for staff and product tokens, a
    user's or a license's own group otherwise."""
    page = await service.listing(session, bearer, asked)
    return listing(request, [group_resource(group) for group in page.items], page)


@router.get("/groups/{group}", responses=returns(GroupDocument))
async def get_group(
    request: Request, group: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One group."""
    return document(request, group_resource(await service.get(session, bearer, group)))


@router.patch("/groups/{group}", responses=returns(GroupDocument))
async def update_group(
    request: Request, group: str, session: DbSession, bearer: LicensingBearer, body: GroupUpdate
) -> JSONResponse:
    """Change a group's name, limits or metadata; those not sent stay as they are. Lowering a
    limit below the members it has removes none of them: only new members are refused."""
    updated = await service.update(session, bearer, group, body.data.attributes)
    return document(request, group_resource(updated))


@router.delete("/groups/{group}", status_code=204, response_class=Response)
async def delete_group(group: str, session: DbSession, bearer: LicensingBearer) -> Response:
    """Delete a group; its licenses, machines and users stay, without a group."""
    await service.delete(session, bearer, group)
    return Response(status_code=204)


# -- a group's members -----------------------------------------------------------------------


@router.get("/groups/{group}/licenses", responses=returns(ListDocument[LicenseResource]))
async def group_licenses(
    request: Request, group: str, session: DbSession, bearer: LicensingBearer, asked: GroupList
) -> JSONResponse:
    """The group's licenses, newest first (staff; a product token sees its product's)."""
    page = await relations.members(session, bearer, group, "licenses", asked)
    policies = await licenses.policies_of(session, page.items)
    return listing(request, [license_resource(item, policies[item.policy_id]) for item in page.items], page)


@router.get("/groups/{group}/machines", responses=returns(ListDocument[MachineResource]))
async def group_machines(
    request: Request, group: str, session: DbSession, bearer: LicensingBearer, asked: GroupList
) -> JSONResponse:
    """The group's machines, newest first (staff; a product token sees its product's)."""
    page, policies = await relations.member_machines(session, bearer, group, asked)
    limits = await machines.process_limits_of(session, page.items, policies)
    data = [
        machine_resource(item, policies[item.license_id], max_processes=limits[item.license_id])
        for item in page.items
    ]
    return listing(request, data, page)


@router.get("/groups/{group}/users", responses=returns(ListDocument[UserResource]))
async def group_users(
    request: Request, group: str, session: DbSession, bearer: LicensingBearer, asked: GroupList
) -> JSONResponse:
    """The group's users, newest first (staff; a product token sees end customers)."""
    page = await relations.members(session, bearer, group, "users", asked)
    return listing(request, [user_resource(item) for item in page.items], page)


# -- a group's owners ------------------------------------------------------------------------


@router.get("/groups/{group}/owners", responses=returns(ListDocument[GroupOwnerResource]))
async def group_owners(
    request: Request, group: str, session: DbSession, bearer: LicensingBearer, asked: OwnerList
) -> JSONResponse:
    """The group's owners (``group-owners``), newest first: whoever sees the group."""
    page = await owners.listing(session, bearer, group, asked.paging)
    return listing(request, [group_owner_resource(item) for item in page.items], page)


@router.get("/groups/{group}/owners/{owner}", responses=returns(Document[GroupOwnerResource]))
async def group_owner(
    request: Request, group: str, owner: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One of the group's owners, by the ``group-owners`` id."""
    return document(request, group_owner_resource(await owners.get(session, bearer, group, owner)))


@router.post("/groups/{group}/owners", responses=returns(GroupOwnerList))
async def attach_group_owners(
    request: Request, group: str, session: DbSession, bearer: LicensingBearer, body: UsersChange
) -> JSONResponse:
    """Make users owners of the group (1 to 100): 200 with the new ``group-owners``. Admins,
    developers and product tokens. 422 ``USER_TAKEN`` for an owner already, ``USER_NOT_FOUND``
    for a stranger."""
    attached = await owners.attach(session, bearer, group, [item.id for item in body.data])
    return document(request, [group_owner_resource(row) for row in attached])


@router.delete("/groups/{group}/owners", status_code=204, response_class=Response)
async def detach_group_owners(
    group: str, session: DbSession, bearer: LicensingBearer, body: UsersChange
) -> Response:
    """Take users' ownership of the group away (1 to 100); 422 for one who is not an owner."""
    await owners.detach(session, bearer, group, [item.id for item in body.data])
    return Response(status_code=204)


# -- the group relationship of licenses, machines and users ---------------------------------


def _data(body: GroupChange) -> uuid.UUID | None:
    return None if body.data is None else body.data.id


@router.get("/licenses/{license}/group", responses=returns(OptionalGroupDocument))
async def license_group(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The license's group (404 when it has none)."""
    found, _ = await licenses.get(session, bearer, license)
    return document(request, group_resource(await service.group_of(session, bearer, found.group_id)))


@router.put("/licenses/{license}/group", responses=returns(LicenseDocument))
async def change_license_group(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer, body: GroupChange
) -> JSONResponse:
    """Move the license to a group (``data: null``: out of any); answers the license, as
    Keygen does. 422 ``GROUP_LICENSE_LIMIT_EXCEEDED`` when the group is full."""
    found, policy = await relations.license_group(session, bearer, license, _data(body))
    return document(request, license_resource(found, policy))


@router.get("/machines/{machine}/group", responses=returns(OptionalGroupDocument))
async def machine_group(
    request: Request, machine: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The machine's group (404 when it has none)."""
    found, _ = await machines.get(session, bearer, machine)
    return document(request, group_resource(await service.group_of(session, bearer, found.group_id)))


@router.put("/machines/{machine}/group", responses=returns(MachineDocument))
async def change_machine_group(
    request: Request, machine: str, session: DbSession, bearer: LicensingBearer, body: GroupChange
) -> JSONResponse:
    """Move the machine to a group (``data: null``: out of any); answers the machine. 422
    ``GROUP_MACHINE_LIMIT_EXCEEDED`` when the group is full."""
    found, policy = await relations.machine_group(session, bearer, machine, _data(body))
    limit = await machines.process_limit_of(session, found, policy)
    return document(request, machine_resource(found, policy, max_processes=limit))


@router.get("/users/{user}/group", responses=returns(OptionalGroupDocument))
async def user_group(
    request: Request, user: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The user's group (404 when they have none)."""
    found = await relations.find_user(session, bearer, user)
    return document(request, group_resource(await service.group_of(session, bearer, found.group_id)))


@router.put("/users/{user}/group", responses=returns(Document[UserResource]))
async def change_user_group(
    request: Request, user: str, session: DbSession, bearer: LicensingBearer, body: GroupChange
) -> JSONResponse:
    """Move the user to a group (``data: null``: out of any); answers the user. 422
    ``GROUP_USER_LIMIT_EXCEEDED`` when the group is full."""
    found = await relations.user_group(session, bearer, user, _data(body))
    return document(request, user_resource(found))
