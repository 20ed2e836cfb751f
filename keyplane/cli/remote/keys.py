"""``keyplane keys ...``: the account's API keys, through the API."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, TypeGuard, get_args

import typer
from keyplane_client import ApiKeyPage, Keyplane, RateLimit, Scope, Status
from keyplane_client import _api_keys as calls
from keyplane_client._calls import Call

from keyplane.cli.remote import output
from keyplane.cli.remote.session import (
    REFUSED,
    USAGE,
    JsonOption,
    KeyOption,
    ProfileOption,
    UrlOption,
    connected,
    emit_json,
    fail,
    raw,
)

keys_app = typer.Typer(help="Manage API keys (list, show, create, update, deactivate, delete, verify).")

COLUMNS: list[output.Column] = [
    ("ID", lambda key: key["id"]),
    ("NAME", lambda key: key["name"]),
    ("START", lambda key: key["start"]),
    ("SCOPES", lambda key: key["scopes"]),
    ("STATUS", lambda key: key["status"]),
    ("EXPIRES", lambda key: key["expiresAt"]),
    ("LAST USED", lambda key: key["lastUsedAt"]),
]
FIELDS: list[output.Column] = [
    ("id", lambda key: key["id"]),
    ("name", lambda key: key["name"]),
    ("description", lambda key: key["description"]),
    ("start", lambda key: key["start"]),
    ("scopes", lambda key: key["scopes"]),
    ("status", lambda key: key["status"]),
    ("owner", lambda key: key["userId"]),
    ("whitelisted IPs", lambda key: key["whitelistedIPs"]),
    ("rate limit", lambda key: key["rateLimit"] and "{limit}/{duration}s".format(**key["rateLimit"])),
    ("API version", lambda key: key["apiVersion"]),
    ("expires", lambda key: key["expiresAt"]),
    ("last used", lambda key: key["lastUsedAt"]),
    ("created", lambda key: key["createdAt"]),
    ("updated", lambda key: key["updatedAt"]),
    ("deleted", lambda key: key["deletedAt"]),
]
CLEARABLE = {
    "name": "name",
    "description": "description",
    "ips": "whitelisted_ips",
    "api-version": "api_version",
    "rate-limit": "rate_limit",
}

KeyId = Annotated[str, typer.Argument(help="The key's id (as `keyplane keys list` shows it).")]
Scopes = Annotated[
    list[str] | None, typer.Option("--scope", help="READ, CREATE, UPDATE, DELETE or MANAGE; repeat for more.")
]
Ips = Annotated[
    list[str] | None, typer.Option("--ip", help="An address or CIDR block the key may be used from; repeat.")
]
Limit = Annotated[str | None, typer.Option("--rate-limit", help="At most N requests per S seconds: N/S.")]


def _is_scope(value: str) -> TypeGuard[Scope]:
    return value in get_args(Scope)


def _scopes(values: list[str] | None) -> list[Scope] | None:
    if values is None:
        return None
    wrong = [value for value in values if not _is_scope(value)]
    if wrong:
        fail(USAGE, f"--scope takes {', '.join(get_args(Scope))}, not {wrong[0]!r}")
    return [value for value in values if _is_scope(value)]


def _is_status(value: str) -> TypeGuard[Status]:
    return value in get_args(Status)


def _status(value: str | None) -> Status | None:
    if value is None:
        return None
    if not _is_status(value):
        fail(USAGE, f"--status takes {' or '.join(get_args(Status))}, not {value!r}")
    return value


def _rate_limit(value: str | None) -> RateLimit | None:
    if value is None:
        return None
    limit, slash, duration = value.partition("/")
    if not (slash and limit.isdigit() and duration.isdigit()):
        fail(USAGE, f"--rate-limit takes N/S (requests per seconds), not {value!r}")
    return RateLimit(limit=int(limit), duration=int(duration))


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(USAGE, f"--expires takes an ISO 8601 instant (2027-01-31T00:00:00Z), not {value!r}")
    if moment.tzinfo is None:
        fail(USAGE, "--expires needs a time zone: end it with Z or +hh:mm")
    return moment


def listed(client: Keyplane, status: Status | None, name: str | None, owner: str | None) -> Iterator[Any]:
    """Every key the API lists, as its JSON objects, a page at a time."""
    page: Call[ApiKeyPage] | None = calls.first_page(status=status, name=name, owner_id=owner, page_size=100)
    while page is not None:
        answer = client.send(raw(page))
        yield from answer.raw["data"]
        page = calls.next_page(answer.model)


@keys_app.command("list")
def list_keys(
    status: Annotated[str | None, typer.Option(help="active or inactive (deactivated or deleted).")] = None,
    name: Annotated[str | None, typer.Option(help="Only keys whose name contains this.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only the keys of this user id.")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """List API keys, newest first (never their secrets).

    Example: keyplane keys list --status active --json | jq -r .id
    """
    with connected(url, key, profile) as client:
        output.listing(listed(client, _status(status), name, owner), COLUMNS, as_json)


@keys_app.command("show")
def show(
    key_id: KeyId,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one API key (never its secret).

    Example: keyplane keys show 0b6f...c2 --json
    """
    with connected(url, key, profile) as client:
        output.shown(client.send(raw(calls.get(key_id))).raw, FIELDS, as_json)


