"""The benchmark's results log (bench/results.py): the shape of an entry, appending to the log,
the commit a run names, and the entries already in bench/results.jsonl."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bench import results
from bench.common import Machine
from bench.goals import COMPARISONS, Figures

MACHINE = Machine(
    nproc=2,
    cpu_count=2,
    cpu="AMD EPYC",
    stolen_since_boot=0.0123456,
    load=["1.00", "0.50", "0.25"],
    python="3.11.7",
    versions={"uvicorn": "0.55.0", "uvloop": None},
    loop_ms=[31.04, 30.46, 30.9],
)
ROW_FIELDS = {
    "name",
    "key",
    "stored",
    "rps",
    "p50_ms",
    "p99_ms",
    "floor_rps",
    "share",
    "errors",
    "problem",
    "goal",
    "met",
}


def _entry(**extra: str) -> results.Entry:
    rows = [
        results.row_entry(
            "verify: 10,000 keys",
            "verify",
            1_000_000,
            Figures(rps=13_052.44, p99_ms=9.71, floor=19_280.0),
            4.5,
            ">= 60% of floor, p99 < 10 ms",
            True,
        ),
        results.row_entry("GET /v1/ping", "ping", 1_000_000, Figures(4_000.0, 90.0), 14.9, None, None),
    ]
    stored = COMPARISONS["stored"]
    return results.entry(
        benchmark="bench",
        command=results.command("bench", ["--seconds", "10"]),
        machine=results.machine_entry(MACHINE, 29.96, 0.050049),
        database="SQLite",
        rows=rows,
        comparisons=[results.comparison_entry(stored, 1.151234, True)],
        date="2026-12-07T05:10:00Z",
        commit="abc1234",
        **extra,
    )


def test_an_entry_holds_the_run_its_rows_and_its_comparisons() -> None:
    made = _entry()
    assert made["date"] == "2026-12-07T05:10:00Z"
    assert made["commit"] == "abc1234"
    assert made["command"] == "python -m bench --seconds 10"
    assert made["database"] == "SQLite"
    assert made["machine"] == {
        "nproc": 2,
        "cpu_count": 2,
        "cpu": "AMD EPYC",
        "stolen_since_boot": 0.0123,
        "load": ["1.00", "0.50", "0.25"],
        "python": "3.11.7",
        "versions": {"uvicorn": "0.55.0", "uvloop": None},
        "loop_ms": [31.0, 30.5, 30.9],  # rounded: to the tenth, shares to four places
        "loop_ms_end": 30.0,
        "stolen_during_run": 0.05,
    }
    verify, ping = made["rows"]
    assert set(verify) == set(ping) == ROW_FIELDS
    assert verify == {
        "name": "verify: 10,000 keys",
        "key": "verify",
        "stored": 1_000_000,
        "rps": 13_052.4,
        "p50_ms": 4.5,
        "p99_ms": 9.71,
        "floor_rps": 19_280.0,
        "share": 0.677,
        "errors": 0,
        "problem": None,
        "goal": ">= 60% of floor, p99 < 10 ms",
        "met": True,
    }
    assert (ping["floor_rps"], ping["share"], ping["goal"], ping["met"]) == (None, None, None, None)
    assert made["comparisons"] == [
        {
            "name": "stored",
            "of": "verify-same-draw",
            "against": "verify-1k",
            "figure": 1.1512,
            "goal": ">= 90%",
            "met": True,
            "note": None,
        }
    ]
    assert "note" not in made
    assert _entry(note="a slow hour")["note"] == "a slow hour"


def test_a_row_that_recorded_events_carries_what_the_webhook_receiver_got() -> None:
    webhooks = {"received_rps": 410.5, "pending_at_end": 12_000, "bad_signatures": 0}
    row = results.row_entry(
        "validate-key",
        "validate-key",
        1_000,
        Figures(3_000.0, 20.0, 12_000.0),
        9.0,
        ">= 25% of floor",
        True,
        webhooks,
    )
    assert set(row) == ROW_FIELDS | {"webhooks"}
    assert row["webhooks"] == webhooks


@pytest.mark.parametrize(
    ("program", "argv", "line"),
    [
        ("bench", [], "python -m bench"),
        ("bench", None, "python -m bench"),
        ("bench", ["--only", "verify", "ping", "--no-log"], "python -m bench --only verify ping --no-log"),
        (
            "bench.soak",
            ["--database-url", "postgresql://u@h/d b"],
            "python -m bench.soak --database-url 'postgresql://u@h/d b'",
        ),
    ],
)
def test_the_command_reads_as_typed(program: str, argv: list[str] | None, line: str) -> None:
    assert results.command(program, argv) == line


def test_a_date_is_utc_to_the_second() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", results.now())


def test_entries_are_appended_one_json_line_each(tmp_path: Path) -> None:
    log = tmp_path / "results.jsonl"
    assert results.read(log) == []
    first, second = _entry(), _entry(note="second")
    results.append(first, log)
    results.append(second, log)
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    assert [json.loads(line) for line in lines] == [first, second]
    assert results.read(log) == [first, second]


def test_the_commit_is_marked_dirty_by_changes_other_than_the_log(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")

    def run(*args: str) -> str:
        return subprocess.run(  # noqa: S603 - git with fixed arguments
            [git, "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    (tmp_path / "bench").mkdir()
    log = tmp_path / "bench" / "results.jsonl"
    log.write_text("")
    (tmp_path / "code.py").write_text("x = 1\n")
    run("init", "-q")
    run("add", ".")
    run("commit", "-q", "-m", "first")
    head = run("rev-parse", "--short", "HEAD")

    assert results.commit(tmp_path, log) == head
    results.append(_entry(), log)  # the log's own line leaves the tree clean
    assert results.commit(tmp_path, log) == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert results.commit(tmp_path, log) == f"{head}-dirty"
    assert results.commit(tmp_path / "bench", log) == f"{head}-dirty"  # from anywhere in the tree
    assert results.commit(tmp_path.parent / "no-such-place", log) is None


def test_the_log_in_the_repository_is_one_entry_a_line() -> None:
    entries = results.read()
    assert entries, "bench/results.jsonl holds the recorded runs"
    for made in entries:
        assert re.match(r"\d{4}-\d\d-\d\d", made["date"])
        assert {"commit", "benchmark", "command", "machine", "database", "rows", "comparisons"} <= set(made)
        for row in made["rows"]:
            # validate-key's row also says what the webhook receiver got of it
            assert ROW_FIELDS <= set(row) <= ROW_FIELDS | {"webhooks"}
        if made.get("legacy"):
            assert made["note"]
            assert made["title"]
            for table in made["tables"]:
                assert all(len(cells) == len(table["columns"]) for cells in table["rows"])
    assert [made["date"][:10] for made in entries] == sorted(made["date"][:10] for made in entries)
