"""The API-key management API (seeds 002 and 003) and key verification."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import Response as PlainResponse
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.api_keys import service
from keyplane.api_keys.schemas import (
    API_KEY_HISTORY,
    API_KEY_LIST,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    ApiKeyQuery,
    ApiKeyUpdate,
    ApiVersionList,
    ApiVersionOut,
    RateLimitOut,
    VerifyRequest,
    VerifyResult,
    api_key_query,
    history_limit,
)
from keyplane.auth.principal import Principal
from keyplane.auth.scopes import Scope, ordered
from keyplane.cache import Caches, Tag
from keyplane.credentials import versions
from keyplane.credentials.engine import DETAILS, CredentialEngine, CredentialState, Outcome
from keyplane.credentials.repository import used_tag
from keyplane.errors import BadRequest
from keyplane.events.schemas import History, history_entry
from keyplane.hot import render_json
from keyplane.kit import clock
from keyplane.kit.jsonapi import list_query
from keyplane.kit.memo import Memo
from keyplane.kit.timefmt import iso_or_none
from keyplane.models import Credential
from keyplane.models.credential import CredentialStatus
from keyplane.observe import metrics
from keyplane.ratelimit import Decision, RateLimiter
from keyplane.services import services_of
from keyplane.usage import UsageRecorder
from keyplane.web.dependencies import Authenticated, Creator, DbSession, Deleter, Reader, Updater, read_only

router = APIRouter(tags=["API keys"])
public = APIRouter(tags=["API keys"])


async def negotiated_version(request: Request, response: Response, principal: Authenticated) -> str:
    """The version this request is served at: the header's, else the key's pin, else current."""
    asked = request.headers.get(versions.VERSION_HEADER)
    version = versions.serving(asked, principal.api_version)
    if version is None:
        known = ", ".join(sorted(versions.KNOWN))
        raise BadRequest(
            f"{versions.VERSION_HEADER} {asked!r} is not a version this server knows ({known})",
            "API_VERSION_INVALID",
            header=versions.VERSION_HEADER,
        )
    response.headers[versions.VERSION_HEADER] = version
    return version


Version = Annotated[str, Depends(negotiated_version)]
ApiKeyListQuery = Annotated[ApiKeyQuery, Depends(list_query(API_KEY_LIST, api_key_query))]
HistoryLimit = Annotated[int, Depends(list_query(API_KEY_HISTORY, history_limit))]


def _engine(request: Request) -> CredentialEngine:
    engine: CredentialEngine = services_of(request.app).credentials
    return engine


def api_key_out(key: Credential) -> ApiKeyOut:
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
        rateLimit=(
            RateLimitOut(limit=key.rate_limit, duration=key.rate_limit_duration)
            if key.rate_limit is not None and key.rate_limit_duration is not None
            else None
        ),
        status=CredentialStatus.INACTIVE if key.deleted_at is not None else key.status,
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
    request: Request, session: DbSession, principal: Reader, _version: Version, query: ApiKeyListQuery
) -> ApiKeyList:
    """List API keys, newest first: the caller's own, or every key in the account with MANAGE.

    ``status=inactive`` lists deactivated and deleted keys; ``name`` (a part of the name, in
    any case) and ``userId`` narrow the list; ``sort`` orders it by ``createdAt`` or
    ``lastUsedAt`` (``-`` in front: newest first; never-used keys count as the oldest use;
    ties by id). Page with ``startingAfter`` / ``endingBefore`` (key ids, as in ``nextUrl``
    and ``previousUrl``) and ``offset``: pages keep to the sort, with no key skipped or
    repeated. Any other parameter is a 400. The full key is never part of a listing.
    """
    page = await service.list_page(session, principal, query)
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
        data=[api_key_out(key) for key in page.keys],
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
    return ApiKeyCreated(**api_key_out(key).model_dump(), key=plaintext)


@router.post("/api-keys/verify", response_model=VerifyResult)
@read_only
async def verify_api_key(
    request: Request, session: DbSession, principal: Reader, version: Version, data: VerifyRequest
) -> PlainResponse:
    """Check a key that one of your customers presented. Always 200; the answer is ``code``.

    Codes: ``VALID``, ``NOT_FOUND`` (unknown, or another account's), ``MALFORMED`` (not a
    Keyplane key at all), ``REVOKED`` (deleted), ``INACTIVE``, ``EXPIRED``,
    ``IP_NOT_ALLOWED`` (``ip`` outside the key's whitelistedIPs, or no ``ip`` given for an
    IP-restricted key), ``INSUFFICIENT_SCOPE`` (lacks one of ``scopes``), ``RATE_LIMITED``
    (valid, but past its ``rateLimit``: this verification is counted as one of the key's
    requests). For a key with a rate limit, ``rateLimit`` gives the current window's
    ``limit``, ``remaining`` and ``reset`` (epoch seconds).
    """
    services = services_of(request.app)

    def refused(state: CredentialState, outcome: Outcome) -> None:
        services.refused.verification(state, outcome, principal.whodunnit, principal.origin)

    content = await verification(
        services.credentials, services.limiter, services.usage, session, principal, version, data, refused
    )
    return PlainResponse(content, media_type="application/json", headers={versions.VERSION_HEADER: version})


async def verification(
    engine: CredentialEngine,
    limiter: RateLimiter,
    usage: UsageRecorder,
    session: AsyncSession,
    principal: Principal,
    version: str,
    data: VerifyRequest,
    refused: Callable[[CredentialState, Outcome], None],
) -> bytes:
    """The answer to a verification (a ``VerifyResult``, rendered), counted and recorded (a
    refused key of the account is told to ``refused``); the lean handler's too."""
    checked = await service.verify_and_count(
        session,
        engine,
        limiter,
        principal,
        data.key,
        data.ip,
        data.scopes or (),
    )
    outcome, state, rate = checked.outcome, checked.state, checked.rate
    if state is not None and outcome is not Outcome.VALID:
        refused(state, outcome)
    outcome = versions.spoken(outcome, version)
    if outcome is Outcome.VALID and state is not None:
        usage.record(state, clock.now())
    metrics.verified(outcome.value)
    return rendered(outcome, state, rate)


