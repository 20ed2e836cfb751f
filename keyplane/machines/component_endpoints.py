"""Machine components in Keygen's JSON:API shapes: add, list, read, rename, remove."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from keyplane.components.schemas import (
    COMPONENT_LIST,
    MACHINE_COMPONENT_LIST,
    ComponentCreate,
    ComponentDocument,
    ComponentFilters,
    ComponentResource,
    ComponentUpdate,
    component_resource,
    parse_component_list,
    parse_machine_component_list,
)
from keyplane.kit.documents import Document, ListDocument, returns
from keyplane.kit.jsonapi import created, document, list_query, listing
from keyplane.kit.paging import Listed
from keyplane.licenses import service as licenses
from keyplane.licenses.schemas import LicenseDocument, license_resource
from keyplane.machines import components as service
from keyplane.machines import service as machines
from keyplane.machines.schemas import MachineDocument, machine_resource
from keyplane.products.schemas import ProductResource, product_resource
from keyplane.web.dependencies import DbSession, LicensingBearer

router = APIRouter(tags=["Components"])
ComponentList = Annotated[Listed[ComponentFilters], Depends(list_query(COMPONENT_LIST, parse_component_list))]
MachineComponentList = Annotated[
    Listed[ComponentFilters], Depends(list_query(MACHINE_COMPONENT_LIST, parse_machine_component_list))
]


@router.post("/components", status_code=201, responses=returns(ComponentDocument, 201))
async def add_component(
    request: Request, session: DbSession, bearer: LicensingBearer, body: ComponentCreate
) -> JSONResponse:
    """Add a hardware component (``fingerprint``, ``name``) to a machine (the ``machine``
    relationship). 422 ``FINGERPRINT_TAKEN`` if the fingerprint is already a component where
    the policy's ``componentUniquenessStrategy`` looks (the machine by default)."""
    data = body.data
    component = await service.create(
        session, bearer, data.attributes, str(data.relationships.machine.data.id)
    )
    return created(request, component_resource(component))


async def _list(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: Listed[ComponentFilters]
) -> JSONResponse:
    page = await service.listing(session, bearer, asked)
    return listing(request, [component_resource(component) for component in page.items], page)


@router.get("/components", responses=returns(ListDocument[ComponentResource]))
async def list_components(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: ComponentList
) -> JSONResponse:
    """Components the bearer may see, newest first, narrowed by Keygen's filters (every one
    given applies): ``product``, ``license``, ``machine``, ``owner``, ``user``."""
    return await _list(request, session, bearer, asked)


@router.get("/machines/{machine}/components", responses=returns(ListDocument[ComponentResource]))
async def machine_components(
    request: Request, machine: str, session: DbSession, bearer: LicensingBearer, asked: MachineComponentList
) -> JSONResponse:
    """A machine's components, newest first."""
    found, _ = await machines.get(session, bearer, machine)
    narrowed = Listed(asked.paging, dataclasses.replace(asked.filters, machine=found.id))
    return await _list(request, session, bearer, narrowed)


@router.get("/components/{component}", responses=returns(ComponentDocument))
async def get_component(
    request: Request, component: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One component by id."""
    return document(request, component_resource(await service.get(session, bearer, component)))


@router.patch("/components/{component}", responses=returns(ComponentDocument))
async def update_component(
    request: Request, component: str, session: DbSession, bearer: LicensingBearer, body: ComponentUpdate
) -> JSONResponse:
    """Rename a component; ``metadata`` too for staff and product tokens (400 for others)."""
    attributes = body.data.attributes
    changes = {name: getattr(attributes, name) for name in attributes.model_fields_set}
    return document(request, component_resource(await service.update(session, bearer, component, changes)))


@router.delete("/components/{component}", status_code=204, response_class=Response)
async def remove_component(component: str, session: DbSession, bearer: LicensingBearer) -> Response:
    """Remove a component from its machine."""
    await service.remove(session, bearer, component)
    return Response(status_code=204)


@router.get("/components/{component}/machine", responses=returns(MachineDocument))
async def component_machine(
    request: Request, component: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The machine a component belongs to."""
    found = await service.get(session, bearer, component)
    machine, policy = await machines.get(session, bearer, str(found.machine_id))
    limit = await machines.process_limit_of(session, machine, policy)
    return document(request, machine_resource(machine, policy, max_processes=limit))


@router.get("/components/{component}/license", responses=returns(LicenseDocument))
async def component_license(
    request: Request, component: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The license of a component's machine."""
    found = await service.get(session, bearer, component)
    license, policy = await licenses.get(session, bearer, str(found.license_id))
    return document(request, license_resource(license, policy))


@router.get("/components/{component}/product", responses=returns(Document[ProductResource]))
async def component_product(
    request: Request, component: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The product of a component's license."""
    found = await service.get(session, bearer, component)
    _, _, product, _ = await licenses.related(session, bearer, str(found.license_id))
    return document(request, product_resource(product))
