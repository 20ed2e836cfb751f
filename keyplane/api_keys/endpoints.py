"""The API-key management API (seeds 002 and 003) and key verification."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import Response as PlainResponse

from keyplane.api_keys import service, versions
from keyplane.api_keys.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    ApiKeyUpdate,
    ApiVersionList,
    ApiVersionOut,
    VerifyRequest,
    VerifyResult,
)
from keyplane.auth.dependencies import Authenticated, Creator, Deleter, Reader, Updater
from keyplane.auth.scopes import Scope, ordered
from keyplane.credentials.engine import DETAILS, CredentialEngine, Outcome
from keyplane.db import DbSession, read_only
from keyplane.errors import BadRequest
from keyplane.kit import clock
from keyplane.models import Credential

router = APIRouter(tags=["API keys"])
public = APIRouter(tags=["API keys"])

# Codes that earlier API versions did not know, and what those versions say instead.
_LEGACY_CODES = {Outcome.REVOKED: Outcome.INACTIVE, Outcome.MALFORMED: Outcome.NOT_FOUND}


def negotiated_version(request: Request, response: Response, principal: Authenticated) -> str:
    """The version this request is served at: the header's, else the key's pin, else current."""
    asked = request.headers.get(versions.VERSION_HEADER)
    if asked is not None and asked not in versions.KNOWN:
        known = ", ".join(sorted(versions.KNOWN))
        raise BadRequest(
            f"{versions.VERSION_HEADER} {asked!r} is not a version this server knows ({known})",
            "API_VERSION_INVALID",
            header=versions.VERSION_HEADER,
        )
    version = asked or principal.api_version or versions.CURRENT
    response.headers[versions.VERSION_HEADER] = version
    return version


Version = Annotated[str, Depends(negotiated_version)]


def _engine(request: Request) -> CredentialEngine:
    engine: CredentialEngine = request.app.state.credentials
    return engine


def _out(key: Credential) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        description=key.description,
        scopes=[Scope(scope) for scope in key.scopes],
        userId=key.user_id,
        organizationId=key.account_id,
        companyId=key.account_id,
        start=key.start,
        whitelistedIPs=key.whitelisted_ips,
        status="inactive" if key.deleted_at is not None or key.status != "active" else "active",
        apiVersion=key.api_version,
        apiVersionUpdatedAt=key.api_version_updated_at,
        apiVersionDowngradeNotAllowedAfter=key.api_version_downgrade_not_allowed_after,
        expiresAt=key.expires_at,
        lastUsedAt=key.last_used_at,
        createdAt=key.created_at,
        updatedAt=key.updated_at,
        deletedAt=key.deleted_at,
    )


@router.get("/api-keys", response_model=ApiKeyList)
async def list_api_keys(
    request: Request,
    session: DbSession,
    principal: Reader,
    _version: Version,
    status: Literal["active", "inactive"] = "active",
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    offset: Annotated[int, Query(ge=0)] = 0,
    starting_after: Annotated[str | None, Query(alias="startingAfter")] = None,
    ending_before: Annotated[str | None, Query(alias="endingBefore")] = None,
) -> ApiKeyList:
    """List API keys, newest first: the caller's own, or every key in the account with MANAGE.

    ``status=inactive`` lists deactivated and deleted keys. Page with ``startingAfter`` /
    ``endingBefore`` (key ids, as in ``nextUrl`` and ``previousUrl``) and ``offset``.
    The full key is never part of a listing.
    """
    page = await service.list_page(
        session,
        principal,
        status=status,
        limit=limit,
        offset=offset,
        starting_after=starting_after,
        ending_before=ending_before,
    )
    base = request.url.remove_query_params(["startingAfter", "endingBefore", "offset"])
    return ApiKeyList(
        status=200,
        total=page.total,
        count=len(page.keys),
        nextUrl=str(base.include_query_params(startingAfter=page.next_after)) if page.next_after else None,
        previousUrl=(
            str(base.include_query_params(endingBefore=page.previous_before))
            if page.previous_before
            else None
        ),
        data=[_out(key) for key in page.keys],
    )


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(
    request: Request, session: DbSession, principal: Creator, _version: Version, data: ApiKeyCreate
) -> ApiKeyCreated:
    """Create an API key. The full ``key`` is in this response and never again.

    Scopes default to what the caller holds within the owner's role; a credential can
    never create a key with scopes, addresses or a lifetime beyond its own.
    """
    key, plaintext = await service.create(session, _engine(request), principal, data)
    return ApiKeyCreated(**_out(key).model_dump(), key=plaintext)


@router.post("/api-keys/verify", response_model=VerifyResult)
@read_only
async def verify_api_key(
    request: Request, session: DbSession, principal: Reader, version: Version, data: VerifyRequest
) -> VerifyResult:
    """Check a key that one of your customers presented. Always 200; the answer is ``code``.

    Codes: ``VALID``, ``NOT_FOUND`` (unknown, or another account's), ``MALFORMED`` (not a
    Keyplane key at all), ``REVOKED`` (deleted), ``INACTIVE``, ``EXPIRED``,
    ``IP_NOT_ALLOWED`` (``ip`` outside the key's whitelistedIPs, or no ``ip`` given for an
    IP-restricted key), ``INSUFFICIENT_SCOPE`` (lacks one of ``scopes``).
    """
    engine = _engine(request)
    outcome, state = await service.verify(session, engine, principal, data.key, data.ip, data.scopes or ())
    if version < versions.VERIFY_CODES_REVOKED_MALFORMED:
        outcome = _LEGACY_CODES.get(outcome, outcome)
    if outcome is Outcome.VALID and state is not None:
        request.app.state.usage.record(state, clock.now())
    detail = f"The key {DETAILS[outcome]}"
    if state is None:
        return VerifyResult(valid=False, code=outcome.value, detail=detail)
    return VerifyResult(
        valid=outcome is Outcome.VALID,
        code=outcome.value,
        detail=detail,
        keyId=state.parent_id or state.id,
        kind=state.kind.value,
        name=state.name,
        userId=state.user_id,
        organizationId=state.account_id,
        scopes=[Scope(scope) for scope in ordered(state.scopes)],
        expiresAt=state.expires_at,
        apiVersion=state.api_version,
    )


@router.get("/api-keys/{key_id}", response_model=ApiKeyOut)
async def get_api_key(
    key_id: uuid.UUID, session: DbSession, principal: Reader, _version: Version
) -> ApiKeyOut:
    """An API key's metadata. Never the key itself."""
    return _out(await service.get(session, principal, key_id))


