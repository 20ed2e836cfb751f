"""Products in Keygen's JSON:API shapes, and product tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from keyplane.auth.scopes import Role
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
from keyplane.services import services_of
from keyplane.tokens.resources import token_resource
from keyplane.tokens.schemas import TokenDocument, TokenRequest, TokenResource
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


@router.post("/products/{product}/tokens", responses=returns(TokenDocument))
async def create_product_token(
    request: Request,
    product: str,
    session: DbSession,
    bearer: LicensingBearer,
    body: Annotated[TokenRequest | None, Body()] = None,
) -> JSONResponse:
    """A product token (shown this once): it sees and manages only this product's records.

    Answers 200, as Keygen does for tokens created through a product.
    """
    attributes = (body or TokenRequest()).data.attributes
    token, plaintext = await service.issue_token(
        session,
        services_of(request.app).credentials,
        bearer,
        product,
        name=attributes.name,
        expiry=attributes.expiry,
    )
    return document(request, token_resource(token, Role.PRODUCT.value, plaintext))


@router.get("/products/{product}/tokens", responses=returns(ListDocument[TokenResource]))
async def list_product_tokens(
    request: Request, product: str, session: DbSession, bearer: LicensingBearer, asked: ProductList
) -> JSONResponse:
    """The product's tokens, newest first; never their secrets."""
    page = await service.tokens(session, bearer, product, asked)
    return listing(request, [token_resource(t, Role.PRODUCT.value) for t in page.items], page)
