"""Licenses in Keygen's JSON:API shapes."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from keyplane.kit.documents import Document, ListDocument, returns
from keyplane.kit.jsonapi import (
    created,
    document,
    list_query,
    listing,
)
from keyplane.kit.paging import Listed
from keyplane.licenses import service
from keyplane.licenses.schemas import (
    LICENSE_LIST,
    POLICY_LICENSE_LIST,
    PRODUCT_LICENSE_LIST,
    LicenseCreate,
    LicenseDocument,
    LicenseFilters,
    LicenseResource,
    LicenseUpdate,
    OwnerChange,
    PolicyChange,
    license_resource,
    parse_license_list,
    parse_policy_license_list,
    parse_product_license_list,
)
from keyplane.policies import service as policies
from keyplane.policies.schemas import PolicyResource, policy_resource
from keyplane.products import service as products
from keyplane.products.schemas import ProductResource, product_resource
from keyplane.services import services_of
from keyplane.users.schemas import OwnerDocument, user_resource
from keyplane.web.dependencies import DbSession, LicensingBearer

router = APIRouter(tags=["Licenses"])
LicenseList = Annotated[Listed[LicenseFilters], Depends(list_query(LICENSE_LIST, parse_license_list))]
PolicyLicenseList = Annotated[
    Listed[LicenseFilters], Depends(list_query(POLICY_LICENSE_LIST, parse_policy_license_list))
]
ProductLicenseList = Annotated[
    Listed[LicenseFilters], Depends(list_query(PRODUCT_LICENSE_LIST, parse_product_license_list))
]


async def _listing(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: Listed[LicenseFilters]
) -> JSONResponse:
    page = await service.listing(session, bearer, asked)
    found = await service.policies_of(session, page.items)
    data = [license_resource(item, found[item.policy_id]) for item in page.items]
    return listing(request, data, page)


@router.post("/licenses", status_code=201, responses=returns(LicenseDocument, 201))
async def create_license(
    request: Request, session: DbSession, bearer: LicensingBearer, body: LicenseCreate
) -> JSONResponse:
    """Create a license under a policy (relationship ``policy`` required; ``owner`` optional).

    Without a ``key``, a pooled policy's license takes the next key from its pool (422
    ``POLICY_POOL_EMPTY`` when there is none, and nothing is created); any other gets a
    random key like ``XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX-V3``.
    """
    data = body.data
    license, policy = await service.create(
        session, bearer, data.attributes, data.relationships, services_of(request.app).keys
    )
    return created(request, license_resource(license, policy))


@router.get("/licenses", responses=returns(ListDocument[LicenseResource]))
async def list_licenses(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: LicenseList
) -> JSONResponse:
    """Licenses the bearer may see, newest first, narrowed by Keygen's filters (every one
    given applies): ``product``, ``policy``, ``owner``/``user``, ``machine``, ``status``,
    ``metadata[key]``, ``expires[in|before|after|on]``, ``suspended``, ``expired``,
    ``expiring``, ``unassigned``/``assigned``, ``activated``."""
    return await _listing(request, session, bearer, asked)


@router.get("/licenses/{license}", responses=returns(LicenseDocument))
async def get_license(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One license by id or by key."""
    found, policy = await service.get(session, bearer, license)
    return document(request, license_resource(found, policy))


@router.patch("/licenses/{license}", responses=returns(LicenseDocument))
async def update_license(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer, body: LicenseUpdate
) -> JSONResponse:
    """Change a license's name, expiry, limits or metadata; those not sent stay as they are."""
    found, policy = await service.update(session, bearer, license, body.data.attributes)
    return document(request, license_resource(found, policy))


@router.delete("/licenses/{license}", status_code=204, response_class=Response)
async def delete_license(license: str, session: DbSession, bearer: LicensingBearer) -> Response:
    """Delete a license for good."""
    await service.delete(session, bearer, license)
    return Response(status_code=204)


@router.get("/licenses/{license}/policy", responses=returns(Document[PolicyResource]))
async def license_policy(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The policy of a license."""
    _, policy, _, _ = await service.related(session, bearer, license)
    return document(request, policy_resource(policy))


@router.put("/licenses/{license}/policy", responses=returns(LicenseDocument))
async def change_license_policy(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer, body: PolicyChange
) -> JSONResponse:
    """Move a license to another policy of its product (pooled and unpooled do not mix)."""
    found, policy = await service.change_policy(session, bearer, license, body.data.id)
    return document(request, license_resource(found, policy))


@router.get("/licenses/{license}/product", responses=returns(Document[ProductResource]))
async def license_product(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The product of a license."""
    _, _, product, _ = await service.related(session, bearer, license)
    return document(request, product_resource(product))


@router.get("/licenses/{license}/owner", responses=returns(OwnerDocument))
async def license_owner(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The user who owns a license (``data: null`` when nobody does)."""
    _, _, _, owner = await service.related(session, bearer, license)
    return document(request, None if owner is None else user_resource(owner))


@router.put("/licenses/{license}/owner", responses=returns(LicenseDocument))
async def change_license_owner(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer, body: OwnerChange
) -> JSONResponse:
    """Give a license to another user of the account (``data: null``: to nobody)."""
    owner = None if body.data is None else body.data.id
    found, policy = await service.change_owner(session, bearer, license, owner)
    return document(request, license_resource(found, policy))


@router.get("/policies/{policy}/licenses", responses=returns(ListDocument[LicenseResource]))
async def policy_licenses(
    request: Request, policy: str, session: DbSession, bearer: LicensingBearer, asked: PolicyLicenseList
) -> JSONResponse:
    """A policy's licenses, newest first (filters ``product``, ``user``, ``suspended``)."""
    found = await policies.get(session, bearer, policy)
    narrowed = Listed(asked.paging, dataclasses.replace(asked.filters, policy=found.id))
    return await _listing(request, session, bearer, narrowed)


@router.get("/products/{product}/licenses", responses=returns(ListDocument[LicenseResource]))
async def product_licenses(
    request: Request, product: str, session: DbSession, bearer: LicensingBearer, asked: ProductLicenseList
) -> JSONResponse:
    """A product's licenses, newest first (filters ``policy``, ``user``, ``suspended``)."""
    found = await products.get(session, bearer, product)
    narrowed = Listed(asked.paging, dataclasses.replace(asked.filters, product=found.id))
    return await _listing(request, session, bearer, narrowed)