async def _update(key_id: uuid.UUID, session: DbSession, principal: Updater, data: ApiKeyUpdate) -> ApiKeyOut:
    return _out(await service.update(session, principal, key_id, data))


@router.put("/api-keys/{key_id}", response_model=ApiKeyOut)
async def replace_api_key(
    key_id: uuid.UUID, session: DbSession, principal: Updater, _version: Version, data: ApiKeyUpdate
) -> ApiKeyOut:
    """Update an API key: ``name``, ``description``, ``scopes``, ``whitelistedIPs``,
    ``apiVersion``, ``status``. Only the fields sent change (as with PATCH).

    An ``apiVersion`` upgrade may be undone within 72 hours
    (``apiVersionDowngradeNotAllowedAfter``); after that a downgrade is refused.
    """
    return await _update(key_id, session, principal, data)


@router.patch("/api-keys/{key_id}", response_model=ApiKeyOut)
async def patch_api_key(
    key_id: uuid.UUID, session: DbSession, principal: Updater, _version: Version, data: ApiKeyUpdate
) -> ApiKeyOut:
    """Update some fields of an API key; the same rules as PUT."""
    return await _update(key_id, session, principal, data)


@router.delete("/api-keys/{key_id}", status_code=204, response_class=PlainResponse)
async def delete_api_key(
    key_id: uuid.UUID, session: DbSession, principal: Deleter, version: Version
) -> PlainResponse:
    """Delete an API key. It stops working at once; the record stays, with ``deletedAt``."""
    await service.delete(session, principal, key_id)
    # A returned Response does not carry headers set on the injected one: echo it here.
    return PlainResponse(status_code=204, headers={versions.VERSION_HEADER: version})


@public.get("/api-versions", response_model=ApiVersionList)
async def list_api_versions() -> ApiVersionList:
    """The API versions this server knows, oldest first, and the current one."""
    return ApiVersionList(
        current=versions.CURRENT,
        data=[ApiVersionOut(version=v.version, summary=v.summary) for v in versions.VERSIONS],
    )
