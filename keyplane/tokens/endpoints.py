"""Tokens (a user's, and a product's under ``/products/{product}/tokens``) and ``/me`` in
Keygen's JSON:API shapes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane import ratelimit
from keyplane.auth.headers import BASIC_CHALLENGE, MALFORMED, basic, basic_undecodable, uses_basic
from keyplane.auth.network import client_address
from keyplane.auth.principal import AccountRef
from keyplane.auth.scopes import Role
from keyplane.errors import ENCODING_DETAIL, BadRequest, Forbidden, Unauthorized
from keyplane.events.names import EventName
from keyplane.kit.actor import ANONYMOUS, Acting, ActorType, Whodunnit
from keyplane.kit.documents import ListDocument, returns
from keyplane.kit.ids import as_uuid
from keyplane.kit.jsonapi import document, list_query, listing
from keyplane.kit.paging import Listed
from keyplane.licenses import service as licenses
from keyplane.licenses.schemas import license_resource
from keyplane.models import Product, User
from keyplane.products import service as products
from keyplane.products.schemas import PRODUCT_LIST, parse_product_list, product_resource
from keyplane.services import services_of
from keyplane.tokens import service
from keyplane.tokens.resources import token_resource
from keyplane.tokens.schemas import (
    TOKEN_LIST,
    MeDocument,
    TokenAttributes,
    TokenDocument,
    TokenRequest,
    TokenResource,
    parse_token_list,
)
from keyplane.tokens.throttle import LoginThrottle
from keyplane.users import repository as users
from keyplane.users.schemas import user_resource
from keyplane.web.dependencies import (
    CurrentAccount,
    DbSession,
    LicensingBearer,
    authenticate_bearer,
    origin_of,
)

router = APIRouter(tags=["Tokens"])
product_tokens = APIRouter(tags=["Products"])
"""A product's tokens, documented with the products (served right after them)."""
TokenList = Annotated[Listed[None], Depends(list_query(TOKEN_LIST, parse_token_list))]
ProductTokenList = Annotated[Listed[None], Depends(list_query(PRODUCT_LIST, parse_product_list))]


