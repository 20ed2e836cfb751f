"""Products in Keygen's JSON:API shapes (their tokens: ``keyplane.tokens.endpoints``)."""

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
from keyplane.products import service
from keyplane.products.schemas import (
    PRODUCT_LIST,
    ProductCreate,
    ProductResource,
    ProductUpdate,
    parse_product_list,
    product_resource,
)
from keyplane.web.dependencies import DbSession, LicensingBearer

router = APIRouter(tags=["Products"])
ProductList = Annotated[Listed[None], Depends(list_query(PRODUCT_LIST, parse_product_list))]


@router.post("/products", status_code=201, responses=returns(Document[ProductResource], 201))
async def create_product(
    request: Request, session: DbSession, bearer: LicensingBearer, body: ProductCreate
) -> JSONResponse:
    """Create a product (admins and developers)."""
    product = await service.create(session, bearer, body.data.attributes)
    return created(request, product_resource(product))


@router.get("/products", responses=returns(ListDocument[ProductResource]))
async def list_products(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: ProductList
) -> JSONResponse:
    """Products the bearer may see, newest first; Keygen's ``limit`` and ``page`` paging."""
    page = await service.listing(session, bearer, asked)
    return listing(request, [product_resource(p) for p in page.items], page)


@router.get("/products/{product}", responses=returns(Document[ProductResource]))
async def get_product(
    request: Request, product: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One product by id."""
    return document(request, product_resource(await service.get(session, bearer, product)))


@router.patch("/products/{product}", responses=returns(Document[ProductResource]))
async def update_product(
    request: Request, product: str, session: DbSession, bearer: LicensingBearer, body: ProductUpdate
) -> JSONResponse:
    """Change a product's attributes; those not sent stay as they are."""
    updated = await service.update(session, bearer, product, body.data.attributes)
    return document(request, product_resource(updated))


@router.delete("/products/{product}", status_code=204, response_class=Response)
async def delete_product(product: str, session: DbSession, bearer: LicensingBearer) -> Response:
    """Delete a product with its policies, pool keys, licenses and tokens."""
    await service.delete(session, bearer, product)
    return Response(status_code=204)
