"""``create_app()``: the ASGI application, its lifespan, handlers and routers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path
from starlette.types import Message, Receive, Scope, Send

from keyplane import __version__, contract, docs
from keyplane.accounts import endpoints as accounts
from keyplane.api_keys import endpoints as api_keys
from keyplane.api_keys import lean as lean_api_keys
from keyplane.assembly import running
from keyplane.checkouts import endpoints as checkouts
from keyplane.config import Settings, get_settings
from keyplane.console import account_endpoints as console_account
from keyplane.console import endpoints as console
from keyplane.console import event_endpoints as console_events
from keyplane.console import key_endpoints as console_keys
from keyplane.console import license_endpoints as console_licenses
from keyplane.console import pool_endpoints as console_pools
from keyplane.console import product_endpoints as console_products
from keyplane.console import user_endpoints as console_users
from keyplane.console import webhook_endpoints as console_webhooks
from keyplane.entitlements import endpoints as entitlements
from keyplane.error_handlers import install_handlers
from keyplane.events import endpoints as events
from keyplane.groups import endpoints as groups
from keyplane.hot import HotPaths
from keyplane.keys import endpoints as keys
from keyplane.kit.bodies import capped
from keyplane.kit.nul import refuse_nul_characters
from keyplane.license_tokens import endpoints as license_tokens
from keyplane.licensees import endpoints as licensees
from keyplane.licenses import action_endpoints as license_actions
from keyplane.licenses import endpoints as licenses
from keyplane.licenses import lean as lean_licenses
from keyplane.machines import component_endpoints as components
from keyplane.machines import endpoints as machines
from keyplane.negotiation import Negotiation
from keyplane.oauth import endpoints as oauth
from keyplane.observe import endpoints as observe
from keyplane.observe import logs
from keyplane.observe.exchange import Exchange
from keyplane.observe.health import code_heads
from keyplane.observe.observer import Observer
from keyplane.policies import endpoints as policies
from keyplane.processes import endpoints as processes
from keyplane.products import endpoints as products
from keyplane.services import Services
from keyplane.serving import Answer
from keyplane.signing import Signatures
from keyplane.tokens import endpoints as tokens
from keyplane.users import endpoints as users
from keyplane.web.dependencies import CurrentAccount
from keyplane.webhooks import endpoints as webhooks

DESCRIPTION = """\
Keyplane issues and checks license keys (a Keygen-compatible licensing API) and API keys.

Every route is served under `/v1/accounts/{account}/...` (account id or slug) and under bare
`/v1/...` for the default account. Authenticate with `Authorization: Bearer <key>` or
`X-API-Key: <key>` ("Authorize" above takes either), an access token from `/v1/oauth/token`,
or, on the licensing API where a policy allows it, `Authorization: License <license key>`.

The licensing API answers in JSON:API (`application/vnd.api+json`, or `application/json` by
`Accept`) with Keygen's error envelope; the API-key API in plain JSON with
`{status, error: {code, message, field}, requestId}`; `/oauth/token` with RFC 6749's
`{error, error_description}`. Every error carries a `code`.
"""


async def _account_path(
    account: Annotated[str, Path(description="The account's id or slug")],
    _resolved: CurrentAccount,
) -> None:
    """Documents the account segment and refuses an unknown account on every route under it."""


service = APIRouter(tags=["Service"])


@service.get("/ping")
async def ping() -> dict[str, str]:
    """Liveness: 200 without credentials. Served under ``/v1`` and under
    ``/v1/accounts/{account}``, as Keygen mounts it (``config/routes.rb``, ``concern :v1``)."""
    return {"message": "pong"}


ROUTERS = (
    service,
    api_keys.router,
    api_keys.public,
    tokens.router,
    oauth.router,
    users.router,
    products.router,
    tokens.product_tokens,
    policies.router,
    keys.router,
    license_actions.router,
    checkouts.router,
    licensees.router,
    licenses.router,
    license_tokens.router,
    machines.router,
    groups.router,
    entitlements.router,
    processes.router,
    components.router,
    events.router,
    webhooks.router,
)
"""The routers served under ``/v1`` and under ``/v1/accounts/{account}``, in this order."""
ACCOUNT_PREFIX = "/v1/accounts/{account}"


def _routes() -> APIRouter:
    router = APIRouter()
    for each in ROUTERS:
        router.include_router(each)
    return router


def _templates(app: FastAPI) -> list[str]:
    """Every route's whole template, for access lines and metrics (FastAPI keeps included
    routers nested, their routes' paths without the prefixes they are served under)."""
    found = [getattr(route, "path", "") for route in (*app.router.routes, *observe.router.routes)]
    found += ["/v1" + getattr(route, "path", "") for route in accounts.router.routes]
    for prefix in ("/v1", ACCOUNT_PREFIX):
        found += [prefix + getattr(route, "path", "") for each in ROUTERS for route in each.routes]
    return found


GC_THRESHOLDS = (50_000, 20, 100)
"""Python's collector thresholds for a server process (the defaults are 700, 10, 10):
young objects are collected every 50,000 net allocations, the middle generation every 20
young collections, everything every 100 middle ones. The caches hold tens of thousands of
objects, and with the defaults the survivors of ordinary work (a usage flush, a refill)
set off a full collection every few seconds, each stopping every request for 20 to 60 ms
(in process, 10,000 keys cached and verified by 64 callers). With these, the same 12 s
load had no full collection, and none over 8 ms but one young collection right after the
cache was filled. What a request leaves behind is freed by reference counting, not by
the collector."""


