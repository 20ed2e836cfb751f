"""Machines in Keygen's JSON:API shapes: activation, heartbeats, deactivation."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from keyplane.kit.documents import Document, ListDocument, returns
from keyplane.kit.jsonapi import created, document, list_query, listing
from keyplane.kit.paging import Listed
from keyplane.licenses import service as licenses
from keyplane.licenses.schemas import LicenseDocument, license_resource
from keyplane.licensing import heartbeat
from keyplane.machines import service
from keyplane.machines.schemas import (
    LICENSE_MACHINE_LIST,
    MACHINE_LIST,
    MachineCreate,
    MachineDocument,
    MachineFilters,
    MachineResource,
    MachineUpdate,
    machine_resource,
    parse_license_machine_list,
    parse_machine_list,
)
from keyplane.models import User
from keyplane.products.schemas import ProductResource, product_resource
from keyplane.users.schemas import OwnerDocument, user_resource
from keyplane.web.dependencies import DbSession, LicensingBearer

router = APIRouter(tags=["Machines"])
MachineList = Annotated[Listed[MachineFilters], Depends(list_query(MACHINE_LIST, parse_machine_list))]
LicenseMachineList = Annotated[
    Listed[MachineFilters], Depends(list_query(LICENSE_MACHINE_LIST, parse_license_machine_list))
]


@router.post("/machines", status_code=201, responses=returns(MachineDocument, 201))
async def activate_machine(
    request: Request, session: DbSession, bearer: LicensingBearer, body: MachineCreate
) -> JSONResponse:
    """Activate a machine on a license (``fingerprint`` and the ``license`` relationship),
    with up to 20 hardware ``components`` (``relationships.components.data``), all or nothing.

    422 ``FINGERPRINT_TAKEN`` if the fingerprint is already activated where the policy's
    uniqueness strategy looks; 422 ``MACHINE_LIMIT_EXCEEDED`` past the license's machines.
    """
    data = body.data
    owner = data.relationships.owner
    machine, policy = await service.activate(
        session,
        bearer,
        data.attributes,
        data.relationships.license.data.id,
        owner.data.id if owner is not None and owner.data is not None else None,
        data.relationships.group,
        [item.attributes for item in data.relationships.components.data]
        if data.relationships.components
        else (),
    )
    limit = await service.process_limit_of(session, machine, policy)
    return created(request, machine_resource(machine, policy, max_processes=limit))


async def _list(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: Listed[MachineFilters]
) -> JSONResponse:
    page, policies = await service.listing(session, bearer, asked)
    limits = await service.process_limits_of(session, page.items, policies)
    data = [
        machine_resource(machine, policies[machine.license_id], max_processes=limits[machine.license_id])
        for machine in page.items
    ]
    return listing(request, data, page)


@router.get("/machines", responses=returns(ListDocument[MachineResource]))
async def list_machines(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: MachineList
) -> JSONResponse:
    """Machines the bearer may see, newest first, narrowed by Keygen's filters (every one
    given applies): ``fingerprint``, ``ip``, ``hostname``, ``product``, ``policy``,
    ``license``, ``key``, ``owner``, ``user``, ``metadata[key]``."""
    return await _list(request, session, bearer, asked)


@router.get("/licenses/{license}/machines", responses=returns(ListDocument[MachineResource]))
async def license_machines(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer, asked: LicenseMachineList
) -> JSONResponse:
    """A license's machines, newest first (filters ``fingerprint``, ``product``, ``user``)."""
    found, _ = await licenses.get(session, bearer, license)
    narrowed = Listed(asked.paging, dataclasses.replace(asked.filters, license_id=found.id))
    return await _list(request, session, bearer, narrowed)


@router.get("/machines/{machine}", responses=returns(MachineDocument))
async def get_machine(
    request: Request, machine: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One machine by id or fingerprint."""
    found, policy = await service.get(session, bearer, machine)
    limit = await service.process_limit_of(session, found, policy)
    return document(request, machine_resource(found, policy, max_processes=limit))


@router.patch("/machines/{machine}", responses=returns(MachineDocument))
async def update_machine(
    request: Request, machine: str, session: DbSession, bearer: LicensingBearer, body: MachineUpdate
) -> JSONResponse:
    """Change a machine's name, platform, hostname, ip, cores, memory, disk or metadata."""
    found, policy = await service.update(session, bearer, machine, body.data.attributes)
    limit = await service.process_limit_of(session, found, policy)
    return document(request, machine_resource(found, policy, max_processes=limit))


@router.delete("/machines/{machine}", status_code=204, response_class=Response)
async def deactivate_machine(machine: str, session: DbSession, bearer: LicensingBearer) -> Response:
    """Deactivate a machine (by id or fingerprint): its seat is free at once."""
    await service.deactivate(session, bearer, machine)
    return Response(status_code=204)


@router.post("/machines/{machine}/actions/ping", responses=returns(MachineDocument))
async def ping_machine(
    request: Request, machine: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """A heartbeat: ``heartbeatStatus`` is ALIVE until ``heartbeatDuration`` from now
    (``RESURRECTED`` in this answer when the ping revived a dead machine)."""
    found, policy, revived = await service.ping(session, bearer, machine)
    body = machine_resource(
        found, policy, max_processes=await service.process_limit_of(session, found, policy)
    )
    if revived:
        body["attributes"]["heartbeatStatus"] = heartbeat.HeartbeatStatus.RESURRECTED
    return document(request, body)


@router.get("/machines/{machine}/license", responses=returns(LicenseDocument))
async def machine_license(
    request: Request, machine: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The license a machine is activated on."""
    found, _ = await service.get(session, bearer, machine)
    license, policy = await licenses.get(session, bearer, str(found.license_id))
    return document(request, license_resource(license, policy))


@router.get("/machines/{machine}/product", responses=returns(Document[ProductResource]))
async def machine_product(
    request: Request, machine: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The product of a machine's license."""
    found, _ = await service.get(session, bearer, machine)
    _, _, product, _ = await licenses.related(session, bearer, str(found.license_id))
    return document(request, product_resource(product))


@router.get("/machines/{machine}/owner", responses=returns(OwnerDocument))
async def machine_owner(
    request: Request, machine: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The user who owns a machine (``data: null`` when nobody does)."""
    found, _ = await service.get(session, bearer, machine)
    owner = await session.get(User, found.owner_id) if found.owner_id else None
    return document(request, None if owner is None else user_resource(owner))
