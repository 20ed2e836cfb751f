"""The console's HTTP side, shared by all its pages: the templates, the signed-in user as the
services' caller, the forms and their CSRF tokens, and the page that says why something was
refused. A page's endpoint takes a ``Caller`` (and, when it changes something, a ``Form``),
calls a service, and renders a template with ``render``.

Refusals: a service's error (``AppError``) raised from a console page is answered with the
refusal page, in the error's status, with its code and detail (the same words the API
says); the transaction rolls back as on any failed request. A request without a session is
sent to the sign-in page.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from keyplane.auth.principal import Bearer, Principal
from keyplane.auth.scopes import Scope
from keyplane.console import sessions
from keyplane.console.sessions import SignedIn
from keyplane.errors import AppError, Forbidden
from keyplane.kit import clock
from keyplane.kit.credentials import CredentialHasher
from keyplane.kit.timefmt import iso_or_none
from keyplane.services import services_of
from keyplane.web.dependencies import DbSession, origin_of

PREFIX = "/console"
SESSION_COOKIE = "keyplane_console"
"""The session's secret (``keyplane.console.sessions``)."""
SIGN_IN_COOKIE = "keyplane_console_sign_in"
"""Before sign-in: what the sign-in form's CSRF token is bound to."""
CSRF_FIELD = "csrf"
_FORM = "application/x-www-form-urlencoded"
_UPLOAD = "multipart/form-data"
_HEADERS = {
    # Pages show secrets once and per-user data: nothing is stored by a browser or a proxy.
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
}

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["instant"] = lambda value: (iso_or_none(value) or "").replace("T", " ")[:16]
templates.globals["Scope"] = Scope


class SignInNeeded(Exception):
    """The request has no live console session."""


def _hasher(request: Request) -> CredentialHasher:
    hasher: CredentialHasher = services_of(request.app).credentials.hasher
    return hasher


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="lax", secure=_secure(request)
    )


def forget_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path=PREFIX, httponly=True, samesite="lax", secure=_secure(request))


async def signed_in(request: Request, session: DbSession) -> SignedIn:
    """The request's signed-in user (else the sign-in page answers instead)."""
    secret = request.cookies.get(SESSION_COOKIE)
    found = None if not secret else await sessions.resume(session, _hasher(request), secret, clock.now())
    if found is None:
        raise SignInNeeded
    # The user stays as read, whatever the request's transaction does next: a refused change
    # rolls back (which expires what the session holds) before its page names the user.
    session.expunge(found.user)
    request.state.signed = found
    return found


@dataclass(frozen=True, slots=True)
class Console:
    """The signed-in user as the services' caller: ``principal`` for the API-key services,
    ``bearer`` for the licensing ones; both carry the request's origin for the event log."""

    signed: SignedIn
    principal: Principal
    bearer: Bearer


async def caller(request: Request, signed: Annotated[SignedIn, Depends(signed_in)]) -> Console:
    origin = origin_of(request)
    return Console(signed, signed.principal(origin), signed.bearer(origin))


Caller = Annotated[Console, Depends(caller)]


def _binding(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(SIGN_IN_COOKIE)


@dataclass(frozen=True, slots=True)
class Submitted:
    """A console form's fields (its CSRF token checked)."""

    fields: list[tuple[str, str]]

    def get(self, name: str, default: str = "") -> str:
        found = [value for key, value in self.fields if key == name]
        return found[-1] if found else default

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]


async def submitted(request: Request) -> Submitted:
    """The form of this POST, refused (403 ``CSRF_INVALID``) unless it carries the CSRF token
    of the page this browser was served."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == _UPLOAD:
        fields = _parts(request.headers["content-type"], await request.body())
    else:
        body = await request.body() if media == _FORM else b""
        try:
            fields = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            fields = []
    form = Submitted(fields)
    if not sessions.csrf_valid(_hasher(request), _binding(request), form.get(CSRF_FIELD) or None):
        raise Forbidden(
            "This form was sent without its security token, or with one from another page or "
            "session. Nothing was changed: reload the page and send the form again.",
            "CSRF_INVALID",
        )
    return form


Form = Annotated[Submitted, Depends(submitted)]


def _parts(media: str, body: bytes) -> list[tuple[str, str]]:
    """A ``multipart/form-data`` body's fields (a file field: its content as text), read with
    the standard library's MIME parser; a part that is not UTF-8 text is left out."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + media.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields = []
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        try:
            fields.append((name, payload.decode("utf-8-sig")))
        except UnicodeDecodeError:
            continue
    return fields


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered for this request: the signed-in user (if any), the CSRF token of
    its forms, and ``context``. Before sign-in, the browser gets the cookie the sign-in
    form's token is bound to."""
    binding = _binding(request)
    fresh = None
    if binding is None:
        binding = fresh = secrets.token_urlsafe(32)
    signed: SignedIn | None = getattr(request.state, "signed", None)
    token = sessions.csrf_token(_hasher(request), binding)
    page = templates.get_template(template).render(
        request=request,
        signed=signed,
        csrf_input=Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token),
        prefix=PREFIX,
        **context,
    )
    response = HTMLResponse(page, status_code=status, headers=_HEADERS)
    if fresh is not None:
        set_cookie(request, response, SIGN_IN_COOKIE, fresh, int(sessions.LIFETIME.total_seconds()))
    return response


def redirect(path: str, **query: str) -> RedirectResponse:
    """303 to a console page (after a form: the browser fetches it with GET)."""
    suffix = "&".join(f"{name}={quote(value)}" for name, value in query.items())
    return RedirectResponse(f"{PREFIX}{path}{'?' + suffix if suffix else ''}", status_code=303)


def refusal(request: Request, error: AppError) -> HTMLResponse:
    """The page that says why the console refused: the status, code and detail the API
    would have answered."""
    response = render(request, "refused.html", error.status, error=error)
    for name, value in error.headers.items():
        if name.lower() == "retry-after":
            response.headers[name] = value
    return response


def _sign_in_redirect(request: Request) -> RedirectResponse:
    wanted = request.url.path if request.method == "GET" else f"{PREFIX}"
    return RedirectResponse(f"{PREFIX}/sign-in?next={quote(wanted)}", status_code=303)


class ConsoleRoute(APIRoute):
    """A console page: refusals are pages, and no session means the sign-in page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                return _sign_in_redirect(request)
            except AppError as error:
                return refusal(request, error)

        return answer
