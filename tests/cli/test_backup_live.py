"""``keyplane backup`` run as an operator runs it, beside a ``keyplane serve`` that keeps
writing, and the restored copy served by a new ``keyplane serve``: the database as of one
commit, with the secret that opens it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import uuid
from contextlib import closing
from pathlib import Path

import httpx

from tests import live
from tests.factories import bearer

PASSWORD = "first admin password"
PASSPHRASE = "correct horse battery staple"
JSONAPI = {"Content-Type": "application/vnd.api+json"}


def _env(data_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("KEYPLANE_")}
    return env | {"KEYPLANE_DATA_DIR": str(data_dir)}


def _run(env: dict[str, str], *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own entry point with fixed arguments
        [str(live.KEYPLANE), *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _ids(data_dir: Path, table: str) -> set[str]:
    with closing(sqlite3.connect(data_dir / "keyplane.db")) as connection:
        return {str(uuid.UUID(str(row[0]))) for row in connection.execute(f"SELECT id FROM {table}")}


class _Writer(threading.Thread):
    """Makes products through the API, one after another, until told to stop."""

    def __init__(self, base: str, key: str) -> None:
        super().__init__(daemon=True)
        self.base, self.key = base, key
        self.made: list[str] = []
        self.first = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=bearer(self.key) | JSONAPI, timeout=30) as http:
            while not self.stop.is_set():
                body = {"data": {"type": "products", "attributes": {"name": f"P{len(self.made)}"}}}
                response = http.post("/v1/products", json=body)
                assert response.status_code == 201, response.text
                self.made.append(response.json()["data"]["id"])
                self.first.set()


def test_a_backup_taken_while_keyplane_writes_is_restored_and_served(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "restored"
    env = _env(source)
    made = _run(env, "init", "--account", "acme", "--email", "a@acme.test", "--json", input=f"{PASSWORD}\n")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["apiKey"]
    file = tmp_path / "keyplane.kpbackup"

    with live.serve(env, tmp_path / "source.log") as base:
        writer = _Writer(base, key)
        writer.start()
        try:
            assert writer.first.wait(60), "the writer made nothing"
            committed_before = set(writer.made)
            backup = _run(env, "backup", str(file), "--passphrase-stdin", input=f"{PASSPHRASE}\n")
        finally:
            writer.stop.set()
            writer.join(60)
    assert backup.returncode == 0, backup.stderr
    secret = (source / "secret.key").read_text()
    for output in (backup.stdout, backup.stderr):
        assert PASSPHRASE not in output
        assert secret not in output

    restored = _run(_env(target), "restore", str(file), "--passphrase-stdin", input=f"{PASSPHRASE}\n")

    assert restored.returncode == 0, restored.stderr
    assert PASSPHRASE not in restored.stdout + restored.stderr
    assert (target / "secret.key").read_text() == secret
    with closing(sqlite3.connect(target / "keyplane.db")) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    products = _ids(target, "products")
    # The database as of one commit: every product made before the backup began, and
    # nothing that was never made.
    assert committed_before <= products <= set(writer.made)
    for table in ("accounts", "users", "credentials"):
        assert _ids(target, table) == _ids(source, table)
    with live.serve(_env(target), tmp_path / "restored.log") as base:
        listed = httpx.get(f"{base}/v1/api-keys", headers=bearer(key), timeout=10)
        assert listed.status_code == 200, listed.text
        assert listed.json()["total"] == 1
        some = sorted(products)[0]
        product = httpx.get(f"{base}/v1/products/{some}", headers=bearer(key), timeout=10)
        assert product.status_code == 200, product.text
