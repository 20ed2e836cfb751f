"""The console's license pages: find a license (by key, id, owner's email or a metadata
``key=value``), a license's page (policy, owner, machines and their heartbeats, usage, its
latest validation, history), issue one, suspend, reinstate, renew, revoke, and deactivate one
of its machines. Every read and change goes through the licensing services as the signed-in
user, the same calls the API's routes make; buttons show what ``authorize`` would allow."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.console import repository
from keyplane.console.pages import PREFIX, Caller, ConsoleRoute, Form, Submitted, redirect, render
from keyplane.errors import AppError, Forbidden, NotFound
from keyplane.events import service as events
from keyplane.events.names import ResourceType
from keyplane.kit import clock, paging, query
from keyplane.licenses import lifecycle, service
from keyplane.licenses.schemas import LicenseCreateAttributes, LicenseCreateRelationships, LicenseFilters
from keyplane.licensing import heartbeat, status
from keyplane.licensing.access import Action, authorize
from keyplane.licensing.records import not_found
from keyplane.machines import service as machines
from keyplane.machines.schemas import MachineFilters
from keyplane.models import License
from keyplane.policies import service as policies
from keyplane.policies.schemas import PolicyFilters
from keyplane.services import services_of
from keyplane.web.dependencies import DbSession

router = APIRouter(prefix=f"{PREFIX}/licenses", route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 25
HISTORY = 50
MACHINES = 100
POLICIES = 100
DONE = {
    "suspended": "The license is suspended: it does not validate until it is reinstated.",
    "reinstated": "The license is reinstated.",
    "renewed": "The license is renewed.",
    "revoked": "The license is revoked: it is gone, with its machines.",
    "machine": "The machine is deactivated.",
}


def may(bearer: Bearer, resource: str, action: Action, *, own: bool = False) -> bool:
    """Whether ``authorize`` lets the user do this (which buttons a page shows)."""
    try:
        authorize(bearer, resource, action, own=own)
    except Forbidden:
        return False
    return True


def search_filters(text: str) -> LicenseFilters | None:
    """What the search box asks for, when it names no license by key or id: an owner by email
    (``@``), or a metadata ``name=value`` (a name the API's ``metadata[name]`` filter takes);
    None: nothing else to look for."""
    if "@" in text:
        return LicenseFilters(owner=text)
    name, equals, value = text.partition("=")
    if not equals:
        return None
    try:
        pairs = query.metadata([(f"metadata[{name.strip()}]", value.strip())])
    except AppError:
        return None
    return LicenseFilters(metadata=pairs)


@router.get("")
async def list_licenses(
    request: Request,
    session: DbSession,
    console: Caller,
    q: Annotated[str, Query(max_length=300)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    done: str = "",
) -> Response:
    bearer = console.bearer
    text = q.strip()
    found: list[License]
    total: int
    named = None
    if text:
        try:
            named, _ = await service.get(session, bearer, text)
        except NotFound:
            named = None
    filters = LicenseFilters() if not text else None if named else search_filters(text)
    if filters is None:
        found, total = ([named], 1) if named else ([], 0)
    else:
        asked = paging.Listed(paging.Paging("number", PAGE_SIZE, page), filters)
        listed = await service.listing(session, bearer, asked)
        found, total = list(listed.items), listed.total
    owners = await repository.emails(
        session, bearer.account.id, (item.owner_id for item in found if item.owner_id is not None)
    )
    return render(
        request,
        "licenses/list.html",
        licenses=found,
        policies=await service.policies_of(session, found),
        owners=owners,
        statuses={item.id: status.status(item, clock.now()) for item in found},
        total=total,
        q=q,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        may_issue=may(bearer, "licenses", Action.CREATE),
        done=DONE.get(done),
    )


@router.get("/new")
async def new_license(request: Request, session: DbSession, console: Caller) -> Response:
    authorize(console.bearer, "licenses", Action.CREATE)
    return await _issue_form(request, session, console.bearer, {"policy": "", "owner": "", "name": ""}, [])


async def _issue_form(
    request: Request,
    session: AsyncSession,
    bearer: Bearer,
    values: dict[str, str],
    problems: list[str],
    status_code: int = 200,
) -> Response:
    asked = paging.Listed(paging.Paging("number", POLICIES, 1, descending=False), PolicyFilters())
    choices = list((await policies.listing(session, bearer, asked)).items)
    names = await repository.product_names(session, bearer.account.id, {p.product_id for p in choices})
    return render(
        request,
        "licenses/new.html",
        status_code,
        choices=choices,
        products=names,
        values=values,
        problems=problems,
    )


def _issue_request(form: Submitted) -> tuple[LicenseCreateAttributes, LicenseCreateRelationships]:
    attributes: dict[str, Any] = {}
    if form.get("name").strip():
        attributes["name"] = form.get("name").strip()
    relationships: dict[str, Any] = {"policy": {"data": {"type": "policies", "id": form.get("policy")}}}
    if form.get("owner").strip():
        relationships["owner"] = {"data": {"type": "users", "id": form.get("owner").strip()}}
    return (
        LicenseCreateAttributes.model_validate(attributes),
        LicenseCreateRelationships.model_validate(relationships),
    )


@router.post("")
async def issue_license(request: Request, session: DbSession, console: Caller, form: Form) -> Response:
    """A new license of the chosen policy (a pooled one takes its key from the pool)."""
    bearer = console.bearer
    authorize(bearer, "licenses", Action.CREATE)
    values = {name: form.get(name) for name in ("policy", "owner", "name")}
    try:
        attributes, relationships = _issue_request(form)
    except ValidationError as error:
        problems = [item["msg"] for item in error.errors()]
        return await _issue_form(request, session, bearer, values, problems, 422)
    try:
        license, _ = await service.create(
            session, bearer, attributes, relationships, services_of(request.app).keys
        )
    except AppError as error:
        refused = await _issue_form(
            request, session, bearer, values, [f"{error.detail} ({error.code})"], error.status
        )
        await session.rollback()  # nothing of a refused issue is kept (the page is made first)
        return refused
    return redirect(f"/licenses/{license.id}", done="issued")


@router.get("/{license_id}")
async def show_license(
    request: Request, license_id: str, session: DbSession, console: Caller, done: str = ""
) -> Response:
    bearer = console.bearer
    license, policy = await service.get(session, bearer, license_id)
    asked = paging.Listed(paging.Paging("limit", MACHINES), MachineFilters(license=str(license.id)))
    found, _ = await machines.listing(session, bearer, asked)
    now = clock.now()
    history = await events.of_resource(session, bearer.account, ResourceType.LICENSE, license.id, HISTORY)
    people = {event.whodunnit_id for event in history if event.whodunnit_id is not None}
    if license.owner_id is not None:
        people.add(license.owner_id)
    own = service.owned_unprotected(bearer, license, policy)
    return render(
        request,
        "licenses/show.html",
        license=license,
        policy=policy,
        product=(await repository.product_names(session, bearer.account.id, {policy.product_id})).get(
            policy.product_id, ""
        ),
        state=status.status(license, now),
        machines=[(machine, heartbeat.status(machine, policy, now)) for machine in found.items],
        history=history,
        names=await repository.emails(session, bearer.account.id, people),
        done={"issued": "The license is issued.", **DONE}.get(done),
        may_update=may(bearer, "licenses", Action.UPDATE),
        may_delete=may(bearer, "licenses", Action.DELETE, own=own),
        may_machines=may(bearer, "machines", Action.DELETE),
    )


@router.post("/{license_id}/suspend")
async def suspend(license_id: str, session: DbSession, console: Caller, form: Form) -> Response:
    license, _ = await lifecycle.suspend(session, console.bearer, license_id, True)
    return redirect(f"/licenses/{license.id}", done="suspended")


@router.post("/{license_id}/reinstate")
async def reinstate(license_id: str, session: DbSession, console: Caller, form: Form) -> Response:
    license, _ = await lifecycle.suspend(session, console.bearer, license_id, False)
    return redirect(f"/licenses/{license.id}", done="reinstated")


@router.post("/{license_id}/renew")
async def renew(license_id: str, session: DbSession, console: Caller, form: Form) -> Response:
    license, _ = await lifecycle.renew(session, console.bearer, license_id)
    return redirect(f"/licenses/{license.id}", done="renewed")


@router.post("/{license_id}/revoke")
async def revoke(license_id: str, session: DbSession, console: Caller, form: Form) -> Response:
    await service.delete(session, console.bearer, license_id, revoked=True)
    return redirect("/licenses", done="revoked")


@router.post("/{license_id}/machines/{machine_id}/deactivate")
async def deactivate_machine(
    license_id: str, machine_id: str, session: DbSession, console: Caller, form: Form
) -> Response:
    license, _ = await service.get(session, console.bearer, license_id)
    machine, _ = await machines.get(session, console.bearer, machine_id)
    if machine.license_id != license.id:
        raise not_found("machine")
    await machines.deactivate(session, console.bearer, str(machine.id))
    return redirect(f"/licenses/{license.id}", done="machine")
