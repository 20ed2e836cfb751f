"""The ``keyplane`` command."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Annotated

import typer
from rich.console import Console

from keyplane import __version__, migrate
from keyplane.cli.settings import config_app
from keyplane.config import get_settings

app = typer.Typer(help="Keyplane: self-hosted license keys and API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
console = Console(stderr=True)


def _version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"keyplane {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Keyplane: self-hosted license keys and API keys."""


def _database_url() -> str:
    return get_settings().resolved_database_url()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Migrate the database if needed, then serve the API."""
    import uvicorn

    from keyplane.observe import logs, publish

    settings = get_settings()
    migrate.upgrade(settings.resolved_database_url())
    settings.server_secret()  # created once here, before workers race for it
    # Each worker learns how many there are: with no bus between them (SQLite, no Redis),
    # cached entries must expire quickly instead.
    os.environ["KEYPLANE_WORKERS"] = str(workers)
    console.print(f"[bold]Keyplane[/] on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    with publish.multiprocess_dir(workers):
        uvicorn.run(
            "keyplane.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level,
            log_config=logs.uvicorn_config(settings),
            access_log=False,  # Keyplane writes its own access line (``keyplane.observe``)
            proxy_headers=False,  # client addresses are resolved by Keyplane's trusted-proxy rule
            date_header=False,  # Keyplane sends its own Date: the one its signatures cover
        )


@app.command()
def init(
    account: Annotated[str, typer.Option(help="The new account's slug.")],
    email: Annotated[str, typer.Option(help="Email of the first admin user.")],
    password: Annotated[str, typer.Option(help="Password of the first admin user.")],
    name: Annotated[str | None, typer.Option(help="The account's display name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create the schema, an account, its first admin user and an admin API key."""
    from keyplane.accounts.service import bootstrap
    from keyplane.accounts.signing import KeyRing
    from keyplane.credentials.engine import CredentialEngine
    from keyplane.db import Database
    from keyplane.errors import AppError
    from keyplane.kit.credentials import CredentialHasher

    settings = get_settings()
    migrate.upgrade(settings.resolved_database_url())
    engine = CredentialEngine(CredentialHasher(settings.server_secret()))
    keys = KeyRing(settings.server_secret())

    async def run() -> dict[str, str]:
        database = Database(settings.resolved_database_url())
        try:
            async with database.writer() as session:
                made = await bootstrap(
                    session, engine, keys, slug=account, name=name, email=email, password=password
                )
                await session.commit()
        finally:
            await database.dispose()
        return {
            "accountId": str(made.account.id),
            "accountSlug": made.account.slug,
            "userId": str(made.admin.id),
            "apiKey": made.api_key,
            "publicKey": made.account.ed25519_public or "",
        }

    try:
        result = asyncio.run(run())
    except AppError as error:
        console.print(f"[red]error:[/] {error.detail}")
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(result))
        return
    console.print(f"Account [bold]{result['accountSlug']}[/] ({result['accountId']}) created.")
    console.print(f"Admin user {email} ({result['userId']}).")
    console.print(f"Ed25519 public key (for Keygen clients' public_key): {result['publicKey']}")
    console.print("Admin API key (shown this once, store it now):")
    typer.echo(result["apiKey"])


@app.command("public-key")
def public_key(
    account: Annotated[str | None, typer.Argument(help="Account id or slug (default: the oldest).")] = None,
) -> None:
    """Print an account's Ed25519 public key (hex), the value Keygen clients pin."""
    from keyplane.accounts import repository
    from keyplane.accounts.signing import KeyRing, public_hex
    from keyplane.db import Database

    settings = get_settings()
    url = settings.resolved_database_url()
    migrate.upgrade(url)
    keys = KeyRing(settings.server_secret())

    async def run() -> str | None:
        database = Database(url)
        try:
            async with database.writer() as session:
                found = await (
                    repository.by_id_or_slug(session, account) if account else repository.oldest(session)
                )
                if found is None:
                    return None
                key = await keys.key(session, found.id)
                await session.commit()
                return public_hex(key)
        finally:
            await database.dispose()

    result = asyncio.run(run())
    if result is None:
        console.print(
            f"[red]error:[/] no account {account!r}" if account else "[red]error:[/] no account yet"
        )
        raise typer.Exit(1)
    typer.echo(result)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    migrate.upgrade(_database_url())
    console.print("Database is up to date.")


@db_app.command("check")
def db_check() -> None:
    """Fail when the models and the migrated schema differ (or migrations are pending)."""
    problem = migrate.check(_database_url())
    if problem:
        console.print(f"[red]schema differs:[/] {problem}")
        raise typer.Exit(1)
    console.print("Schema matches the models.")


def main() -> None:
    app()
