"""Tokens (a user's, and a product's under ``/products/{product}/tokens``) and ``/me`` in
Keygen's JSON:API shapes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from keyplane import ratelimit
from keyplane.auth.headers import BASIC_CHALLENGE, MALFORMED, basic
from keyplane.auth.network import client_address
from keyplane.auth.principal import AccountRef
from keyplane.auth.scopes import Role
from keyplane.errors import Unauthorized
from keyplane.events.names import EventName
from keyplane.kit.actor import ANONYMOUS
from keyplane.kit.documents import ListDocument, returns
from keyplane.kit.jsonapi import document, list_query, listing
from keyplane.kit.paging import Listed
from keyplane.licenses import service as licenses
from keyplane.licenses.schemas import license_resource
from keyplane.models import Product
from keyplane.products import service as products
from keyplane.products.schemas import PRODUCT_LIST, parse_product_list, product_resource
from keyplane.services import services_of
from keyplane.tokens import service
from keyplane.tokens.resources import token_resource
from keyplane.tokens.schemas import (
    TOKEN_LIST,
    MeDocument,
    TokenDocument,
    TokenRequest,
    TokenResource,
    parse_token_list,
)
from keyplane.tokens.throttle import LoginThrottle
from keyplane.users import repository as users
from keyplane.users.schemas import user_resource
from keyplane.web.dependencies import CurrentAccount, DbSession, Deleter, LicensingBearer, Reader, origin_of

router = APIRouter(tags=["Tokens"])
product_tokens = APIRouter(tags=["Products"])
"""A product's tokens, documented with the products (served right after them)."""
TokenList = Annotated[Listed[None], Depends(list_query(TOKEN_LIST, parse_token_list))]
ProductTokenList = Annotated[Listed[None], Depends(list_query(PRODUCT_LIST, parse_product_list))]


def _basic(request: Request) -> tuple[str, str]:
    pair = basic(request.headers.get("authorization"))
    if pair is None:
        raise Unauthorized(
            "Send your email and password as HTTP Basic credentials",
            "CREDENTIALS_MISSING",
            header="Authorization",
            headers=BASIC_CHALLENGE,
        )
    if pair is MALFORMED:
        raise Unauthorized(
            "The Basic credentials are not base64 of email:password",
            "CREDENTIALS_INVALID",
            header="Authorization",
            headers=BASIC_CHALLENGE,
        )
    return pair


def _noting(request: Request, account: AccountRef) -> Callable[[uuid.UUID], None]:
    """What notes a failed sign-in in the event log (in a batch: the request fails, and its
    transaction with it)."""

    def failed(user_id: uuid.UUID) -> None:
        origin = origin_of(request)
        services_of(request.app).events.note(
            account.id, EventName.USER_SIGN_IN_FAILED, user_id, ANONYMOUS, origin, {}
        )

    return failed


@router.post(
    "/tokens",
    status_code=201,
    responses={
        **returns(TokenDocument, 201),
        401: {"description": "No Basic credentials, or a wrong email or password (`CREDENTIALS_*`)"},
        429: {"description": "Too many failed attempts for this email or address (`RATE_LIMITED`)"},
    },
    openapi_extra={"security": [{"basicAuth": []}]},
)
async def create_token(
    request: Request,
    session: DbSession,
    account: CurrentAccount,
    body: Annotated[TokenRequest | None, Body()] = None,
) -> JSONResponse:
    """Trade ``Authorization: Basic email:password`` for a token (shown this once).

    Failed attempts are limited per email and client address (``KEYPLANE_LOGIN_*``); past
    the limit, 429 ``RATE_LIMITED`` with ``Retry-After`` until the window ends."""
    email, password = _basic(request)
    settings = services_of(request.app).settings
    throttle = LoginThrottle(
        ratelimit.steadfast(services_of(request.app)),
        settings,
        account.id,
        email,
        client_address(request.scope, settings.trusted_proxies),
    )
    await throttle.check()
    try:
        user = await service.login(session, account, email, password, failed=_noting(request, account))
    except Unauthorized:
        await throttle.failed()
        raise
    attributes = (body or TokenRequest()).data.attributes
    token, plaintext = await service.issue(
        session,
        services_of(request.app).credentials,
        user,
        name=attributes.name,
        expiry=attributes.expiry,
        ttl=timedelta(seconds=settings.token_ttl_seconds),
        account=account,
        origin=origin_of(request),
    )
    return document(request, token_resource(token, user.role, plaintext), 201)


@router.get("/tokens", responses=returns(ListDocument[TokenResource]))
async def list_tokens(
    request: Request, session: DbSession, principal: Reader, asked: TokenList
) -> JSONResponse:
    """Your tokens (every user's with MANAGE), newest first; never their secrets.

    Keygen's ``limit`` and ``page`` paging."""
    page = await service.list_tokens(session, principal, asked)
    return listing(request, [token_resource(token, role) for token, role in page.items], page)


@router.get("/tokens/{token_id}", responses=returns(TokenDocument))
async def get_token(
    request: Request, token_id: uuid.UUID, session: DbSession, principal: Reader
) -> JSONResponse:
    """One token's metadata; never its secret."""
    token, role = await service.get(session, principal, token_id)
    return document(request, token_resource(token, role))


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response)
async def revoke_token(token_id: uuid.UUID, session: DbSession, principal: Deleter) -> Response:
    """Revoke a token; it stops working at once."""
    await service.revoke(session, principal, token_id)
    return Response(status_code=204)


@router.get("/me", responses=returns(MeDocument))
async def me(request: Request, session: DbSession, bearer: LicensingBearer) -> JSONResponse:
    """Whoever the credential belongs to: a user, a product token's product, or a license
    authenticating with its key."""
    if bearer.license_id is not None:
        license, policy = await licenses.get(session, bearer, str(bearer.license_id))
        return document(request, license_resource(license, policy))
    if bearer.product_id is not None:
        product = await session.get(Product, bearer.product_id)
        assert product is not None  # the product's deletion takes its tokens
        return document(request, product_resource(product))
    assert bearer.user_id is not None
    user = await users.by_id(session, bearer.account.id, bearer.user_id)
    assert user is not None  # the credential check joined this very row
    return document(request, user_resource(user))


@product_tokens.post("/products/{product}/tokens", responses=returns(TokenDocument))
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
    token, plaintext = await products.issue_token(
        session,
        services_of(request.app).credentials,
        bearer,
        product,
        name=attributes.name,
        expiry=attributes.expiry,
    )
    return document(request, token_resource(token, Role.PRODUCT.value, plaintext))


@product_tokens.get("/products/{product}/tokens", responses=returns(ListDocument[TokenResource]))
async def list_product_tokens(
    request: Request, product: str, session: DbSession, bearer: LicensingBearer, asked: ProductTokenList
) -> JSONResponse:
    """The product's tokens, newest first; never their secrets."""
    page = await products.tokens(session, bearer, product, asked)
    return listing(request, [token_resource(t, Role.PRODUCT.value) for t in page.items], page)
