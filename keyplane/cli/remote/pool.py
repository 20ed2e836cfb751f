"""``keyplane pool import POLICY FILE``: fill a pooled policy's pool from a file, through the
API, batch by batch.

The file is read as it is sent (its size never matters), one key a line or one CSV column
(``--column``). Each batch is one request (``client.pool.import_keys``) and one transaction;
every line it does not add is reported by its line number (never its value: a license key
does not belong in a terminal's scrollback): present (already in this pool: running the same
import again adds nothing) or refused (with Keyplane's code and reason).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated

import typer
from keyplane_client import Keyplane
from keyplane_client.licensing import Refused
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

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
)

pool_app = typer.Typer(help="A pooled policy's pool of keys (import).")

BATCH = 1_000
"""Keys a request: the most Keyplane takes in one."""


@dataclass
class Tally:
    """What the import did so far, and the run of present lines not yet reported (reported
    as one range, so a second run of a large file says so in one line, not one a key)."""

    added: int = 0
    present: int = 0
    refused: int = 0
    run_start: int | None = None
    run_end: int = 0


@dataclass(frozen=True)
class Line:
    number: int
    key: str
    size: int
    """Bytes of the file it took (the progress bar counts bytes: the file is never counted
    ahead of time)."""


def _counted(file: IO[str]) -> Iterator[tuple[str, int]]:
    for text in file:
        yield text, len(text.encode())


def plain_lines(file: IO[str]) -> Iterator[Line]:
    """One key a line, spaces around it dropped (a blank line: an empty key, skipped)."""
    for number, (text, size) in enumerate(_counted(file), start=1):
        yield Line(number, text.strip(), size)


def csv_lines(file: IO[str], column: str) -> Iterator[Line]:
    """The ``column`` (a header's name) of each CSV row; the header is read at once, so a
    missing column is said before anything is sent."""
    sizes: list[int] = []

    def counting() -> Iterator[str]:
        for text, size in _counted(file):
            sizes.append(size)
            yield text

    rows = csv.reader(counting())
    header = next(rows, None)
    if header is None or column not in header:
        fail(USAGE, f"the file's first row has no column {column!r}")
    index = header.index(column)
    first = sum(sizes)
    sizes.clear()

    def keys() -> Iterator[Line]:
        yield Line(rows.line_num, "", first)  # the header: counted as read, no key
        for row in rows:
            size = sum(sizes)
            sizes.clear()
            yield Line(rows.line_num, row[index].strip() if index < len(row) else "", size)

    return keys()


def batches(lines: Iterable[Line], size: int) -> Iterator[list[Line]]:
    part: list[Line] = []
    for line in lines:
        part.append(line)
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part


def _close_run(tally: Tally, as_json: bool, say: Progress) -> None:
    if tally.run_start is None:
        return
    first, last = tally.run_start, tally.run_end
    if not as_json:
        lines = f"line {first}" if first == last else f"lines {first}-{last}"
        say.console.print(f"{lines}: already in the pool", highlight=False)
    tally.run_start = None


def _present(number: int, tally: Tally, as_json: bool, say: Progress) -> None:
    tally.present += 1
    if as_json:
        emit_json({"line": number, "result": "present"})
        return
    if tally.run_start is not None and tally.run_end < number - 1:
        _close_run(tally, as_json, say)
    if tally.run_start is None:
        tally.run_start = number
    tally.run_end = number


def _refused(number: int, refusal: Refused, tally: Tally, as_json: bool, say: Progress) -> None:
    _close_run(tally, as_json, say)
    tally.refused += 1
    if as_json:
        emit_json({"line": number, "result": "refused", "code": refusal.code, "detail": refusal.detail})
    else:
        say.console.print(f"line {number}: [red]{refusal.code}[/]: {refusal.detail}", highlight=False)


def send(client: Keyplane, policy: str, part: list[Line], tally: Tally, as_json: bool, say: Progress) -> None:
    """One batch: its keys imported, its lines reported in the file's order."""
    keys = [line for line in part if line.key]
    report = client.pool.import_keys(policy, [line.key for line in keys], batch=BATCH)
    tally.added += report.added
    # The report's lines count from 1 within this batch's keys.
    outcomes: dict[int, Refused | None] = dict.fromkeys(report.present)
    outcomes.update((refusal.line, refusal) for refusal in report.refused)
    for position, refusal in sorted(outcomes.items()):
        number = keys[position - 1].number
        if refusal is None:
            _present(number, tally, as_json, say)
        else:
            _refused(number, refusal, tally, as_json, say)


@pool_app.command("import")
def import_keys(
    policy: Annotated[str, typer.Argument(help="The pooled policy's id.")],
    file: Annotated[str, typer.Argument(metavar="FILE", help="One key a line, or a CSV file; - for stdin.")],
    column: Annotated[
        str | None, typer.Option(help="Read the keys from this CSV column (named in the first row).")
    ] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add the file's keys to a pooled policy's pool, 1,000 a request, with a progress bar.

    Lines already in the pool are reported as present and left alone, so running the same
    import again is safe; refused lines are reported with their code. Exit 1 when any line
    was refused. --json: one object a reported line, then a summary.

    Example: keyplane pool import 9f1c...e2 keys.csv --column license_key
    """
    try:
        stream = sys.stdin if file == "-" else Path(file).open(encoding="utf-8", newline="")  # noqa: SIM115
        total = None if file == "-" else Path(file).stat().st_size
    except OSError as error:
        fail(USAGE, f"cannot read {file}: {error.strerror}")
    columns = (TextColumn("importing"), BarColumn(), DownloadColumn(), TimeElapsedColumn())
    tally = Tally()
    with stream:
        try:
            lines = csv_lines(stream, column) if column is not None else plain_lines(stream)
            with (
                connected(url, key, profile) as client,
                Progress(
                    *columns, console=output.stderr, transient=True, disable=not output.stderr.is_terminal
                ) as say,
            ):
                task = say.add_task("import", total=total)
                for part in batches(lines, BATCH):
                    send(client, policy, part, tally, as_json, say)
                    say.advance(task, sum(line.size for line in part))
                _close_run(tally, as_json, say)
        except UnicodeDecodeError:
            fail(USAGE, f"{file} is not UTF-8 text")
    summary = {"added": tally.added, "present": tally.present, "refused": tally.refused}
    if as_json:
        emit_json(summary)
    else:
        output.stderr.print(
            f"{tally.added:,} added, {tally.present:,} already in the pool, {tally.refused:,} refused.",
            highlight=False,
        )
    if tally.refused:
        raise typer.Exit(REFUSED)
