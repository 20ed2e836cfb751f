"""Processes in Keygen's JSON:API shapes: spawn, list, read, update, kill, heartbeats."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from keyplane.kit import clock
from keyplane.kit.documents import Document, ListDocument, returns
from keyplane.kit.jsonapi import created, document, list_query, listing
from keyplane.kit.paging import Listed
from keyplane.licenses import service as licenses
from keyplane.licenses.schemas import LicenseDocument, license_resource
from keyplane.machines import service as machines
from keyplane.machines.schemas import MachineDocument, machine_resource
from keyplane.models import MachineProcess, Policy
from keyplane.processes import service
from keyplane.processes.schemas import (
    MACHINE_PROCESS_LIST,
    PROCESS_LIST,
    ProcessCreate,
    ProcessDocument,
    ProcessFilters,
    ProcessResource,
    ProcessStatus,
    ProcessUpdate,
    parse_machine_process_list,
    parse_process_list,
    process_resource,
)
from keyplane.products.schemas import ProductResource, product_resource
from keyplane.web.dependencies import DbSession, LicensingBearer

router = APIRouter(tags=["Processes"])
ProcessList = Annotated[Listed[ProcessFilters], Depends(list_query(PROCESS_LIST, parse_process_list))]
MachineProcessList = Annotated[
    Listed[ProcessFilters], Depends(list_query(MACHINE_PROCESS_LIST, parse_machine_process_list))
]


def _render(
    process: MachineProcess, policy: Policy, status: ProcessStatus | None = None
) -> dict[str, object]:
    return process_resource(
        process, service.interval(policy), status or service.status(process, policy, clock.now())
    )


@router.post("/processes", status_code=201, responses=returns(ProcessDocument, 201))
async def spawn_process(
    request: Request, session: DbSession, bearer: LicensingBearer, body: ProcessCreate
) -> JSONResponse:
    """Spawn a process (``pid`` and the ``machine`` relationship): ALIVE for the policy's
    ``heartbeatDuration`` (10 minutes by default) until its next ping.

    422 ``PID_TAKEN`` if the machine already runs that pid; 422
    ``MACHINE_PROCESS_LIMIT_EXCEEDED`` past ``maxProcesses``, counted per machine, license or
    machine owner by the policy's ``processLeasingStrategy``, within its overage strategy.
    """
    data = body.data
    process, policy = await service.spawn(
        session, bearer, data.attributes, str(data.relationships.machine.data.id)
    )
    return created(request, _render(process, policy))


async def _list(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: Listed[ProcessFilters]
) -> JSONResponse:
    page, policies = await service.listing(session, bearer, asked)
    now = clock.now()
    data = []
    for process in page.items:
        policy = policies[process.license_id]
        data.append(process_resource(process, service.interval(policy), service.status(process, policy, now)))
    return listing(request, data, page)


@router.get("/processes", responses=returns(ListDocument[ProcessResource]))
async def list_processes(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: ProcessList
) -> JSONResponse:
    """Processes the bearer may see, newest first, narrowed by Keygen's filters (every one
    given applies): ``product``, ``license``, ``machine``, ``owner``, ``user``, ``status``."""
    return await _list(request, session, bearer, asked)


@router.get("/machines/{machine}/processes", responses=returns(ListDocument[ProcessResource]))
async def machine_processes(
    request: Request, machine: str, session: DbSession, bearer: LicensingBearer, asked: MachineProcessList
) -> JSONResponse:
    """A machine's processes, newest first."""
    found, _ = await machines.get(session, bearer, machine)
    narrowed = Listed(asked.paging, dataclasses.replace(asked.filters, machine=found.id))
    return await _list(request, session, bearer, narrowed)


@router.get("/processes/{process}", responses=returns(ProcessDocument))
async def get_process(
    request: Request, process: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One process by id."""
    found, policy = await service.get(session, bearer, process)
    return document(request, _render(found, policy))


@router.patch("/processes/{process}", responses=returns(ProcessDocument))
async def update_process(
    request: Request, process: str, session: DbSession, bearer: LicensingBearer, body: ProcessUpdate
) -> JSONResponse:
    """Change a process's ``metadata`` (staff and product tokens; 400 for anyone else)."""
    attributes = body.data.attributes
    sent = "metadata" in attributes.model_fields_set
    found, policy = await service.update(session, bearer, process, attributes.metadata, sent)
    return document(request, _render(found, policy))


@router.delete("/processes/{process}", status_code=204, response_class=Response)
async def kill_process(process: str, session: DbSession, bearer: LicensingBearer) -> Response:
    """Kill a process: its lease is free at once."""
    await service.kill(session, bearer, process)
    return Response(status_code=204)


@router.post("/processes/{process}/actions/ping", responses=returns(ProcessDocument))
async def ping_process(
    request: Request, process: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """A process's heartbeat: ALIVE for another ``interval``. A dead process revives only as
    the policy's ``heartbeatResurrectionStrategy`` allows (``RESURRECTED`` in this answer),
    else 422 ``PROCESS_HEARTBEAT_DEAD``."""
    found, policy, revived = await service.ping(session, bearer, process)
    return document(request, _render(found, policy, ProcessStatus.RESURRECTED if revived else None))


@router.get("/processes/{process}/machine", responses=returns(MachineDocument))
async def process_machine(
    request: Request, process: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The machine a process runs on."""
    found, _ = await service.get(session, bearer, process)
    machine, policy = await machines.get(session, bearer, str(found.machine_id))
    limit = await machines.process_limit_of(session, machine, policy)
    return document(request, machine_resource(machine, policy, max_processes=limit))


@router.get("/processes/{process}/license", responses=returns(LicenseDocument))
async def process_license(
    request: Request, process: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The license of a process's machine."""
    found, _ = await service.get(session, bearer, process)
    license, policy = await licenses.get(session, bearer, str(found.license_id))
    return document(request, license_resource(license, policy))


@router.get("/processes/{process}/product", responses=returns(Document[ProductResource]))
async def process_product(
    request: Request, process: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The product of a process's license."""
    found, _ = await service.get(session, bearer, process)
    _, _, product, _ = await licenses.related(session, bearer, str(found.license_id))
    return document(request, product_resource(product))
