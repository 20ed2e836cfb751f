"""``keyplane licenses ...``: find, issue, suspend, reinstate, renew and revoke licenses,
through the API. A license is named by its id, its key or its owner's email."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, TypeGuard, get_args

import typer
from keyplane_client import Keyplane, LicenseStatus
from keyplane_client import _licenses as calls
from keyplane_client._calls import Call, Page
from keyplane_client.licensing import License

from keyplane.cli.remote import output
from keyplane.cli.remote.session import (
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

licenses_app = typer.Typer(help="Manage licenses (list, show, create, suspend, reinstate, renew, revoke).")


def _attributes(license: Any) -> Any:
    return license["attributes"]


def _related(name: str) -> Any:
    def read(license: Any) -> Any:
        data = license["relationships"].get(name, {}).get("data")
        return data["id"] if data else None

    return read


def preview(key: str) -> str:
    """A license key's first characters: enough to tell keys apart, not to use one."""
    return key[:8] + "…" if len(key) > 8 else key


COLUMNS: list[output.Column] = [
    ("ID", lambda license: license["id"]),
    ("KEY", lambda license: preview(_attributes(license)["key"])),
    ("NAME", lambda license: _attributes(license)["name"]),
    ("STATUS", lambda license: _attributes(license)["status"]),
    ("EXPIRY", lambda license: _attributes(license)["expiry"]),
    ("POLICY", _related("policy")),
    ("OWNER", _related("owner")),
]
FIELDS: list[output.Column] = [
    ("id", lambda license: license["id"]),
    ("key", lambda license: preview(_attributes(license)["key"])),
    ("name", lambda license: _attributes(license)["name"]),
    ("status", lambda license: _attributes(license)["status"]),
    ("expiry", lambda license: _attributes(license)["expiry"]),
    ("uses", lambda license: _attributes(license)["uses"]),
    ("metadata", lambda license: _attributes(license)["metadata"]),
    ("product", _related("product")),
    ("policy", _related("policy")),
    ("owner", _related("owner")),
    ("created", lambda license: _attributes(license)["created"]),
    ("updated", lambda license: _attributes(license)["updated"]),
]

LicenseArgument = Annotated[
    str, typer.Argument(metavar="LICENSE", help="The license's id, its key, or its owner's email.")
]


def _is_status(value: str) -> TypeGuard[LicenseStatus]:
    return value in get_args(LicenseStatus)


def _status(value: str | None) -> LicenseStatus | None:
    if value is None:
        return None
    upper = value.upper()
    if not _is_status(upper):
        fail(USAGE, f"--status takes {', '.join(get_args(LicenseStatus))}, not {value!r}")
    return upper


def pages(client: Keyplane, first: Call[Page[License]]) -> Iterator[Any]:
    """Every license of a list, as the API's JSON objects, a page at a time."""
    call: Call[Page[License]] | None = first
    while call is not None:
        answer = client.send(raw(call))
        yield from answer.raw["data"]
        call = answer.model.next


def found(client: Keyplane, named: str) -> list[Any]:
    """The licenses ``named`` names: the one with this id or key, or its owner's (an email)."""
    if "@" in named:
        return list(
            pages(client, calls.first_page(status=None, policy=None, product=None, user=named, page_size=100))
        )
    return [client.send(raw(calls.get(named))).raw["data"]]


def one(client: Keyplane, named: str) -> str:
    """The id of the one license ``named`` names; an owner's email must own exactly one."""
    if "@" not in named:
        return named
    owned = found(client, named)
    if len(owned) != 1:
        fail(USAGE, f"{named} owns {len(owned)} licenses: name one by its id or key")
    return str(owned[0]["id"])


