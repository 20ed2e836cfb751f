"""Entitlements in Keygen's JSON:API shapes, and their attachments to policies and licenses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from keyplane.entitlements import attachments, service
from keyplane.entitlements.schemas import (
    ENTITLEMENT_LIST,
    AttachedDocument,
    EntitlementCreate,
    EntitlementIdentifiers,
    EntitlementResource,
    EntitlementUpdate,
    LicenseEntitlementResource,
    PolicyEntitlementResource,
    attached_resource,
    entitlement_resource,
    parse_entitlement_list,
)
from keyplane.kit.documents import Document, ListDocument, returns
from keyplane.kit.jsonapi import created, document, list_query, listing
from keyplane.kit.paging import Listed
from keyplane.web.dependencies import DbSession, LicensingBearer

router = APIRouter(tags=["Entitlements"])
EntitlementList = Annotated[Listed[None], Depends(list_query(ENTITLEMENT_LIST, parse_entitlement_list))]


@router.post("/entitlements", status_code=201, responses=returns(Document[EntitlementResource], 201))
async def create_entitlement(
    request: Request, session: DbSession, bearer: LicensingBearer, body: EntitlementCreate
) -> JSONResponse:
    """Create an entitlement (admins and developers): ``name`` and ``code`` (unique in the
    account whatever its case) required, ``metadata``."""
    entitlement = await service.create(session, bearer, body.data.attributes)
    return created(request, entitlement_resource(entitlement))


@router.get("/entitlements", responses=returns(ListDocument[EntitlementResource]))
async def list_entitlements(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: EntitlementList
) -> JSONResponse:
    """Entitlements the bearer may see, newest first (an end customer or a license: those of
    its licenses)."""
    page = await service.listing(session, bearer, asked)
    return listing(request, [entitlement_resource(e) for e in page.items], page)


@router.get("/entitlements/{entitlement}", responses=returns(Document[EntitlementResource]))
async def get_entitlement(
    request: Request, entitlement: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One entitlement by id or code."""
    return document(request, entitlement_resource(await service.get(session, bearer, entitlement)))


@router.patch("/entitlements/{entitlement}", responses=returns(Document[EntitlementResource]))
async def update_entitlement(
    request: Request, entitlement: str, session: DbSession, bearer: LicensingBearer, body: EntitlementUpdate
) -> JSONResponse:
    """Change an entitlement's ``name``, ``code`` or ``metadata``; those not sent stay."""
    updated = await service.update(session, bearer, entitlement, body.data.attributes)
    return document(request, entitlement_resource(updated))


@router.delete("/entitlements/{entitlement}", status_code=204, response_class=Response)
async def delete_entitlement(entitlement: str, session: DbSession, bearer: LicensingBearer) -> Response:
    """Delete an entitlement: it is detached from every policy and license."""
    await service.delete(session, bearer, entitlement)
    return Response(status_code=204)


# -- a policy's ------------------------------------------------------------------------------


@router.get("/policies/{policy}/entitlements", responses=returns(ListDocument[EntitlementResource]))
async def policy_entitlements(
    request: Request, policy: str, session: DbSession, bearer: LicensingBearer, asked: EntitlementList
) -> JSONResponse:
    """The entitlements attached to a policy (every license of the policy has them)."""
    page = await attachments.of_policy(session, bearer, policy, asked)
    return listing(request, [entitlement_resource(e) for e in page.items], page)


@router.get("/policies/{policy}/entitlements/{entitlement}", responses=returns(Document[EntitlementResource]))
async def policy_entitlement(
    request: Request, policy: str, entitlement: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One entitlement attached to the policy, by id."""
    found = await attachments.one_of_policy(session, bearer, policy, entitlement)
    return document(request, entitlement_resource(found))


@router.post(
    "/policies/{policy}/entitlements", responses=returns(AttachedDocument[PolicyEntitlementResource])
)
async def attach_policy_entitlements(
    request: Request, policy: str, session: DbSession, bearer: LicensingBearer, body: EntitlementIdentifiers
) -> JSONResponse:
    """Attach entitlements to a policy: 200 with the new ``policy-entitlements``. One already
    attached is 422 ``ENTITLEMENT_TAKEN``, one that does not exist ``ENTITLEMENT_NOT_FOUND``;
    nothing is attached then."""
    rows = await attachments.attach_to_policy(session, bearer, policy, [e.id for e in body.data])
    return document(request, [attached_resource(row) for row in rows])


@router.delete("/policies/{policy}/entitlements", status_code=204, response_class=Response)
async def detach_policy_entitlements(
    policy: str, session: DbSession, bearer: LicensingBearer, body: EntitlementIdentifiers
) -> Response:
    """Detach entitlements from a policy; one that is not attached is 422 (nothing detached)."""
    await attachments.detach_from_policy(session, bearer, policy, [e.id for e in body.data])
    return Response(status_code=204)


# -- a license's -----------------------------------------------------------------------------


@router.get("/licenses/{license}/entitlements", responses=returns(ListDocument[EntitlementResource]))
async def license_entitlements(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer, asked: EntitlementList
) -> JSONResponse:
    """A license's entitlements (by license id or key): its own and its policy's."""
    page = await attachments.of_license(session, bearer, license, asked)
    return listing(request, [entitlement_resource(e) for e in page.items], page)


@router.get(
    "/licenses/{license}/entitlements/{entitlement}", responses=returns(Document[EntitlementResource])
)
async def license_entitlement(
    request: Request, license: str, entitlement: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One of the license's entitlements (its own or its policy's), by id."""
    found = await attachments.one_of_license(session, bearer, license, entitlement)
    return document(request, entitlement_resource(found))


@router.post(
    "/licenses/{license}/entitlements", responses=returns(AttachedDocument[LicenseEntitlementResource])
)
async def attach_license_entitlements(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer, body: EntitlementIdentifiers
) -> JSONResponse:
    """Attach entitlements to a license itself: 200 with the new ``license-entitlements``.
    One its policy has already is 422 ``ENTITLEMENT_CONFLICT``; nothing is attached then."""
    rows = await attachments.attach_to_license(session, bearer, license, [e.id for e in body.data])
    return document(request, [attached_resource(row) for row in rows])


@router.delete("/licenses/{license}/entitlements", status_code=204, response_class=Response)
async def detach_license_entitlements(
    license: str, session: DbSession, bearer: LicensingBearer, body: EntitlementIdentifiers
) -> Response:
    """Detach entitlements from a license. One it has through its policy is 403 (detach it
    from the policy); one that is not attached is 422; nothing is detached then."""
    await attachments.detach_from_license(session, bearer, license, [e.id for e in body.data])
    return Response(status_code=204)
