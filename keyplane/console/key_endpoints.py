"""The console's API-key pages: the list (search, status, sort, pages), a key's page with its
history, create (the secret shown once), edit, deactivate, reactivate, delete. Every change
goes through ``keyplane.api_keys.service`` as the signed-in user, after the scope check the
API's route makes (``require``)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.api_keys import service
from keyplane.api_keys.schemas import ApiKeyCreate, ApiKeyQuery, ApiKeyUpdate
from keyplane.auth.principal import Principal
from keyplane.auth.scopes import Scope, ordered, role_scopes
from keyplane.console import repository
from keyplane.console.pages import PREFIX, Caller, ConsoleRoute, Form, Submitted, redirect, render
from keyplane.credentials import versions
from keyplane.errors import AppError, NotFound
from keyplane.kit.query import Sort
from keyplane.models import Credential
from keyplane.models.credential import CredentialStatus
from keyplane.services import services_of
from keyplane.web.dependencies import DbSession, require

router = APIRouter(prefix=f"{PREFIX}/api-keys", route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 25
HISTORY = 50
SORTS = {
    "-createdAt": "Newest first",
    "createdAt": "Oldest first",
    "-lastUsedAt": "Last used, most recent first",
    "lastUsedAt": "Last used, least recent first",
}
STATUSES = {"active": CredentialStatus.ACTIVE, "inactive": CredentialStatus.INACTIVE}
DONE = {
    "updated": "Saved.",
    "deactivated": "The key is deactivated: it is refused from now on.",
    "reactivated": "The key is active again.",
    "deleted": "The key is deleted: it is refused from now on.",
}


def _key_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound("The requested API key was not found", "NOT_FOUND") from None


@router.get("")
async def list_keys(
    request: Request,
    session: DbSession,
    console: Caller,
    q: Annotated[str, Query(max_length=200)] = "",
    status: str = "active",
    sort: str = "-createdAt",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    await require(Scope.READ)(console.principal)
    status = status if status in STATUSES else "active"
    sort = sort if sort in SORTS else "-createdAt"
    query = ApiKeyQuery(
        status=STATUSES[status],
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
        # Ids are time-ordered (UUIDv7): newest first is the id order, which an index serves.
        sort=None if sort == "-createdAt" else Sort(sort.lstrip("-"), sort.startswith("-")),
        search=q.strip() or None,
    )
    found = await service.list_page(session, console.principal, query)
    owners = await repository.emails(
        session, console.signed.account.id, (key.user_id for key in found.keys if key.user_id is not None)
    )
    return render(
        request,
        "api_keys/list.html",
        keys=found.keys,
        total=found.total,
        owners=owners,
        q=q,
        chosen=status,
        sort=sort,
        sorts=SORTS,
        page=page,
        pages=max(1, -(-found.total // PAGE_SIZE)),
    )


def _form_context(principal: Principal, key: Credential | None = None) -> dict[str, Any]:
    return {
        "grantable": ordered(principal.scopes),
        "versions": versions.VERSIONS,
        "current_version": versions.CURRENT,
        "may_limit": principal.has(Scope.MANAGE),
        "key": key,
    }


def _fields(form: Submitted) -> dict[str, str]:
    return {
        name: form.get(name) for name in ("name", "description", "networks", "limit", "duration", "version")
    }


@router.get("/new")
async def new_key(request: Request, console: Caller) -> Response:
    await require(Scope.CREATE)(console.principal)
    mine = ordered(console.principal.scopes & role_scopes(console.signed.user.role))
    values = {"name": "", "description": "", "networks": "", "limit": "", "duration": "", "version": ""}
    return render(
        request,
        "api_keys/new.html",
        values=values,
        scopes=mine,
        problems=[],
        **_form_context(console.principal),
    )


def _networks(text: str) -> list[str] | None:
    entries = [entry for entry in re.split(r"[\s,]+", text) if entry]
    return entries or None


def _rate_limit(form: Submitted) -> dict[str, Any] | None:
    limit, duration = form.get("limit").strip(), form.get("duration").strip()
    if not limit and not duration:
        return None
    return {"limit": _whole(limit), "duration": _whole(duration)}


def _whole(text: str) -> int | str:
    # Not a number: left as text, for the schema to refuse with its own words.
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else text


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        problems.append(f"{where}: {item['msg']}" if where else item["msg"])
    return problems


def _refused(error: AppError) -> list[str]:
    return [f"{error.detail} ({error.code})"]


async def _undone(session: AsyncSession) -> None:
    # A refused change: nothing of it may be committed with the page that says so.
    await session.rollback()


@router.post("")
async def create_key(request: Request, session: DbSession, console: Caller, form: Form) -> Response:
    principal = console.principal
    await require(Scope.CREATE)(principal)
    asked: dict[str, Any] = {
        "name": form.get("name").strip() or None,
        "description": form.get("description").strip() or None,
        "scopes": form.all("scopes"),
        "whitelistedIPs": _networks(form.get("networks")),
        "apiVersion": form.get("version") or None,
    }
    if principal.has(Scope.MANAGE):
        asked["rateLimit"] = _rate_limit(form)
    again = {"values": _fields(form), "scopes": form.all("scopes"), **_form_context(principal)}
    try:
        data = ApiKeyCreate.model_validate(asked)
    except ValidationError as error:
        return render(request, "api_keys/new.html", 422, problems=_problems(error), **again)
    try:
        key, plaintext = await service.create(session, services_of(request.app).credentials, principal, data)
    except AppError as error:
        await _undone(session)
        return render(request, "api_keys/new.html", error.status, problems=_refused(error), **again)
    return render(request, "api_keys/created.html", 201, key=key, plaintext=plaintext)


@router.get("/{key_id}")
async def show_key(
    request: Request, key_id: str, session: DbSession, console: Caller, done: str = ""
) -> Response:
    principal = console.principal
    await require(Scope.READ)(principal)
    key = await service.get(session, principal, _key_id(key_id))
    history = await service.history(session, principal, key.id, HISTORY)
    people = {event.whodunnit_id for event in history if event.whodunnit_id is not None}
    if key.user_id is not None:
        people.add(key.user_id)
    names = await repository.emails(session, console.signed.account.id, people)
    return render(
        request,
        "api_keys/show.html",
        key=key,
        history=history,
        names=names,
        done=DONE.get(done),
        may_change=service.may_change(principal, key) and key.deleted_at is None,
    )


def _edit_values(key: Credential) -> dict[str, str]:
    return {
        "name": key.name or "",
        "description": key.description or "",
        "networks": "\n".join(key.whitelisted_ips or []),
        "limit": "" if key.rate_limit is None else str(key.rate_limit),
        "duration": "" if key.rate_limit_duration is None else str(key.rate_limit_duration),
        "version": key.api_version or versions.CURRENT,
    }


@router.get("/{key_id}/edit")
async def edit_key(request: Request, key_id: str, session: DbSession, console: Caller) -> Response:
    await require(Scope.UPDATE)(console.principal)
    key = await service.get(session, console.principal, _key_id(key_id))
    return render(
        request,
        "api_keys/edit.html",
        values=_edit_values(key),
        scopes=list(key.scopes),
        problems=[],
        **_form_context(console.principal, key),
    )


def _changes(form: Submitted, key: Credential, principal: Principal) -> dict[str, Any]:
    """What the form changes, and only that: a field sent unchanged would still count as a
    change (new networks or scopes end the key's access tokens)."""
    changed: dict[str, Any] = {}
    values = _edit_values(key)
    for field, name in (("name", "name"), ("description", "description")):
        if form.get(field).strip() != values[field]:
            changed[name] = form.get(field).strip() or None
    if set(form.all("scopes")) != set(key.scopes):
        changed["scopes"] = form.all("scopes")
    networks = _networks(form.get("networks"))
    if (networks or []) != (key.whitelisted_ips or []):
        changed["whitelistedIPs"] = networks
    if form.get("version") and form.get("version") != values["version"]:
        changed["apiVersion"] = form.get("version")
    if principal.has(Scope.MANAGE) and (form.get("limit"), form.get("duration")) != (
        values["limit"],
        values["duration"],
    ):
        changed["rateLimit"] = _rate_limit(form)
    return changed


@router.post("/{key_id}/edit")
async def update_key(
    request: Request, key_id: str, session: DbSession, console: Caller, form: Form
) -> Response:
    principal = console.principal
    await require(Scope.UPDATE)(principal)
    key = await service.get(session, principal, _key_id(key_id))
    again = {"values": _fields(form), "scopes": form.all("scopes"), **_form_context(principal, key)}
    try:
        data = ApiKeyUpdate.model_validate(_changes(form, key, principal))
    except ValidationError as error:
        return render(request, "api_keys/edit.html", 422, problems=_problems(error), **again)
    try:
        await service.update(session, principal, key.id, data)
    except AppError as error:
        await _undone(session)
        return render(request, "api_keys/edit.html", error.status, problems=_refused(error), **again)
    return redirect(f"/api-keys/{key.id}", done="updated")


async def _set_status(
    session: AsyncSession, console: Caller, key_id: str, status: CredentialStatus, done: str
) -> Response:
    await require(Scope.UPDATE)(console.principal)
    wanted = _key_id(key_id)
    await service.update(session, console.principal, wanted, ApiKeyUpdate(status=status))
    return redirect(f"/api-keys/{wanted}", done=done)


@router.post("/{key_id}/deactivate")
async def deactivate_key(key_id: str, session: DbSession, console: Caller, form: Form) -> Response:
    return await _set_status(session, console, key_id, CredentialStatus.INACTIVE, "deactivated")


@router.post("/{key_id}/reactivate")
async def reactivate_key(key_id: str, session: DbSession, console: Caller, form: Form) -> Response:
    return await _set_status(session, console, key_id, CredentialStatus.ACTIVE, "reactivated")


@router.post("/{key_id}/delete")
async def delete_key(key_id: str, session: DbSession, console: Caller, form: Form) -> Response:
    await require(Scope.DELETE)(console.principal)
    wanted = _key_id(key_id)
    await service.delete(session, console.principal, wanted)
    return redirect(f"/api-keys/{wanted}", done="deleted")
