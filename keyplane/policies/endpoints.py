"""Policies in Keygen's JSON:API shapes, with the pool of pooled policies."""

from __future__ import annotations

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
from keyplane.policies import service
from keyplane.policies.schemas import (
    POLICY_LIST,
    PRODUCT_POLICY_LIST,
    PolicyCreate,
    PolicyFilters,
    PolicyResource,
    PolicyUpdate,
    parse_policy_list,
    parse_product_policy_list,
    policy_resource,
)
from keyplane.products import service as products
from keyplane.products.schemas import ProductResource, product_resource
from keyplane.web.dependencies import DbSession, LicensingBearer

router = APIRouter(tags=["Policies"])
PolicyList = Annotated[Listed[PolicyFilters], Depends(list_query(POLICY_LIST, parse_policy_list))]
ProductPolicyList = Annotated[
    Listed[None], Depends(list_query(PRODUCT_POLICY_LIST, parse_product_policy_list))
]


@router.post("/policies", status_code=201, responses=returns(Document[PolicyResource], 201))
async def create_policy(
    request: Request, session: DbSession, bearer: LicensingBearer, body: PolicyCreate
) -> JSONResponse:
    """Create a policy for a product (``name`` and the ``product`` relationship required)."""
    data = body.data
    policy = await service.create(session, bearer, data.attributes, data.relationships.product.data.id)
    return created(request, policy_resource(policy))


@router.get("/policies", responses=returns(ListDocument[PolicyResource]))
async def list_policies(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: PolicyList
) -> JSONResponse:
    """Policies the bearer may see, newest first (filter ``product``)."""
    page = await service.listing(session, bearer, asked)
    return listing(request, [policy_resource(p) for p in page.items], page)


@router.get("/policies/{policy}", responses=returns(Document[PolicyResource]))
async def get_policy(
    request: Request, policy: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One policy by id."""
    return document(request, policy_resource(await service.get(session, bearer, policy)))


@router.patch("/policies/{policy}", responses=returns(Document[PolicyResource]))
async def update_policy(
    request: Request, policy: str, session: DbSession, bearer: LicensingBearer, body: PolicyUpdate
) -> JSONResponse:
    """Change a policy; ``usePool``, ``scheme``, ``encrypted`` and the product are fixed."""
    updated = await service.update(session, bearer, policy, body.data.attributes)
    return document(request, policy_resource(updated))


@router.delete("/policies/{policy}", status_code=204, response_class=Response)
async def delete_policy(policy: str, session: DbSession, bearer: LicensingBearer) -> Response:
    """Delete a policy with its pool keys and licenses."""
    await service.delete(session, bearer, policy)
    return Response(status_code=204)


@router.get("/policies/{policy}/product", responses=returns(Document[ProductResource]))
async def policy_product(
    request: Request, policy: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The product a policy belongs to."""
    return document(request, product_resource(await service.product_of(session, bearer, policy)))


@router.get("/products/{product}/policies", responses=returns(ListDocument[PolicyResource]))
async def product_policies(
    request: Request, product: str, session: DbSession, bearer: LicensingBearer, asked: ProductPolicyList
) -> JSONResponse:
    """A product's policies, newest first."""
    found = await products.get(session, bearer, product)
    page = await service.listing(session, bearer, Listed(asked.paging, PolicyFilters(product=found.id)))
    return listing(request, [policy_resource(p) for p in page.items], page)
