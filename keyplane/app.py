"""``create_app()``: the ASGI application, its lifespan, handlers and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path

from keyplane import __version__
from keyplane.accounts import endpoints as accounts
from keyplane.accounts.directory import AccountDirectory
from keyplane.accounts.signing import KeyRing
from keyplane.api_keys import endpoints as api_keys
from keyplane.auth.dependencies import CurrentAccount
from keyplane.config import Settings, get_settings
from keyplane.credentials.engine import CredentialEngine
from keyplane.credentials.usage import UsageRecorder
from keyplane.db import Database
from keyplane.errors import install_handlers
from keyplane.keys import endpoints as keys
from keyplane.kit.credentials import CredentialHasher
from keyplane.licenses import actions as license_actions
from keyplane.licenses import endpoints as licenses
from keyplane.machines import endpoints as machines
from keyplane.negotiation import Negotiation
from keyplane.oauth import endpoints as oauth
from keyplane.policies import endpoints as policies
from keyplane.products import endpoints as products
from keyplane.signing import Signatures
from keyplane.tokens import endpoints as tokens
from keyplane.users import endpoints as users

DESCRIPTION = """\
Keyplane issues and checks license keys (a Keygen-compatible licensing API) and API keys.

Every route is served under `/v1/accounts/{account}/...` (account id or slug) and under bare
`/v1/...` for the default account. Authenticate with `Authorization: Bearer <key>` or
`X-API-Key: <key>`.
"""


def _account_path(
    account: Annotated[str, Path(description="The account's id or slug")],
    _resolved: CurrentAccount,
) -> None:
    """Documents the account segment and refuses an unknown account on every route under it."""


def _routes() -> APIRouter:
    router = APIRouter()
    router.include_router(api_keys.router)
    router.include_router(api_keys.public)
    router.include_router(tokens.router)
    router.include_router(oauth.router)
    router.include_router(users.router)
    router.include_router(products.router)
    router.include_router(policies.router)
    router.include_router(keys.router)
    router.include_router(license_actions.router)
    router.include_router(licenses.router)
    router.include_router(machines.router)
    return router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.resolved_database_url())
        usage = UsageRecorder(database, settings.usage_flush_seconds)
        app.state.db = database
        app.state.accounts = AccountDirectory(settings.account)
        app.state.usage = usage
        app.state.credentials = CredentialEngine(CredentialHasher(settings.server_secret()))
        app.state.keys = KeyRing(settings.server_secret())
        usage.start()
        try:
            yield
        finally:
            await usage.stop()
            await database.dispose()

    app = FastAPI(
        title="Keyplane",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    install_handlers(app)
    app.add_middleware(Negotiation)
    app.add_middleware(Signatures)

    @app.get("/v1/ping", tags=["Service"])
    async def ping() -> dict[str, str]:
        """Liveness: 200 without credentials."""
        return {"message": "pong"}

    routes = _routes()
    app.include_router(accounts.router, prefix="/v1")
    app.include_router(routes, prefix="/v1")
    app.include_router(routes, prefix="/v1/accounts/{account}", dependencies=[Depends(_account_path)])
    return app
