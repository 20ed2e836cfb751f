"""The ``keyplane`` command."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Annotated

import typer
from rich.console import Console

from keyplane import __version__, migrate, startup
from keyplane.cli import prompts
from keyplane.cli.admin import admin_app
from keyplane.cli.backup import backup_app
from keyplane.cli.remote import remote_app
from keyplane.cli.settings import config_app
from keyplane.config import get_settings

app = typer.Typer(help="Keyplane: self-hosted license keys and API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(admin_app, name="admin")
app.add_typer(backup_app)
app.add_typer(remote_app)  # keys, licenses, pool, events, login, logout: through the API
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
    # A URL Keyplane cannot use fails where it is first used, and ``main`` says why.
    return get_settings().resolved_database_url()


def _check_secret() -> None:
    """The server secrets, checked (created, rotated) against the database (``keyplane.secret``)."""
    from keyplane.assembly import running

    async def run() -> None:
        async with running(get_settings(), background=False):
            pass

    asyncio.run(run())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Migrate the database if needed, then serve the API.

    Example: keyplane serve --host 0.0.0.0 --port 8000 --workers 4
    """
    import uvicorn

    from keyplane.observe import logs, publish
    from keyplane.serving import BoundedHttpToolsProtocol, raise_descriptor_limit

    settings = get_settings()
    url = _database_url()
    startup.check_port(host, port)
    descriptors = raise_descriptor_limit()
    if settings.max_connections >= descriptors:
        console.print(
            f"[yellow]warning:[/] KEYPLANE_MAX_CONNECTIONS ({settings.max_connections}) is not below "
            f"the descriptor limit ({descriptors}): connections past it will be refused unanswered"
        )
    migrate.upgrade(url)
    # Checked (created, rotated) once here, before the workers race for it; a wrong secret
    # stops the command before a single request is answered.
    _check_secret()
    # Each worker learns how many there are (reported in its settings).
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
            http=BoundedHttpToolsProtocol,  # header timeout and connection bound (keyplane.serving)
        )


@app.command()
def init(
    account: Annotated[str, typer.Option(help="The new account's slug.")],
    email: Annotated[str, typer.Option(help="Email of the first admin user.")],
    password: Annotated[
        str | None,
        typer.Option(help="Password of the first admin user (for scripts; asked twice when left out)."),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password as one line from stdin.")
    ] = False,
    name: Annotated[str | None, typer.Option(help="The account's display name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create the schema, an account, its first admin user and an admin API key.

    Example: keyplane init --account acme --email you@acme.test --json
    """
    from keyplane.accounts.service import bootstrap
    from keyplane.assembly import running
    from keyplane.errors import AppError

    if password is None:
        password = prompts.secret("password", from_stdin=password_stdin)
    chosen = password
    url = _database_url()
    migrate.upgrade(url)

    async def run() -> dict[str, str]:
        async with (
            running(get_settings(), background=False) as services,
            services.db.writer() as session,
        ):
            made = await bootstrap(
                session,
                services.credentials,
                services.keys,
                slug=account,
                name=name,
                email=email,
                password=chosen,
            )
            await session.commit()
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
    """Print an account's Ed25519 public key (hex), the value Keygen clients pin.

    Example: keyplane public-key acme
    """
    from keyplane.accounts import repository
    from keyplane.accounts.signing import public_hex
    from keyplane.assembly import running

    url = _database_url()
    migrate.upgrade(url)

    async def run() -> str | None:
        async with (
            running(get_settings(), background=False) as services,
            services.db.writer() as session,
        ):
            found = await (
                repository.by_id_or_slug(session, account) if account else repository.oldest(session)
            )
            if found is None:
                return None
            key = await services.keys.key(session, found.id)
            await session.commit()
            return public_hex(key)

    result = asyncio.run(run())
    if result is None:
        console.print(
            f"[red]error:[/] no account {account!r}" if account else "[red]error:[/] no account yet"
        )
        raise typer.Exit(1)
    typer.echo(result)


@db_app.command("create")
def db_create() -> None:
    """Create the database (PostgreSQL: on the URL's server; SQLite: the file), then migrate it.

    Example: KEYPLANE_DATABASE_URL=postgresql://keyplane@db.internal/keyplane keyplane db create
    """
    url = _database_url()
    created = migrate.create(url)
    migrate.upgrade(url)
    name = migrate.database_name(url)
    # Plain text: a long path must not be wrapped like prose.
    if created:
        typer.echo(f"Database {name} created and migrated.", err=True)
    else:
        typer.echo(f"Database {name} already exists; it is up to date.", err=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration.

    Example: keyplane db upgrade
    """
    migrate.upgrade(_database_url())
    console.print("Database is up to date.")


@db_app.command("check")
def db_check() -> None:
    """Fail when the models and the migrated schema differ (or migrations are pending).

    Example: keyplane db check
    """
    problem = migrate.check(_database_url())
    if problem:
        console.print(f"[red]schema differs:[/] {problem}")
        raise typer.Exit(1)
    console.print("Schema matches the models.")


def main() -> None:
    """The ``keyplane`` command. What stops a command at start (no database, a wrong secret,
    a port in use) is one line on stderr and exit status 1, never a traceback."""
    try:
        app()
    except Exception as error:
        line = _explain(error)
        if line is None:
            raise
        typer.echo(f"error: {line}", err=True)
        raise SystemExit(1) from None


def _explain(error: Exception) -> str | None:
    try:
        settings = get_settings()
    except Exception:  # unreadable settings: the original error is the answer
        return str(error) if isinstance(error, startup.StartupError) else None
    return startup.explain(error, settings.database_url or settings.resolved_database_url())
