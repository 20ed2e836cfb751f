"""Output of the remote commands: rich tables on stdout, or with ``--json`` the API's own
objects, one a line (``session.emit_json``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from keyplane.cli.remote.session import emit_json

Column = tuple[str, Callable[[Any], object]]
"""A header and how to read its cell from one of the API's objects."""

# Piped or redirected, a table is as wide as its rows (up to 200 columns), not 80.
stdout = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True)


def cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{name}={item}" for name, item in value.items()) or "-"
    return str(value)


def table(objects: Iterable[Any], columns: Sequence[Column]) -> int:
    """One row per object; how many there were."""
    shown = Table(show_lines=False, highlight=False)
    for position, (header, _) in enumerate(columns):
        # The first column is the id a next command takes: always whole, never folded.
        shown.add_column(header, no_wrap=position == 0, min_width=36 if position == 0 else None)
    count = 0
    for item in objects:
        shown.add_row(*(cell(read(item)) for _, read in columns))
        count += 1
    if count:
        stdout.print(shown)
    else:
        stderr.print("Nothing to list.")
    return count


def record(item: Any, fields: Sequence[Column], *, on: Console = stdout) -> None:
    """One object: a field a line."""
    shown = Table(show_header=False, box=None, highlight=False)
    shown.add_column(style="bold")
    shown.add_column()
    for label, read in fields:
        shown.add_row(label, cell(read(item)))
    on.print(shown)


def listing(objects: Iterable[Any], columns: Sequence[Column], as_json: bool) -> None:
    """Objects as a table, or (``--json``) as JSON lines, streamed as their pages come."""
    if as_json:
        for item in objects:
            emit_json(item)
    else:
        table(objects, columns)


def shown(item: Any, fields: Sequence[Column], as_json: bool) -> None:
    """One object, a field a line, or (``--json``) as the API's object."""
    if as_json:
        emit_json(item)
    else:
        record(item, fields)
