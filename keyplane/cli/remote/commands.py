"""The remote commands, which act on a Keyplane server through its API with the Python client
(``keyplane_client``), and ``login``/``logout``, which save and forget where and as whom."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from keyplane_client import Keyplane

from keyplane.cli.remote import output, profiles
from keyplane.cli.remote.events import events_app
from keyplane.cli.remote.keys import keys_app
from keyplane.cli.remote.licenses import licenses_app
from keyplane.cli.remote.pool import pool_app
from keyplane.cli.remote.session import USAGE, fail, resolve, talking
from keyplane.cli.settings import masked_url

remote_app = typer.Typer()
remote_app.add_typer(keys_app, name="keys")
remote_app.add_typer(licenses_app, name="licenses")
remote_app.add_typer(pool_app, name="pool")
remote_app.add_typer(events_app, name="events")

ProfileName = Annotated[str, typer.Option("--profile", help="The profile's name.")]


@remote_app.command()
def login(
    url: Annotated[
        str | None, typer.Option("--url", help="Keyplane's address (asked when not given).")
    ] = None,
    profile: ProfileName = profiles.DEFAULT,
) -> None:
    """Save Keyplane's address and an API key as a profile, once a call with the key succeeds.

    The key is asked without echo (or read from stdin's first line when it is not a
    terminal) and written to ~/.config/keyplane/profiles.toml, readable by you only.

    Example: keyplane login --url https://keys.example.com --profile prod
    """
    try:
        name = profiles.check_name(profile)
        saved = profiles.read_all().get(name)
    except profiles.ProfileError as error:
        fail(USAGE, str(error))
    if url is None:
        url = typer.prompt("Keyplane URL", default=saved.url if saved else "http://127.0.0.1:8000", err=True)
    if sys.stdin.isatty():
        api_key = typer.prompt("API key", hide_input=True, err=True)
    else:
        api_key = sys.stdin.readline().strip()
    if not api_key:
        fail(USAGE, "no API key given")
    target = resolve(url, api_key, None)
    # One read proves the address is Keyplane's and the key works there.
    with talking(target.url), Keyplane(target.url, target.api_key) as client:
        next(iter(client.api_keys.list(page_size=1)), None)
    where = profiles.save(name, profiles.Profile(url=target.url, api_key=target.api_key))
    output.stderr.print(f"Logged in to {masked_url(target.url)} as profile {name!r} (saved in {where}).")


@remote_app.command()
def logout(profile: ProfileName = profiles.DEFAULT) -> None:
    """Forget a saved profile (its key stays valid: revoke it with `keyplane keys delete`).

    Example: keyplane logout --profile prod
    """
    try:
        removed = profiles.remove(profile)
    except profiles.ProfileError as error:
        fail(USAGE, str(error))
    output.stderr.print(
        f"Profile {profile!r} forgotten." if removed else f"No profile {profile!r} to forget."
    )
