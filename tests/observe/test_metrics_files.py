"""The multiprocess directory ``keyplane serve --workers N`` gives its workers' metrics
(``keyplane.observe.publish``), in the test process: which folder, emptied or removed when, and
the live gauges of killed workers removed so that ``/metrics`` stops counting them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyplane.observe.metrics import ENVIRONMENT
from keyplane.observe.publish import multiprocess_dir, reap_dead_workers


def _finished() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_one_worker_keeps_its_metrics_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    with multiprocess_dir(1):
        assert ENVIRONMENT not in os.environ


def test_several_workers_get_a_private_folder_removed_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    with multiprocess_dir(2):
        folder = Path(os.environ[ENVIRONMENT])
        assert folder.is_dir()
        assert (folder.stat().st_mode & 0o777) == 0o700
        (folder / "counter_123.db").write_bytes(b"figures")
    assert ENVIRONMENT not in os.environ
    assert not folder.exists()


def test_the_operators_folder_is_emptied_of_old_figures_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_99.db").write_bytes(b"a previous run's")
    (folder / "notes.txt").write_text("the operator's")
    monkeypatch.setenv(ENVIRONMENT, str(folder))
    with multiprocess_dir(3):
        assert os.environ[ENVIRONMENT] == str(folder)
        assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]  # counts start at zero
    assert folder.is_dir()


def test_the_operators_folder_is_made_when_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "not" / "yet"
    monkeypatch.setenv(ENVIRONMENT, str(folder))
    with multiprocess_dir(2):
        assert folder.is_dir()


def test_killed_workers_live_gauges_are_removed_and_live_ones_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = _finished()
    alive = os.getpid()
    monkeypatch.setenv(ENVIRONMENT, str(tmp_path))
    for name in (
        f"gauge_livesum_{dead}.db",
        f"gauge_liveall_{dead}.db",
        f"gauge_livemax_{alive}.db",
        f"counter_{dead}.db",  # counters add up over every worker that ever ran: kept
        "gauge_livesum_notapid.db",
    ):
        (tmp_path / name).write_bytes(b"")
    reap_dead_workers()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"gauge_livemax_{alive}.db", f"counter_{dead}.db", "gauge_livesum_notapid.db"]
    )
