"""The console's webhooks: the account's endpoints (create, edit, delete) and their deliveries
(status, the receiver's last answer, retry), through ``keyplane.webhooks.service`` with its
rules (admins and developers change them, read-only users read them)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from keyplane.auth.principal import Bearer
from keyplane.auth.scopes import Scope
from keyplane.console.pages import PREFIX, Caller, Console, ConsoleRoute, Form, Submitted, redirect, render
from keyplane.console.user_endpoints import problems_of, refused
from keyplane.errors import AppError
from keyplane.kit import paging
from keyplane.models import WebhookEndpoint
from keyplane.services import services_of
from keyplane.web.dependencies import DbSession
from keyplane.webhooks import service
from keyplane.webhooks.schemas import EndpointAttributes, EndpointCreateAttributes

router = APIRouter(prefix=f"{PREFIX}/webhooks", route_class=ConsoleRoute, include_in_schema=False)

ENDPOINTS = 100
DELIVERIES = 25
DONE = {
    "created": "The endpoint is created: the events it subscribes to are sent to it from now on.",
    "updated": "Saved.",
    "deleted": "The endpoint is deleted: nothing more is sent to it.",
    "retried": "A new delivery of the event is on its way.",
}


def _allow_private(request: Request) -> bool:
    return services_of(request.app).settings.webhooks_allow_private


def _may(bearer: Bearer) -> dict[str, bool]:
    """Which buttons the page shows: only what the service would let this user do."""
    return {
        "may_create": service.may(bearer, Scope.CREATE),
        "may_update": service.may(bearer, Scope.UPDATE),
        "may_delete": service.may(bearer, Scope.DELETE),
    }


@router.get("")
async def webhooks_page(
    request: Request,
    session: DbSession,
    console: Caller,
    before: Annotated[str, Query(max_length=64)] = "",
    done: str = "",
) -> Response:
    endpoints = await service.listing(
        session, console.bearer, paging.Listed(paging.Paging("limit", ENDPOINTS), None)
    )
    try:
        cursor = uuid.UUID(before) if before else None
    except ValueError:
        cursor = None
    every: tuple[str, ...] = ()
    asked = paging.Listed(paging.Paging("cursor", DELIVERIES, cursor=cursor), every)
    deliveries = await service.deliveries(session, console.bearer, asked)
    return render(
        request,
        "events/webhooks.html",
        endpoints=endpoints.items,
        deliveries=deliveries.items,
        older=deliveries.next_cursor,
        done=DONE.get(done),
        **_may(console.bearer),
    )


def _subscriptions(text: str) -> list[str]:
    return [entry for entry in re.split(r"[\s,]+", text) if entry] or ["*"]


def _values(form: Submitted) -> dict[str, str]:
    return {"url": form.get("url").strip(), "subscriptions": form.get("subscriptions")}


def _form(
    request: Request,
    console: Console,
    status: int,
    endpoint: WebhookEndpoint | None,
    values: dict[str, str],
    problems: list[str],
) -> Response:
    context = {"endpoint": endpoint, "values": values, "problems": problems, "done": None}
    return render(request, "events/endpoint.html", status, **context, **_may(console.bearer))


@router.get("/new")
async def new_endpoint(request: Request, console: Caller) -> Response:
    service.require(console.bearer, Scope.CREATE)
    return _form(request, console, 200, None, {"url": "", "subscriptions": "*"}, [])


@router.post("")
async def create_endpoint(request: Request, session: DbSession, console: Caller, form: Form) -> Response:
    values = _values(form)
    try:
        data = EndpointCreateAttributes.model_validate(
            {"url": values["url"], "subscriptions": _subscriptions(values["subscriptions"])}
        )
        endpoint = await service.create(
            session, console.bearer, data, None, allow_private=_allow_private(request)
        )
    except ValidationError as error:
        return _form(request, console, 422, None, values, problems_of(error))
    except AppError as error:
        await session.rollback()
        return _form(request, console, error.status, None, values, refused(error))
    return redirect(f"/webhooks/{endpoint.id}", done="created")


@router.get("/deliveries/{delivery_id}")
async def show_delivery(
    request: Request, delivery_id: str, session: DbSession, console: Caller, done: str = ""
) -> Response:
    delivery = await service.delivery(session, console.bearer, delivery_id)
    return render(
        request, "events/delivery.html", delivery=delivery, done=DONE.get(done), **_may(console.bearer)
    )


@router.post("/deliveries/{delivery_id}/retry")
async def retry_delivery(delivery_id: str, session: DbSession, console: Caller, form: Form) -> Response:
    again = await service.retry(session, console.bearer, delivery_id)
    return redirect(f"/webhooks/deliveries/{again.id}", done="retried")


@router.get("/{endpoint_id}")
async def show_endpoint(
    request: Request, endpoint_id: str, session: DbSession, console: Caller, done: str = ""
) -> Response:
    endpoint = await service.get(session, console.bearer, endpoint_id)
    values = {"url": endpoint.url, "subscriptions": "\n".join(endpoint.subscriptions)}
    return render(
        request,
        "events/endpoint.html",
        endpoint=endpoint,
        values=values,
        problems=[],
        done=DONE.get(done),
        **_may(console.bearer),
    )


@router.post("/{endpoint_id}/edit")
async def update_endpoint(
    request: Request, endpoint_id: str, session: DbSession, console: Caller, form: Form
) -> Response:
    values = _values(form)
    endpoint = await service.get(session, console.bearer, endpoint_id)
    changes: dict[str, Any] = {"subscriptions": _subscriptions(values["subscriptions"])}
    if values["url"] != endpoint.url:
        changes["url"] = values["url"]
    try:
        data = EndpointAttributes.model_validate(changes)
        await service.update(
            session, console.bearer, endpoint_id, data, None, allow_private=_allow_private(request)
        )
    except ValidationError as error:
        return _form(request, console, 422, endpoint, values, problems_of(error))
    except AppError as error:
        await session.rollback()
        endpoint = await service.get(session, console.bearer, endpoint_id)
        return _form(request, console, error.status, endpoint, values, refused(error))
    return redirect(f"/webhooks/{endpoint_id}", done="updated")


@router.post("/{endpoint_id}/delete")
async def delete_endpoint(endpoint_id: str, session: DbSession, console: Caller, form: Form) -> Response:
    await service.delete(session, console.bearer, endpoint_id)
    return redirect("/webhooks", done="deleted")
