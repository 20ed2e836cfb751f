"""``keyplane admin``: what the server's operator does on the database itself, without an
API key (a lost admin password, a lost admin key). Every change goes through the same
services as the API's, acting as the system: the event log says ``system`` did it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane import migrate
from keyplane.auth.principal import AccountRef, Principal
from keyplane.cli import prompts
from keyplane.config import get_settings
from keyplane.errors import AppError, NotFound
from keyplane.kit import passwords
from keyplane.services import Services

admin_app = typer.Typer(
    help="Operator commands that work on the database directly (run them on the server's host).",
    no_args_is_help=True,
)

T = TypeVar("T")

_ACCOUNT_HELP = "Account id or slug (default: KEYPLANE_ACCOUNT, else the oldest account)."


def _on_database(work: Callable[[Services, AsyncSession], Awaitable[T]]) -> T:
    """``work`` in one transaction on the configured database (migrated first, its server
    secret checked, as every start does); a refusal is one line and changes nothing."""
    from keyplane.assembly import running

    settings = get_settings()
    migrate.upgrade(settings.resolved_database_url())

    async def run() -> T:
        async with running(settings, background=False) as services, services.db.writer() as session:
            result = await work(services, session)
            await session.commit()
            return result

    try:
        return asyncio.run(run())
    except AppError as error:
        prompts.fail(error.detail)


async def _account(services: Services, session: AsyncSession, ref: str | None) -> AccountRef:
    found = await (services.accounts.named(session, ref) if ref else services.accounts.default(session))
    if found is None:
        detail = f"no account {ref!r}" if ref else "no account yet: create one with `keyplane init`"
        raise NotFound(detail, "NOT_FOUND")
    return found


def _invalid(error: ValidationError) -> str:
    """A refused option, said as the option's name and why."""
    problems = []
    for problem in error.errors():
        option = "--" + str(problem["loc"][0]).replace("_", "-") if problem["loc"] else "input"
        problems.append(f"{option}: {problem['msg']}")
    return "; ".join(problems)


@admin_app.command("reset-password")
def reset_password(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    account: Annotated[str | None, typer.Option(help=_ACCOUNT_HELP)] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password as one line from stdin.")
    ] = False,
) -> None:
    """Set a user's password, ending their tokens and console sessions.

    The password is asked twice, or read as one line from stdin; the change is the API's
    (same rules, and every token and console session the old password opened ends).

    Example: keyplane admin reset-password you@acme.test --account acme
    """
    from keyplane.users import service as users
    from keyplane.users.schemas import UserUpdateAttributes

    password = prompts.secret("new password", from_stdin=password_stdin)
    refused = passwords.refusal(password)
    if refused is not None:
        prompts.fail(refused)
    change = UserUpdateAttributes.model_validate({"password": password})

    async def work(services: Services, session: AsyncSession) -> str:
        found = await _account(services, session, account)
        system = Principal.system(found)
        try:
            user = await users.get(session, system, email)
        except NotFound:
            raise NotFound(f"no user {email!r} in account {found.slug}", "NOT_FOUND") from None
        await users.update(session, system, str(user.id), change)
        return found.slug

    slug = _on_database(work)
    typer.echo(
        f"Password of {email} (account {slug}) changed; their tokens and console sessions are ended.",
        err=True,
    )


@admin_app.command("create-key")
def create_key(
    account: Annotated[str, typer.Option(help="Account id or slug.")],
    email: Annotated[str, typer.Option(help="Email of the user who owns the key.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: READ, CREATE, UPDATE, DELETE, MANAGE.")],
    name: Annotated[str, typer.Option(help="The key's name.")] = "Recovery key (keyplane admin create-key)",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create an API key for a user (a recovery key) and print it this once.

    For when no admin key is left. The event log records it as api-key.created by system.

    Example: keyplane admin create-key --account acme --email you@acme.test --scopes READ,MANAGE
    """
    from keyplane.api_keys import service as api_keys
    from keyplane.api_keys.schemas import ApiKeyCreate
    from keyplane.users import service as users

    try:
        asked = ApiKeyCreate.model_validate({"name": name, "scopes": scopes})
    except ValidationError as error:
        prompts.fail(_invalid(error))

    async def work(services: Services, session: AsyncSession) -> dict[str, str]:
        found = await _account(services, session, account)
        system = Principal.system(found)
        try:
            owner = await users.get(session, system, email)
        except NotFound:
            raise NotFound(f"no user {email!r} in account {found.slug}", "NOT_FOUND") from None
        data = asked.model_copy(update={"user_id": owner.id})
        key, plaintext = await api_keys.create(session, services.credentials, system, data)
        return {"id": str(key.id), "accountSlug": found.slug, "userId": str(owner.id), "key": plaintext}

    made = _on_database(work)
    if as_json:
        typer.echo(json.dumps(made))
        return
    typer.echo(
        f"API key {made['id']} for {email} (account {made['accountSlug']}), shown this once: "
        "store it now, it cannot be read again.",
        err=True,
    )
    typer.echo(made["key"])
