"""The results log, ``bench/results.jsonl``: one JSON object a line, one line a run, appended by
``python -m bench`` and ``python -m bench.soak`` at the end of every run (``--no-log`` leaves it
out). ``python -m bench.results [--last N]`` prints the last entries as tables.

An entry holds: ``date`` (UTC), ``commit`` (``git rev-parse --short HEAD``, ``-dirty`` when
the tree has changes other than this log), ``benchmark``, ``command``, ``machine`` (what the
run printed about it), ``database``, ``rows`` (per row: name, key, stored keys, requests/s,
p50, p99, the paired floor's requests/s, the share of it, errors, the goal and whether it
was met; validate-key's also what the webhook receiver got of it, ``webhooks``) and
``comparisons`` (per comparison goal of bench/goals.py: its figure, the goal and whether it
was met); optionally a ``note``. Entries moved from bench/README.md's dated
sections (``"legacy": true``) keep their tables as text (``tables``) and their prose
(``note``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.common import Machine
from bench.goals import Comparison, Figures

LOG = Path(__file__).with_name("results.jsonl")
ROOT = Path(__file__).resolve().parent.parent

Entry = dict[str, Any]


def now() -> str:
    """The current UTC time as the log writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def commit(root: Path = ROOT, log: Path = LOG) -> str | None:
    """The checked-out commit, ``-dirty`` when the tree has changes other than ``log``; None
    outside a git checkout."""

    git_path = shutil.which("git")
    if git_path is None:
        return None

    def git(*args: str) -> str:
        return subprocess.run(
            [git_path, *args], cwd=root, capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        top = Path(git("rev-parse", "--show-toplevel")).resolve()
        try:
            excluded = [f":(top,exclude){log.resolve().relative_to(top)}"]
        except ValueError:  # the log is elsewhere: every change counts
            excluded = []
        changes = git("status", "--porcelain", "--", ":/", *excluded)
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if changes else head


def command(program: str, argv: Sequence[str] | None) -> str:
    """The command line as typed: ``python -m bench --seconds 6``."""
    return " ".join(["python -m", program, *([shlex.quote(arg) for arg in argv] if argv else [])])


def machine_entry(machine: Machine, loop_ms_end: float | None = None, stolen: float | None = None) -> Entry:
    """The machine facts, plus the loop timing and the share stolen over the run, at its end."""
    facts = asdict(machine)
    facts["loop_ms"] = [round(ms, 1) for ms in machine.loop_ms]
    facts["stolen_since_boot"] = _rounded(machine.stolen_since_boot, 4)
    return facts | {"loop_ms_end": _rounded(loop_ms_end, 1), "stolen_during_run": _rounded(stolen, 4)}


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def row_entry(
    name: str,
    key: str,
    stored: int | None,
    figures: Figures,
    p50_ms: float,
    goal: str | None,
    met: bool | None,
    webhooks: Mapping[str, float] | None = None,
) -> Entry:
    """A row; ``webhooks`` (what the endpoint subscribed to ``*`` received of it) only when
    the row recorded events."""
    entry: Entry = {
        "name": name,
        "key": key,
        "stored": stored,
        "rps": round(figures.rps, 1),
        "p50_ms": round(p50_ms, 3),
        "p99_ms": round(figures.p99_ms, 3),
        "floor_rps": None if figures.floor is None else round(figures.floor, 1),
        "share": None if figures.share is None else round(figures.share, 4),
        "errors": figures.errors,
        "problem": figures.problem or None,
        "goal": goal,
        "met": met,
    }
    if webhooks is not None:
        entry["webhooks"] = dict(webhooks)
    return entry


def comparison_entry(comparison: Comparison, figure: float | None, met: bool | None, note: str = "") -> Entry:
    return {
        "name": comparison.name,
        "of": comparison.of,
        "against": comparison.against,
        "figure": None if figure is None else round(figure, 4),
        "goal": comparison.describe(),
        "met": met,
        "note": note or None,
    }


def entry(
    *,
    benchmark: str,
    command: str,
    machine: Entry,
    database: str,
    rows: Sequence[Entry],
    comparisons: Sequence[Entry] = (),
    date: str | None = None,
    commit: str | None = None,
    note: str | None = None,
) -> Entry:
    """One run's line of the log."""
    made: Entry = {
        "date": date or now(),
        "commit": commit,
        "benchmark": benchmark,
        "command": command,
        "machine": machine,
        "database": database,
        "rows": list(rows),
        "comparisons": list(comparisons),
    }
    if note:
        made["note"] = note
    return made


def append(made: Mapping[str, Any], path: Path = LOG) -> None:
    """Add one entry at the end of the log (created if missing)."""
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(made, ensure_ascii=False) + "\n")