@keys_app.command("create")
def create(
    name: Annotated[str | None, typer.Option(help="A name to know the key by.")] = None,
    scopes: Scopes = None,
    owner: Annotated[str | None, typer.Option(help="The user id the key acts for (default: yours).")] = None,
    description: Annotated[str | None, typer.Option(help="A longer description.")] = None,
    ips: Ips = None,
    api_version: Annotated[
        str | None, typer.Option(help="Pin the key to an API version (YYYY-MM-DD).")
    ] = None,
    expires: Annotated[str | None, typer.Option(help="When it stops working (2027-01-31T00:00:00Z).")] = None,
    rate_limit: Limit = None,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key and print its secret, this once.

    Without --json the key's details go to stderr and the secret alone to stdout.

    Example: keyplane keys create --name billing --scope READ --ip 10.0.0.0/8 --rate-limit 100/60
    """
    call = calls.create(
        name=name,
        scopes=_scopes(scopes),
        owner_id=owner,
        description=description,
        whitelisted_ips=ips,
        api_version=api_version,
        expires_at=_instant(expires),
        rate_limit=_rate_limit(rate_limit),
    )
    with connected(url, key, profile) as client:
        created = client.send(raw(call))
    if as_json:
        emit_json(created.raw)
        return
    output.record(created.raw, FIELDS, on=output.stderr)
    output.stderr.print("[yellow]The secret is shown this once: store it now.[/]")
    typer.echo(created.raw["key"])


@keys_app.command("update")
def update(
    key_id: KeyId,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    description: Annotated[str | None, typer.Option(help="A new description.")] = None,
    scopes: Scopes = None,
    ips: Ips = None,
    api_version: Annotated[str | None, typer.Option(help="A new API version (YYYY-MM-DD).")] = None,
    status: Annotated[str | None, typer.Option(help="active or inactive.")] = None,
    rate_limit: Limit = None,
    clear: Annotated[
        list[str] | None,
        typer.Option(help=f"Remove a field: {', '.join(CLEARABLE)}; repeat for more."),
    ] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change the fields given; the others stay as they are.

    Example: keyplane keys update 0b6f...c2 --name billing-v2 --clear ips
    """
    given: dict[str, Any] = {
        "name": name,
        "description": description,
        "scopes": _scopes(scopes),
        "whitelisted_ips": ips,
        "api_version": api_version,
        "status": _status(status),
        "rate_limit": _rate_limit(rate_limit),
    }
    changes = {field: value for field, value in given.items() if value is not None}
    for option in clear or []:
        if option not in CLEARABLE:
            fail(USAGE, f"--clear takes one of {', '.join(CLEARABLE)}, not {option!r}")
        if CLEARABLE[option] in changes:
            fail(USAGE, f"--clear {option} and a new value for it at once")
        changes[CLEARABLE[option]] = None
    if not changes:
        fail(USAGE, "nothing to change: give at least one option (see --help)")
    with connected(url, key, profile) as client:
        output.shown(client.send(raw(calls.update(key_id, changes))).raw, FIELDS, as_json)


@keys_app.command("deactivate")
def deactivate(
    key_id: KeyId,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Deactivate an API key: it verifies as INACTIVE until updated back to --status active.

    Example: keyplane keys deactivate 0b6f...c2
    """
    with connected(url, key, profile) as client:
        output.shown(client.send(raw(calls.update(key_id, {"status": "inactive"}))).raw, FIELDS, as_json)


@keys_app.command("delete")
def delete(
    key_id: KeyId,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
) -> None:
    """Revoke an API key for good (it verifies as REVOKED; this cannot be undone).

    Example: keyplane keys delete 0b6f...c2 --yes
    """
    if not yes:
        typer.confirm(f"Revoke key {key_id} for good?", abort=True, err=True)
    with connected(url, key, profile) as client:
        client.send(calls.delete(key_id))
    output.stderr.print(f"Key {key_id} revoked.")


@keys_app.command("verify")
def verify(
    secret: Annotated[str, typer.Argument(metavar="KEY", help="The key to check; - reads it from stdin.")],
    ip: Annotated[str | None, typer.Option(help="The address it was presented from.")] = None,
    scopes: Annotated[
        list[str] | None, typer.Option("--scope", help="A scope it must hold; repeat for more.")
    ] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a key one of your customers presented: exit 0 when valid, 1 when not, with its code.

    Example: keyplane keys verify - --ip 10.1.2.3 --scope READ < presented-key.txt
    """
    if secret == "-":
        secret = sys.stdin.readline().strip()
    with connected(url, key, profile) as client:
        answer = client.send(raw(calls.verify(secret, ip, _scopes(scopes))))
    if as_json:
        emit_json(answer.raw)
    else:
        typer.echo(f"{answer.model.code}: {answer.model.detail}")
    if not answer.model.valid:
        raise typer.Exit(REFUSED)
