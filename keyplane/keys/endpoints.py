"""Pool keys (seeds 000 and 001) and the pool routes of a policy, in Keygen's shapes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from keyplane.keys import service
from keyplane.keys.schemas import (
    KEY_LIST,
    POOL_LIST,
    ImportDocument,
    KeyCreate,
    KeyFilters,
    KeyResource,
    KeyUpdate,
    PoolImport,
    import_report,
    key_resource,
    parse_key_list,
    parse_pool_list,
)
from keyplane.kit.documents import Document, ListDocument, returns
from keyplane.kit.jsonapi import created, document, list_query, listing, media_type
from keyplane.kit.paging import Listed
from keyplane.policies.schemas import PolicyResource, policy_resource
from keyplane.products.schemas import ProductResource, product_resource
from keyplane.web.dependencies import DbSession, LicensingBearer

router = APIRouter(tags=["Keys"])
KeyList = Annotated[Listed[KeyFilters], Depends(list_query(KEY_LIST, parse_key_list))]
PoolList = Annotated[Listed[None], Depends(list_query(POOL_LIST, parse_pool_list))]


@router.post("/keys", status_code=201, responses=returns(Document[KeyResource], 201))
async def create_key(
    request: Request, session: DbSession, bearer: LicensingBearer, body: KeyCreate
) -> JSONResponse:
    """Add a key to a pooled policy's pool (admins, developers, or the policy's product)."""
    data = body.data
    record = await service.create(session, bearer, data.attributes.key, data.relationships.policy.data.id)
    return created(request, key_resource(record))


@router.get("/keys", responses=returns(ListDocument[KeyResource]))
async def list_keys(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: KeyList
) -> JSONResponse:
    """Keys the bearer may see, newest first (a product token sees its product's); filters
    ``product`` and ``policy``."""
    page = await service.listing(session, bearer, asked)
    return listing(request, [key_resource(k) for k in page.items], page)


@router.get("/keys/{key}", responses=returns(Document[KeyResource]))
async def get_key(request: Request, key: str, session: DbSession, bearer: LicensingBearer) -> JSONResponse:
    """One key by id."""
    return document(request, key_resource(await service.get(session, bearer, key)))


@router.patch("/keys/{key}", responses=returns(Document[KeyResource]))
async def update_key(
    request: Request, key: str, session: DbSession, bearer: LicensingBearer, body: KeyUpdate
) -> JSONResponse:
    """Change a key's value (its policy never changes)."""
    attributes = body.data.attributes
    record = await service.update(session, bearer, key, attributes.key, "key" in attributes.model_fields_set)
    return document(request, key_resource(record))


@router.delete("/keys/{key}", status_code=204, response_class=Response)
async def delete_key(key: str, session: DbSession, bearer: LicensingBearer) -> Response:
    """Delete a key for good."""
    await service.delete(session, bearer, key)
    return Response(status_code=204)


@router.get("/keys/{key}/product", responses=returns(Document[ProductResource]))
async def key_product(
    request: Request, key: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """The product of a key (its policy's)."""
    product, _ = await service.related(session, bearer, key)
    return document(request, product_resource(product))


@router.get("/keys/{key}/policy", responses=returns(Document[PolicyResource]))
async def key_policy(request: Request, key: str, session: DbSession, bearer: LicensingBearer) -> JSONResponse:
    """The pooled policy a key belongs to."""
    _, policy = await service.related(session, bearer, key)
    return document(request, policy_resource(policy))


@router.get("/policies/{policy}/pool", responses=returns(ListDocument[KeyResource]))
async def list_pool(
    request: Request, policy: str, session: DbSession, bearer: LicensingBearer, asked: PoolList
) -> JSONResponse:
    """A policy's unused keys, newest first (empty for an unpooled policy)."""
    page = await service.pool(session, bearer, policy, asked)
    return listing(request, [key_resource(k) for k in page.items], page)


@router.get("/policies/{policy}/pool/{key}", responses=returns(Document[KeyResource]))
async def get_pool_key(
    request: Request, policy: str, key: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One key of a policy's pool."""
    return document(request, key_resource(await service.pool_key(session, bearer, policy, key)))


@router.delete("/policies/{policy}/pool", responses=returns(Document[KeyResource]))
async def pop_pool(
    request: Request, policy: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """Take the next key out of the pool: 200 with the key, which is gone from the pool.

    An empty pool, or a policy that is not pooled, is a 422 that says which.
    """
    return document(request, key_resource(await service.pop(session, bearer, policy)))


@router.post("/policies/{policy}/pool/import", responses=returns(ImportDocument))
async def import_pool(
    request: Request, policy: str, session: DbSession, bearer: LicensingBearer, body: PoolImport
) -> JSONResponse:
    """Add up to 1,000 keys to a pooled policy's pool at once (a Keyplane extension; who may
    ``POST /keys`` may import). Each key is added, reported ``present`` (already in this
    pool: running an import twice adds nothing the second time) or refused alone with its
    code, by its line (its position in ``data``, from 1). A policy that is not pooled, or
    more than 1,000 keys, refuses the request whole."""
    lines = [(line, item.attributes.key) for line, item in enumerate(body.data, start=1)]
    done = await service.add_many(session, bearer, policy, lines)
    return JSONResponse(import_report(done), media_type=media_type(request))
