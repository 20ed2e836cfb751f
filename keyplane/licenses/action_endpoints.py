"""License actions: validation (``validate-key``, ``validate``), suspend, reinstate, renew,
revoke, check-in and usage counting, in Keygen's shapes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.applications import Starlette

from keyplane.auth.principal import AccountRef, Bearer
from keyplane.cache import Caches
from keyplane.errors import BadRequest
from keyplane.events import service as events
from keyplane.kit import clock
from keyplane.kit.documents import returns
from keyplane.kit.jsonapi import document
from keyplane.kit.timefmt import iso
from keyplane.licenses import lifecycle
from keyplane.licenses import service as licenses
from keyplane.licenses.lifecycle import Snapshot, cache_entry
from keyplane.licenses.schemas import (
    Decrement,
    Increment,
    LicenseDocument,
    Validate,
    ValidateKey,
    ValidationDocument,
    license_resource,
)
from keyplane.licenses.validation import Result, Scope, meta
from keyplane.licensing.keystrings import digest
from keyplane.licensing.vocab import Code
from keyplane.observe import metrics
from keyplane.services import services_of
from keyplane.web.dependencies import CurrentAccount, DbSession, LicensingBearer, optional_bearer, origin_of

router = APIRouter(tags=["License actions"])


def _answer(
    request: Request,
    result: Result,
    snapshot: Snapshot | None,
    scope: Scope | None,
    nonce: int | None,
) -> JSONResponse:
    data = None if snapshot is None else license_resource(snapshot.license, snapshot.policy)
    metrics.validated(result.code)
    return document(request, data, meta=meta(result, iso(clock.now()), echoed(scope), nonce))


def _record(request: Request, result: Result, snapshot: Snapshot | None, bearer: Bearer | None) -> None:
    """A full validation of a license that exists goes in the event log (in a batch)."""
    if snapshot is None:
        return
    license = snapshot.license
    who, origin = (None, origin_of(request)) if bearer is None else (bearer.whodunnit, bearer.origin)
    batch = services_of(request.app).events
    events.validated(
        batch, license.account_id, license.id, license.product_id, result.valid, result.code, who, origin
    )


def echoed(scope: Scope | None) -> dict[str, Any] | None:
    """The scope as sent, for ``meta.scope``."""
    return None if scope is None else scope.model_dump(exclude_unset=True)


@router.post("/licenses/actions/validate-key", responses=returns(ValidationDocument))
async def validate_key(
    request: Request,
    session: DbSession,
    account: CurrentAccount,
    bearer: Annotated[Bearer | None, Depends(optional_bearer)],
    body: ValidateKey,
) -> JSONResponse:
    """Validate a license key; no credential needed. Always 200: the result is in ``meta``
    (``valid``, ``code``, ``detail``, ``ts``, and ``scope``/``nonce`` echoed when sent)."""
    sent = body.meta
    if not sent.key.strip():
        raise BadRequest("cannot be blank", "KEY_MISSING", pointer="/meta/key")
    if sent.legacy:
        result = Result(False, Code.NOT_FOUND)
        return _answer(request, result, None, sent.scope, sent.nonce)
    caches: Caches = services_of(request.app).credentials.caches
    generation = caches.generation()
    result, snapshot = await lifecycle.validate_key(
        session, account, bearer, sent.key, sent.scope, services_of(request.app).usage.validated
    )
    if bearer is None:
        # For the lean handler: it validates this key from memory until something changes.
        remember(request.app, account, sent.key, snapshot, generation)
    _record(request, result, snapshot, bearer)
    return _answer(request, result, snapshot, sent.scope, sent.nonce)


def remember(
    app: Starlette, account: AccountRef, key: str, snapshot: Snapshot | None, generation: int
) -> None:
    value, tags = cache_entry(account, key, snapshot)
    services_of(app).licenses.put((account.id, digest(key)), value, tags, generation)


@router.post("/licenses/{license}/actions/validate", responses=returns(ValidationDocument))
async def validate_license(
    request: Request,
    license: str,
    session: DbSession,
    bearer: LicensingBearer,
    body: Annotated[Validate | None, Body()] = None,
) -> JSONResponse:
    """Validate a license by id or key, with scope checks; records ``lastValidated``."""
    sent = (body or Validate()).meta
    result, snapshot = await lifecycle.validate(
        session, bearer, license, sent.scope, services_of(request.app).usage.validated, quick=False
    )
    _record(request, result, snapshot, bearer)
    return _answer(request, result, snapshot, sent.scope, sent.nonce)


@router.get("/licenses/{license}/actions/validate", responses=returns(ValidationDocument))
async def quick_validate_license(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """Quick validation: no scope checks, nothing recorded."""
    result, snapshot = await lifecycle.validate(
        session, bearer, license, None, services_of(request.app).usage.validated, quick=True
    )
    return _answer(request, result, snapshot, None, None)


@router.post("/licenses/{license}/actions/suspend", responses=returns(LicenseDocument))
async def suspend_license(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """Suspend a license: it validates as ``SUSPENDED`` until reinstated."""
    found, policy = await lifecycle.suspend(session, bearer, license, True)
    return document(request, license_resource(found, policy))


@router.post("/licenses/{license}/actions/reinstate", responses=returns(LicenseDocument))
async def reinstate_license(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """Lift a suspension."""
    found, policy = await lifecycle.suspend(session, bearer, license, False)
    return document(request, license_resource(found, policy))


@router.post("/licenses/{license}/actions/renew", responses=returns(LicenseDocument))
async def renew_license(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """Extend the expiry by the policy's duration (from the policy's renewal basis)."""
    found, policy = await lifecycle.renew(session, bearer, license)
    return document(request, license_resource(found, policy))


@router.delete("/licenses/{license}/actions/revoke", status_code=204, response_class=Response)
async def revoke_license(license: str, session: DbSession, bearer: LicensingBearer) -> Response:
    """Revoke a license: it is deleted, with its machines."""
    await licenses.delete(session, bearer, license, revoked=True)
    return Response(status_code=204)


@router.post("/licenses/{license}/actions/check-in", responses=returns(LicenseDocument))
async def check_in_license(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """Check in (policies with ``requireCheckIn``): the license is not ``OVERDUE`` until
    the next check-in is due."""
    found, policy = await lifecycle.check_in(session, bearer, license)
    return document(request, license_resource(found, policy))


@router.post("/licenses/{license}/actions/increment-usage", responses=returns(LicenseDocument))
async def increment_usage(
    request: Request,
    license: str,
    session: DbSession,
    bearer: LicensingBearer,
    body: Annotated[Increment | None, Body()] = None,
) -> JSONResponse:
    """Add ``meta.increment`` (default 1) to ``uses``; never past ``maxUses`` (422
    ``USES_LIMIT_EXCEEDED``), however many requests race."""
    step = (body or Increment()).meta.increment
    found, policy = await lifecycle.change_usage(session, bearer, license, by=step)
    return document(request, license_resource(found, policy))


@router.post("/licenses/{license}/actions/decrement-usage", responses=returns(LicenseDocument))
async def decrement_usage(
    request: Request,
    license: str,
    session: DbSession,
    bearer: LicensingBearer,
    body: Annotated[Decrement | None, Body()] = None,
) -> JSONResponse:
    """Take ``meta.decrement`` (default 1) from ``uses``; never below 0."""
    step = (body or Decrement()).meta.decrement
    found, policy = await lifecycle.change_usage(session, bearer, license, by=-step)
    return document(request, license_resource(found, policy))


@router.post("/licenses/{license}/actions/reset-usage", responses=returns(LicenseDocument))
async def reset_usage(
    request: Request, license: str, session: DbSession, bearer: LicensingBearer
) -> JSONResponse:
    """Set ``uses`` back to 0."""
    found, policy = await lifecycle.change_usage(session, bearer, license, reset=True)
    return document(request, license_resource(found, policy))