def _basic(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization")
    pair = basic(header)
    if pair is None:
        raise Unauthorized(
            "Send your email and password as HTTP Basic credentials, or a token as Bearer",
            "CREDENTIALS_MISSING",
            header="Authorization",
            headers=BASIC_CHALLENGE,
        )
    if pair is MALFORMED:
        if basic_undecodable(header):
            raise BadRequest(ENCODING_DETAIL, "ENCODING_INVALID", header="Authorization")
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


def _asked(body: TokenRequest | None) -> tuple[TokenAttributes, service.Expiry, uuid.UUID | None]:
    """The name, the expiry and the bearer the body asks for."""
    data = (body or TokenRequest()).data
    attributes = data.attributes
    expiry = service.Expiry("expiry" in attributes.model_fields_set, attributes.expiry)
    bearer = data.relationships.bearer if data.relationships is not None else None
    if bearer is None:
        return attributes, expiry, None
    if not bearer.data.is_user:
        raise Forbidden(
            "You do not have permission to complete the request (a product's tokens are "
            "generated under /products/{id}/tokens)",
            "ACCESS_DENIED",
        )
    return attributes, expiry, bearer.data.id


async def password_sign_in(
    request: Request, session: AsyncSession, account: AccountRef, email: str, password: str
) -> User:
    """The user of this email and password, through the sign-in throttle of this request's
    client address (``tokens.service.sign_in``); a wrong password is noted in the event log.
    ``POST /tokens`` and the console's sign-in both come here."""
    settings = services_of(request.app).settings
    throttle = LoginThrottle(
        ratelimit.steadfast(services_of(request.app)),
        settings,
        account.id,
        email,
        client_address(request.scope, settings.trusted_proxies),
    )
    return await service.sign_in(
        session, throttle, account, email, password, failed=_noting(request, account)
    )


@router.post(
    "/tokens",
    status_code=201,
    responses={
        **returns(TokenDocument, 201),
        400: {"description": "Credentials that are not UTF-8 (`ENCODING_INVALID`), or a malformed body"},
        401: {
            "description": "No credentials (`CREDENTIALS_MISSING`), or Keygen's `EMAIL_REQUIRED`, "
            "`EMAIL_INVALID`, `PASSWORD_REQUIRED`, `PASSWORD_INVALID`, `PASSWORD_NOT_SUPPORTED`"
        },
        403: {"description": "A token for someone the caller may not give one to (`ACCESS_DENIED`)"},
        429: {"description": "Too many failed attempts for this email or address (`RATE_LIMITED`)"},
    },
    openapi_extra={"security": [{"basicAuth": []}, {"bearerAuth": []}, {"apiKeyHeader": []}]},
)
async def create_token(
    request: Request,
    session: DbSession,
    account: CurrentAccount,
    body: Annotated[TokenRequest | None, Body()] = None,
) -> JSONResponse:
    """Generate a token (its secret shown this once): with ``Authorization: Basic
    email:password``, or with a user's current token (``Bearer``), as Keygen does.

    An end user's token expires in two weeks, anyone else's never, unless ``expiry`` asks
    otherwise (``null``: never). An admin or developer may name an end user as
    ``relationships.bearer``. Failed sign-ins are limited per email and client address
    (``KEYPLANE_LOGIN_*``); past the limit, 429 ``RATE_LIMITED`` with ``Retry-After``."""
    attributes, expiry, target = _asked(body)
    services = services_of(request.app)
    ttl = timedelta(seconds=services.settings.token_ttl_seconds)
    name = attributes.name
    if uses_basic(request.headers.get("authorization")) or not _sends_credential(request):
        email, password = _basic(request)
        user = await password_sign_in(request, session, account, email, password)
        actor = Acting(account, Whodunnit(ActorType.USER, user.id), origin_of(request))
        acting = (user.id, Role(user.role), None)
        token, plaintext, owner = await service.for_user(
            session, services.credentials, actor, acting, target, name=name, expiry=expiry, ttl=ttl
        )
    else:
        bearer = await authenticate_bearer(request, session, account)
        token, plaintext, owner = await service.for_bearer(
            session, services.credentials, bearer, target, name=name, expiry=expiry, ttl=ttl
        )
    return document(request, token_resource(token, owner.role, plaintext), 201)


def _sends_credential(request: Request) -> bool:
    return "authorization" in request.headers or "x-api-key" in request.headers


@router.put(
    "/tokens/{token_id}",
    responses={
        **returns(TokenDocument),
        403: {"description": "Another staff member's token (`ACCESS_DENIED`)"},
    },
)
async def regenerate_token(
    request: Request, token_id: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """Regenerate a token: a new secret (shown this once) under the same id; the old one
    stops working at once. An expiring token expires two weeks from now.

    Your own tokens (a product token: its product's); an admin or developer also product
    tokens and end users' tokens, as Keygen allows."""
    ttl = timedelta(seconds=services_of(request.app).settings.token_ttl_seconds)
    engine = services_of(request.app).credentials
    token, role, plaintext = await service.regenerate(session, engine, bearer, as_uuid(token_id), ttl)
    return document(request, token_resource(token, role, plaintext))


@router.get("/tokens", responses=returns(ListDocument[TokenResource]))
async def list_tokens(
    request: Request, session: DbSession, bearer: LicensingBearer, asked: TokenList
) -> JSONResponse:
    """Your tokens (every user's with MANAGE; a product token: its product's), newest first;
    never their secrets.

    Keygen's ``limit`` and ``page`` paging."""
    page = await service.list_tokens(session, bearer, asked)
    return listing(request, [token_resource(token, role) for token, role in page.items], page)


@router.get("/tokens/{token_id}", responses=returns(TokenDocument))
async def get_token(
    request: Request, token_id: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """One token's metadata; never its secret. Any id that is not one of your tokens is 404."""
    token, role = await service.get(session, bearer, as_uuid(token_id))
    return document(request, token_resource(token, role))


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response)
async def revoke_token(token_id: str, session: DbSession, bearer: LicensingBearer) -> Response:
    """Revoke a token; it stops working at once."""
    await service.revoke(session, bearer, as_uuid(token_id))
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
