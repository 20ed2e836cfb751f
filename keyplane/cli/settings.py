"""``keyplane config show``: the settings in effect, secrets masked."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import typer

from keyplane.config import Settings, get_settings

MASK = "********"
_SECRET_PARAMETERS = frozenset({"password", "pass", "passwd", "sslpassword"})

config_app = typer.Typer(help="Settings commands.", no_args_is_help=True)


def masked_url(url: str) -> str:
    """``url`` with its password (in the user part, or a ``password`` parameter) masked."""
    if not url:
        return url
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    netloc = f"{user}:{MASK}@{hostport}" if at and colon and password else parts.netloc
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(k.lower() in _SECRET_PARAMETERS for k, _ in pairs):
        query = urlencode([(k, MASK if k.lower() in _SECRET_PARAMETERS else v) for k, v in pairs], safe="*/")
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing to mask: as given (urlunsplit would drop an empty authority's //)
    # A database URL always has an authority, even an empty one (sqlite:////abs.db, postgresql:///db).
    masked = f"{parts.scheme}://{netloc}{parts.path}"
    return masked + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def masked(settings: Settings) -> dict[str, Any]:
    """Every setting as JSON values, with the server secrets and the URLs' passwords masked."""
    values = settings.model_dump(mode="json")
    values["secret_key"] = MASK if settings.secret_key else ""
    values["secret_key_previous"] = [MASK for _ in settings.secret_key_previous]
    values["database_url"] = masked_url(settings.database_url)
    values["redis_url"] = masked_url(settings.redis_url)
    return values


@config_app.command("show")
def show(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the settings in effect (environment, then .env, then KEYPLANE_CONFIG's TOML file,
    then defaults), secrets masked; the output without --json is a valid TOML file.

    Example: keyplane config show --json
    """
    values = masked(get_settings())
    if as_json:
        typer.echo(json.dumps(values, indent=2))
        return
    for name, value in values.items():
        if value is None:
            typer.echo(f"# {name} is unset")
        else:
            typer.echo(f"{name} = {json.dumps(value)}")