def read(path: Path = LOG) -> list[Entry]:
    """Every entry, oldest first."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _number(value: object, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _yes(value: object) -> str:
    return "-" if value is None else "[green]yes[/]" if value else "[red]no[/]"


def show(made: Mapping[str, Any], console: Console) -> None:
    """Print one entry: its header, its rows' table, its comparisons, its note, and (an entry
    moved from the README) its tables as they were written, numbered as its note cites them."""
    where = made.get("database") or ""
    head = ", ".join(str(part) for part in (made.get("date"), made.get("commit"), where) if part)
    console.rule(escape(head))
    if made.get("title"):
        console.print(escape(str(made["title"])))
    if made.get("command"):
        console.print(escape(str(made["command"])))
    machine = made.get("machine")
    if isinstance(machine, Mapping) and machine:
        facts = [f"{machine.get('nproc')} cores, {machine.get('cpu')}"]
        if machine.get("loop_ms"):
            loops = "/".join(f"{ms:.0f}" for ms in machine["loop_ms"])
            facts.append(f"Python loop {loops} ms at the start")
        if machine.get("loop_ms_end") is not None:
            facts.append(f"{machine['loop_ms_end']:.0f} ms at the end")
        if machine.get("stolen_during_run") is not None:
            facts.append(f"CPU stolen during the run {machine['stolen_during_run']:.1%}")
        console.print(escape("; ".join(facts)))
    if made.get("rows"):
        table = Table()
        columns = ("row", "stored", "req/s", "p50 ms", "p99 ms", "floor req/s", "vs floor", "goal", "met")
        for column in columns:
            table.add_column(column, justify="left" if column in ("row", "goal") else "right")
        for row in made["rows"]:
            table.add_row(
                escape(str(row["name"])),
                _number(row.get("stored"), ","),
                _number(row.get("rps"), ",.0f"),
                _number(row.get("p50_ms"), ".2f"),
                _number(row.get("p99_ms"), ".2f"),
                _number(row.get("floor_rps"), ",.0f"),
                _number(row.get("share"), ".1%"),
                escape(str(row.get("goal") or "-")),
                _yes(row.get("met")),
            )
        console.print(table)
    for comparison in made.get("comparisons") or []:
        figure = comparison.get("figure")
        shown = "-" if figure is None else f"{figure:.1%}" if "%" in comparison["goal"] else f"{figure:.2f}x"
        name, goal = escape(comparison["name"]), escape(comparison["goal"])
        console.print(f"{name}: {shown} (goal {goal}): {_yes(comparison.get('met'))}")
    if made.get("note"):
        console.print(escape(str(made["note"])))
    for number, written in enumerate(made.get("tables") or [], 1):
        table = Table(title=f"table {number}")
        for column in written["columns"]:
            table.add_column(escape(column))
        for cells in written["rows"]:
            table.add_row(*(escape(cell) for cell in cells))
        console.print(table)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.results", description=__doc__.split("\n\n")[0])
    parser.add_argument("--last", type=int, default=1, help="how many entries, the newest last (default 1)")
    parser.add_argument("--log", type=Path, default=LOG, help=f"the log (default {LOG})")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    entries = read(args.log)
    if not entries:
        raise SystemExit(f"{args.log}: no entries")
    for made in entries[-max(args.last, 1) :]:
        show(made, console)


if __name__ == "__main__":
    main()