@licenses_app.command("list")
def list_licenses(
    status: Annotated[
        str | None, typer.Option(help="ACTIVE, INACTIVE, EXPIRING, EXPIRED, SUSPENDED, BANNED.")
    ] = None,
    policy: Annotated[str | None, typer.Option(help="Only this policy's licenses (its id).")] = None,
    product: Annotated[str | None, typer.Option(help="Only this product's licenses (its id).")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this user's licenses (id or email).")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """List licenses, newest first.

    Example: keyplane licenses list --owner ada@example.com --status ACTIVE
    """
    first = calls.first_page(
        status=_status(status), policy=policy, product=product, user=owner, page_size=100
    )
    with connected(url, key, profile) as client:
        output.listing(pages(client, first), COLUMNS, as_json)


@licenses_app.command("show")
def show(
    named: LicenseArgument,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a license by id or key, or every license of an owner (by email).

    Example: keyplane licenses show ABCD12-EF34GH-...   or   keyplane licenses show ada@example.com
    """
    with connected(url, key, profile) as client:
        licenses = found(client, named)
    if "@" not in named:
        output.shown(licenses[0], FIELDS, as_json)
    else:
        output.listing(licenses, COLUMNS, as_json)


@licenses_app.command("create")
def create(
    policy: Annotated[str, typer.Option(help="The policy the license is issued under (its id).")],
    owner: Annotated[str | None, typer.Option(help="The user who owns it (their id).")] = None,
    name: Annotated[str | None, typer.Option(help="A name for the license.")] = None,
    expiry: Annotated[str | None, typer.Option(help="When it expires (2027-01-31T00:00:00Z).")] = None,
    metadata: Annotated[
        list[str] | None, typer.Option("--metadata", help="NAME=VALUE, a string; repeat for more.")
    ] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a license under a policy and print its key (alone on stdout without --json).

    Example: keyplane licenses create --policy 9f1c...e2 --owner 51a0...7d --metadata seats=5
    """
    call = calls.create(
        policy=policy, user=owner, name=name, expiry=_instant(expiry), metadata=_metadata(metadata)
    )
    with connected(url, key, profile) as client:
        made = client.send(raw(call)).raw["data"]
    if as_json:
        emit_json(made)
        return
    output.record(made, FIELDS, on=output.stderr)
    typer.echo(_attributes(made)["key"])


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(USAGE, f"--expiry takes an ISO 8601 instant (2027-01-31T00:00:00Z), not {value!r}")
    if moment.tzinfo is None:
        fail(USAGE, "--expiry needs a time zone: end it with Z or +hh:mm")
    return moment


def _metadata(pairs: list[str] | None) -> dict[str, Any] | None:
    if not pairs:
        return None
    parsed: dict[str, Any] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            fail(USAGE, f"--metadata takes NAME=VALUE, not {pair!r}")
        parsed[name] = value
    return parsed


def _action(
    name: str, named: str, url: str | None, key: str | None, profile: str | None, as_json: bool
) -> None:
    with connected(url, key, profile) as client:
        output.shown(client.send(raw(calls.action(one(client, named), name))).raw["data"], FIELDS, as_json)


@licenses_app.command("suspend")
def suspend(
    named: LicenseArgument,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Suspend a license: it validates as SUSPENDED until reinstated.

    Example: keyplane licenses suspend ada@example.com
    """
    _action("suspend", named, url, key, profile, as_json)


@licenses_app.command("reinstate")
def reinstate(
    named: LicenseArgument,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reinstate a suspended license.

    Example: keyplane licenses reinstate 3c9e...41
    """
    _action("reinstate", named, url, key, profile, as_json)


@licenses_app.command("renew")
def renew(
    named: LicenseArgument,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Renew a license: its expiry moves on by its policy's duration.

    Example: keyplane licenses renew 3c9e...41 --json
    """
    _action("renew", named, url, key, profile, as_json)


@licenses_app.command("revoke")
def revoke(
    named: LicenseArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
) -> None:
    """Revoke a license for good: it is deleted, with its machines.

    Example: keyplane licenses revoke 3c9e...41 --yes
    """
    with connected(url, key, profile) as client:
        license_id = one(client, named)
        if not yes:
            typer.confirm(f"Revoke license {license_id} for good?", abort=True, err=True)
        client.send(calls.revoke(license_id))
    output.stderr.print(f"License {license_id} revoked.")
