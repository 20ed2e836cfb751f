"""What every remote command shares: where Keyplane is and which key to act with, the client
made from them, and how an answer or a failure becomes output and an exit status.

Exit statuses: 0 done, 1 refused (the API's code and message on one line), 2 a usage error
(typer's own, or no Keyplane to talk to), 3 Keyplane unreachable (no connection, a timeout, a
503 or a proxy's 502/504, or an answer that is not Keyplane's). Never a traceback, and never
the API key in any output.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, NoReturn, TypeVar

import httpx
import pydantic
import typer

# The CLI prints exactly what the API answered (``--json``), including fields this client
# version does not model, so it sends the client's own calls (``_calls.Call``, built by the
# ``_api_keys``-style modules) with a reader that keeps the raw JSON beside the typed model.
from keyplane_client import Keyplane, KeyplaneError, Unavailable, Unreachable
from keyplane_client._calls import Call

from keyplane.cli.remote import profiles
from keyplane.cli.settings import masked_url

T = TypeVar("T")

REFUSED = 1
USAGE = 2
UNREACHABLE = 3

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="Keyplane's address (else KEYPLANE_URL, else the profile's).", show_default=False
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        help="The API key to act with (else KEYPLANE_API_KEY, else the profile's). Prefer those two:"
        " a key on the command line lands in the shell's history.",
        show_default=False,
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile", help="A profile saved by `keyplane login` (else KEYPLANE_PROFILE, else default)."
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the API's objects as JSON (a list: one object a line).")
]


def fail(status: int, line: str) -> NoReturn:
    """Stop the command with ``status``, saying why in one line on stderr."""
    typer.echo(f"error: {line}", err=True)
    raise typer.Exit(status)


@dataclass(frozen=True)
class Target:
    """A Keyplane server and the API key to act on it with."""

    url: str
    api_key: str = field(repr=False)


def _checked_url(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        fail(USAGE, f"{masked_url(url)!r} is not an http:// or https:// address")
    return url.rstrip("/")


def resolve(url: str | None, key: str | None, profile: str | None) -> Target:
    """The target from ``--url``/``--key``, else KEYPLANE_URL/KEYPLANE_API_KEY, else a saved
    profile. ``--profile`` names one explicitly and then wins over the environment. A saved
    key is only ever sent to its own profile's address."""
    named = profile is not None
    if not named:
        url = url or os.environ.get("KEYPLANE_URL") or None
        key = key or os.environ.get("KEYPLANE_API_KEY") or None
    name = profile or os.environ.get("KEYPLANE_PROFILE") or profiles.DEFAULT
    if url is None or key is None:
        try:
            saved = profiles.read_all().get(profiles.check_name(name))
        except profiles.ProfileError as error:
            fail(USAGE, str(error))
        if saved is None and named:
            fail(USAGE, f"no profile {name!r}: save one with `keyplane login --profile {name}`")
        if saved is not None:
            url = url or saved.url
            if key is None and url.rstrip("/") == saved.url.rstrip("/"):
                key = saved.api_key
    if url is None:
        fail(USAGE, "no Keyplane to talk to: give --url, set KEYPLANE_URL, or run `keyplane login`")
    if key is None:
        fail(USAGE, "no API key: give --key, set KEYPLANE_API_KEY, or run `keyplane login`")
    return Target(url=_checked_url(url), api_key=key)


@contextmanager
def connected(url: str | None, key: str | None, profile: str | None) -> Iterator[Keyplane]:
    """A client of the resolved target; any failure inside becomes its one line and status."""
    target = resolve(url, key, profile)
    with talking(target.url), Keyplane(target.url, target.api_key) as client:
        yield client


@contextmanager
def talking(url: str) -> Iterator[None]:
    """Turn the client's failures into one line on stderr and the exit status they mean."""
    try:
        yield
    except Unreachable as error:
        # Not the client's message: it names the call's path, which may hold a license key.
        why = type(error.__cause__).__name__ if error.__cause__ is not None else error.code
        fail(UNREACHABLE, f"Keyplane at {masked_url(url)} is unreachable ({why})")
    except Unavailable as error:
        fail(UNREACHABLE, f"Keyplane at {masked_url(url)} is unreachable: {error}")
    except KeyplaneError as error:
        if error.status in (502, 504):
            fail(UNREACHABLE, f"Keyplane at {masked_url(url)} is unreachable: {error}")
        fail(REFUSED, str(error))
    except BrokenPipeError:
        # The reader has gone (`keyplane keys list --json | head -1`): stop quietly, as a
        # pipeline expects, with stdout pointed where the interpreter's last flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except (pydantic.ValidationError, json.JSONDecodeError):
        fail(UNREACHABLE, f"{masked_url(url)} did not answer as Keyplane does (is it Keyplane's address?)")


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A call's result as the client reads it, and the API's JSON as it came."""

    model: T
    raw: Any


def raw(call: Call[T]) -> Call[Answer[T]]:
    """``call``, read both ways: typed (for paging and tables) and as the API's own JSON."""

    def read(response: httpx.Response) -> Answer[T]:
        return Answer(call.read(response), response.json() if response.content else None)

    return Call(call.method, call.path, read, body=call.body, params=call.params, safe=call.safe)


def emit_json(document: Any) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False))
