"""The console's own pages: ``/`` and ``/console`` (the overview), sign-in and sign-out, and
its static files (every asset is served from here: the console works on an offline host)."""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from keyplane.console import overview, repository, sessions
from keyplane.console.pages import (
    PREFIX,
    SESSION_COOKIE,
    Caller,
    ConsoleRoute,
    Form,
    forget_cookie,
    redirect,
    render,
    set_cookie,
)
from keyplane.errors import TooManyRequests, Unauthorized
from keyplane.kit import clock
from keyplane.services import services_of
from keyplane.tokens.endpoints import password_sign_in
from keyplane.web.dependencies import DbSession

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
root = APIRouter(include_in_schema=False)

_STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
_ASSETS = {name: (resources.files(__package__) / "static" / name).read_bytes() for name in _STATIC}
"""The console's assets, read once (they are small, and part of the installed package)."""


@root.get("/")
async def home() -> RedirectResponse:
    """Keyplane's home is the console."""
    return RedirectResponse(PREFIX, status_code=307)


@router.get("")
async def overview_page(request: Request, session: DbSession, console: Caller) -> Response:
    figures = await overview.overview(session, console.principal, console.bearer, clock.now())
    return render(request, "overview.html", figures=figures, now=clock.now())


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in _ASSETS:
        return Response("Not found", status_code=404, media_type="text/plain")
    return Response(
        _ASSETS[name], media_type=_STATIC[name], headers={"Cache-Control": "public, max-age=3600"}
    )


def _next(wanted: str | None) -> str:
    """Where to go after signing in: a console page, never another site."""
    if wanted and wanted.startswith(PREFIX) and not wanted.startswith("//") and "\\" not in wanted:
        return wanted
    return PREFIX


@router.get("/sign-in")
async def sign_in_page(
    request: Request,
    session: DbSession,
    next: Annotated[str | None, Query()] = None,
    ended: Annotated[str | None, Query()] = None,
) -> Response:
    many = await repository.account_count(session) > 1
    return render(
        request, "sign_in.html", many=many, next=_next(next), ended=ended is not None, email="", account=""
    )


@router.post("/sign-in")
async def sign_in(request: Request, session: DbSession, form: Form) -> Response:
    """Email and password (and the account's slug when there are several accounts), through
    the same throttle as ``POST /tokens``."""
    email, slug = form.get("email").strip(), form.get("account").strip()
    many = await repository.account_count(session) > 1
    directory = services_of(request.app).accounts
    account = await (directory.named(session, slug) if many else directory.default(session))
    again = {"many": many, "next": _next(form.get("next")), "ended": False, "email": email, "account": slug}
    if account is None:
        problem = "Enter your account's slug." if not slug else f"There is no account '{slug}'."
        return render(request, "sign_in.html", 401, problem=problem, **again)
    try:
        user = await password_sign_in(request, session, account, email, form.get("password"))
    except TooManyRequests as error:
        return render(request, "sign_in.html", 429, problem=error.detail, **again)
    except Unauthorized:
        return render(request, "sign_in.html", 401, problem="The email or password is not right.", **again)
    row, secret = await sessions.start(
        session, services_of(request.app).credentials.hasher, user, clock.now()
    )
    response = RedirectResponse(_next(form.get("next")), status_code=303)
    lifetime = int((row.expires_at - row.created_at).total_seconds())
    set_cookie(request, response, SESSION_COOKIE, secret, lifetime)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, session: DbSession, form: Form) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        await sessions.end(session, services_of(request.app).credentials.hasher, secret)
    response = redirect("/sign-in", ended="1")
    forget_cookie(request, response, SESSION_COOKIE)
    return response