def rendered(outcome: Outcome, state: CredentialState | None, rate: Decision | None) -> bytes:
    """The answer's JSON. This is the hottest route there is: an answer without a rate-limit
    budget depends only on the code and the key's state, so it is rendered once per state."""
    memo = _NO_KEY if state is None else state.answers
    if rate is None:
        known = memo.get(outcome.value)
        if known is not None:
            return known
    detail = f"The key {DETAILS[outcome]}"
    if state is None:
        content = {**_NOTHING, "valid": False, "code": outcome.value, "detail": detail}
    else:
        content = {
            "valid": outcome is Outcome.VALID,
            "code": outcome.value,
            "detail": detail,
            "keyId": str(state.parent_id or state.id),
            "kind": state.kind.value,
            "name": state.name,
            "userId": None if state.user_id is None else str(state.user_id),
            "organizationId": str(state.account_id),
            "scopes": ordered(state.scopes),
            "expiresAt": iso_or_none(state.expires_at),
            "apiVersion": state.api_version,
            "rateLimit": None
            if rate is None
            else {"limit": rate.limit, "remaining": rate.remaining, "reset": rate.reset_at},
        }
    body = render_json(content)
    if rate is None:
        memo[outcome.value] = body
    return body


_NO_KEY: Memo[str, bytes] = Memo("verification answers without a key", 64)
"""Answers without key data, by code (a handful)."""

_NOTHING: dict[str, Any] = VerifyResult(valid=False, code="", detail="").model_dump(mode="json")
"""A ``VerifyResult`` without key data, field order included."""


@router.get("/api-keys/{key_id}", response_model=ApiKeyOut)
async def get_api_key(
    request: Request, key_id: uuid.UUID, session: DbSession, principal: Reader, _version: Version
) -> ApiKeyOut:
    """An API key's metadata. Never the key itself."""
    caches: Caches = services_of(request.app).credentials.caches
    generation = caches.generation()
    key = await service.get(session, principal, key_id)
    out = api_key_out(key)
    # For the lean handler: it serves this document from memory until it changes.
    services_of(request.app).api_keys.put(key.id, KeptKey.of(out), snapshot_tags(key), generation)
    return out


@dataclass(frozen=True, slots=True)
class KeptKey:
    """An API key's document as the lean handler serves it: who may see it, and its JSON,
    rendered once (rendering the timestamps costs more than the rest of a request)."""

    account_id: uuid.UUID
    user_id: uuid.UUID
    body: bytes

    @classmethod
    def of(cls, out: ApiKeyOut) -> KeptKey:
        return cls(out.organizationId, out.userId, out.model_dump_json().encode())


def snapshot_tags(key: Credential) -> list[Tag]:
    """What a kept API-key document depends on: the key, its owner, its account, and its
    ``lastUsedAt`` (moved by each batch of uses)."""
    return [key.id, key.user_id, key.account_id, used_tag(key.id)]


async def _update(key_id: uuid.UUID, session: DbSession, principal: Updater, data: ApiKeyUpdate) -> ApiKeyOut:
    return api_key_out(await service.update(session, principal, key_id, data))


@router.get("/api-keys/{key_id}/events", response_model=History)
async def api_key_history(
    key_id: uuid.UUID, session: DbSession, principal: Reader, _version: Version, limit: HistoryLimit
) -> dict[str, Any]:
    """The key's history from the event log, newest first: created, updated (with what
    changed), deactivated, reactivated, deleted; who acted, from which address, in which
    request. For whoever may see the key; a deleted key's history stays readable."""
    found = await service.history(session, principal, key_id, limit)
    return {"data": [history_entry(event) for event in found]}


@router.put("/api-keys/{key_id}", response_model=ApiKeyOut)
async def replace_api_key(
    key_id: uuid.UUID, session: DbSession, principal: Updater, _version: Version, data: ApiKeyUpdate
) -> ApiKeyOut:
    """Update an API key: ``name``, ``description``, ``scopes``, ``whitelistedIPs``,
    ``rateLimit``, ``apiVersion``, ``status``. Only the fields sent change (as with PATCH).
    Changing ``rateLimit`` needs the MANAGE scope.

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
