"""``keyplane events tail``: the account's newest events, and with ``--follow`` those that
come after them, through the API."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from keyplane_client import Keyplane
from keyplane_client import _events as calls
from keyplane_client._calls import Call, Page
from keyplane_client.licensing import Event

from keyplane.cli.remote.session import (
    JsonOption,
    KeyOption,
    ProfileOption,
    UrlOption,
    connected,
    emit_json,
    raw,
)
from keyplane.kit.timefmt import iso

events_app = typer.Typer(help="The account's event log (tail).")

REMEMBERED = 1_000
"""Event ids remembered while following, to tell the new ones from those already printed."""


def newest(client: Keyplane, event: str | None) -> Iterator[tuple[Event, Any]]:
    """The account's events, newest first, each typed and as the API's JSON object."""
    call: Call[Page[Event]] | None = calls.first_page(
        event=event,
        resource_type=None,
        resource_id=None,
        whodunnit_type=None,
        whodunnit_id=None,
        start=None,
        end=None,
        page_size=100,
    )
    while call is not None:
        answer = client.send(raw(call))
        yield from zip(answer.model.items, answer.raw["data"], strict=True)
        call = answer.model.next


def line(event: Event) -> str:
    """One event as a line: when, what, to which record, by whom."""
    who = "system" if event.whodunnit_type is None else f"{event.whodunnit_type}/{event.whodunnit_id}"
    return f"{iso(event.created)}  {event.event}  {event.resource_type}/{event.resource_id}  by {who}"


def _print(events: list[tuple[Event, Any]], as_json: bool) -> None:
    for event, document in events:
        if as_json:
            emit_json(document)
        else:
            typer.echo(line(event))


@events_app.command("tail")
def tail(
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=1, max=1000, help="How many of the newest.")
    ] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")
    ] = False,
    event: Annotated[str | None, typer.Option(help="Only this event (license.created, ...).")] = None,
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between polls with --follow.")] = 2.0,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the newest events, oldest of them first (one a line; --json: the API's objects).

    Example: keyplane events tail -n 50 --follow --event license.created
    """
    with connected(url, key, profile) as client:
        shown = [pair for _, pair in zip(range(lines), newest(client, event), strict=False)]
        _print(shown[::-1], as_json)
        if not follow:
            return
        seen = deque((found.id for found, _ in shown), maxlen=REMEMBERED)
        try:
            while True:
                time.sleep(interval)
                fresh: list[tuple[Event, Any]] = []
                for pair in newest(client, event):
                    if pair[0].id in seen or len(fresh) == REMEMBERED:
                        break
                    fresh.append(pair)
                seen.extend(found.id for found, _ in reversed(fresh))
                _print(fresh[::-1], as_json)
        except KeyboardInterrupt:
            return