class Keyplane(FastAPI):
    """The application, with its hottest routes answered by lean handlers first
    (``keyplane.hot``); whatever they leave goes through the framework as usual."""

    hot: HotPaths | None = None
    """Set while the application runs, when ``hot_paths`` is on: what it remembers (the
    accounts of the paths it has seen) comes from that run's services."""
    settings: Settings | None = None
    """The settings it was made with, which its services start with."""
    services: Services | None = None
    """Set while the application runs (its lifespan); ``keyplane.services.services_of``."""
    observer: Observer | None = None
    """Gives every request its id, and writes its access line and counts when it ends."""

    def openapi(self) -> dict[str, Any]:
        """The published contract: FastAPI's description, completed (``keyplane.contract``)."""
        if self.openapi_schema is None:
            self.openapi_schema = contract.complete(self, super().openapi())
        return self.openapi_schema

    def may_answer_at_once(self, scope: Scope) -> bool:
        """Whether a lean handler might answer this request from memory (``keyplane.serving``
        then holds its task back until its body is in, and asks ``answer_at_once``)."""
        if self.hot is None or self.services is None or self.observer is None:
            return False
        route = self.hot.route(self.services, scope)
        return route is not None and route.from_memory is not None

    def answer_at_once(self, scope: Scope, body: bytes) -> Answer | None:
        """The request's answer from memory, as ``__call__`` would send it (the same lean
        handler, request id, access line and counts), or None: then ``__call__`` answers it."""
        if self.hot is None or self.services is None or self.observer is None:
            return None
        route = self.hot.route(self.services, scope)
        if route is None:
            return None
        exchange = Exchange(scope, _unsent)
        scope["app"] = self
        try:
            made = self.hot.from_memory(self.services, scope, route, body)
            if made is None:
                return None
            answered = Answer(made.body, exchange.answering(200, made.headers))
            self.observer.done(scope, exchange)
            return answered
        finally:
            exchange.end(scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.observer is None:
            await super().__call__(scope, receive, send)
            return
        exchange = Exchange(scope, send)
        send = exchange.send
        try:
            if self.hot is not None and self.services is not None:
                scope["app"] = self
                left = await self.hot(self.services, scope, receive, send)
                if left is None:
                    return
                receive = left
            settings = self.services.settings if self.services is not None else self.settings
            assert settings is not None
            receive = capped(receive, scope, settings.max_body_bytes)
            await super().__call__(scope, receive, send)
        finally:
            self.observer.done(scope, exchange)
            exchange.end(scope)


def _unsent(_message: Message) -> Awaitable[None]:
    raise RuntimeError("an answer given at once is written by the server")


def _hot_paths() -> HotPaths:
    return HotPaths(
        {
            ("POST", "api-keys", "verify"): lean_api_keys.verify,
            ("GET", "api-keys", "*"): lean_api_keys.get,
            ("POST", "licenses", "actions", "validate-key"): lean_licenses.validate_key,
        },
        {
            ("POST", "api-keys", "verify"): lean_api_keys.verify_from_memory,
            ("POST", "licenses", "actions", "validate-key"): lean_licenses.validate_from_memory,
        },
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        code_heads()  # read once now, not by the first readiness probe
        async with running(settings) as services:
            assert isinstance(app, Keyplane)
            app.services = services
            app.hot = _hot_paths() if settings.hot_paths else None
            # What exists now (modules, the application, its routes) lives as long as the
            # process: keep it out of every garbage collection, which would otherwise walk it
            # again and again and stall the requests of the moment.
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
            try:
                yield
            finally:
                app.services = None
                app.hot = None

    app = Keyplane(
        title="Keyplane",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        # /docs and /redoc are served by ``keyplane.docs``, with their assets, from this host.
        docs_url=None,
        redoc_url=None,
        # Starlette's redirect to the slashless path is built from the Host header, which
        # the client chooses: a 307 to any host it names. A path with a trailing slash is
        # a 404 like any other unknown path.
        redirect_slashes=False,
        dependencies=[Depends(refuse_nul_characters)],
    )
    app.settings = settings
    logs.install(settings)
    app.observer = Observer(settings)
    install_handlers(app)
    app.add_middleware(Negotiation)
    app.add_middleware(Signatures)

    routes = _routes()
    app.include_router(accounts.router, prefix="/v1", dependencies=[Depends(_account_path)])
    app.include_router(routes, prefix="/v1")
    app.include_router(routes, prefix=ACCOUNT_PREFIX, dependencies=[Depends(_account_path)])
    app.include_router(observe.router)
    # The console (``keyplane.console``): web pages on the same port, outside the API's contract.
    app.include_router(console.root)
    app.include_router(console.router)
    app.include_router(console_keys.router)
    app.include_router(console_users.router)
    app.include_router(console_events.router)
    app.include_router(console_webhooks.router)
    app.include_router(console_account.router)
    app.include_router(console_licenses.router)
    app.include_router(console_products.router)
    app.include_router(console_pools.router)
    docs.install(app)
    app.observer.learn(_templates(app))
    return app
