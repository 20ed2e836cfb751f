"""Check-out actions: license files and machine files for offline use, in Keygen's shapes.

``POST`` answers the file as a JSON:API ``license-files`` / ``machine-files`` document;
``GET`` answers the certificate itself (``application/octet-stream``, as an attachment named
``<id>.lic``). Both take ``encrypt``, ``algorithm``, ``ttl`` and ``include`` in the query
string; ``POST`` also in ``meta``, which wins.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, Response

from keyplane.auth.dependencies import DbSession, LicensingBearer, writes
from keyplane.checkouts import service
from keyplane.checkouts.schemas import (
    QUERY,
    CheckedOut,
    Checkout,
    LicenseFileDocument,
    MachineFileDocument,
    file_resource,
    options,
)
from keyplane.kit.documents import returns
from keyplane.kit.jsonapi import document
from keyplane.services import services_of

router = APIRouter(tags=["Check-outs"])

_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The certificate (``-----BEGIN ... FILE-----``), as an attachment",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_QUERY_DOC = {
    "parameters": [
        {
            "name": param.name,
            "in": "query",
            "required": False,
            "description": param.description,
            "schema": {"type": "string"},
        }
        for param in QUERY.params
    ]
}


def _attachment(made: CheckedOut) -> Response:
    return Response(
        made.certificate,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
    )


@router.post(
    "/licenses/{license}/actions/check-out", responses=returns(LicenseFileDocument), openapi_extra=_QUERY_DOC
)
async def check_out_license(
    request: Request,
    license: str,
    session: DbSession,
    bearer: LicensingBearer,
    body: Annotated[Checkout | None, Body()] = None,
) -> JSONResponse:
    """A license file: the license (and the records ``include`` names) signed with the
    account's Ed25519 key, encrypted with the license key when ``encrypt``; valid for
    ``ttl`` seconds (default one month; null: no expiry). Records ``lastCheckOut``."""
    asked = options(request.query_params.multi_items(), None if body is None else body.meta)
    made = await service.check_out_license(session, bearer, services_of(request.app).keys, license, asked)
    return document(request, file_resource(made))


@router.get(
    "/licenses/{license}/actions/check-out",
    response_class=Response,
    responses=_FILE,
    openapi_extra=_QUERY_DOC,
)
@writes
async def download_license_file(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer
) -> Response:
    """The license file itself, to save as ``<license id>.lic`` (same options, in the query)."""
    asked = options(request.query_params.multi_items(), None)
    made = await service.check_out_license(session, bearer, services_of(request.app).keys, license, asked)
    return _attachment(made)


@router.post(
    "/machines/{machine}/actions/check-out", responses=returns(MachineFileDocument), openapi_extra=_QUERY_DOC
)
async def check_out_machine(
    request: Request,
    machine: str,
    session: DbSession,
    bearer: LicensingBearer,
    body: Annotated[Checkout | None, Body()] = None,
) -> JSONResponse:
    """A machine file: the machine (and ``include``: ``license``, ``license.policy``...)
    signed with the account's key, encrypted with the license key followed by the
    machine's fingerprint when ``encrypt``. Records the machine's ``lastCheckOut``."""
    asked = options(request.query_params.multi_items(), None if body is None else body.meta)
    made = await service.check_out_machine(session, bearer, services_of(request.app).keys, machine, asked)
    return document(request, file_resource(made))


@router.get(
    "/machines/{machine}/actions/check-out",
    response_class=Response,
    responses=_FILE,
    openapi_extra=_QUERY_DOC,
)
@writes
async def download_machine_file(
    request: Request, machine: str, session: DbSession, bearer: LicensingBearer
) -> Response:
    """The machine file itself, to save as ``<machine id>.lic`` (same options, in the query)."""
    asked = options(request.query_params.multi_items(), None)
    made = await service.check_out_machine(session, bearer, services_of(request.app).keys, machine, asked)
    return _attachment(made)
