"""``keyplane backup`` and ``keyplane restore`` in the test process: what comes back is the
data and the secret that went in, and every restore that would leave a database no secret
opens, or overwrite data, is refused in one line with nothing changed."""

from __future__ import annotations

import io
import json
import shlex
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from keyplane.backups.archive import sha256_of
from keyplane.config import Settings
from tests.cli.support import PASSWORD, api, empty, init, keyplane, operate, refused
from tests.factories import bearer

PASSPHRASE = "correct horse battery staple"


def _rows(data_dir: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(data_dir / "keyplane.db") as connection:
        return connection.execute(query).fetchall()


_STABLE = (
    "SELECT id, slug, ed25519_private FROM accounts",
    "SELECT id, email, password_hash FROM users",
    "SELECT id, lookup, digest, scopes FROM credentials",
)
"""What a backup must bring back byte for byte (sealed keys, hashes and digests included)."""


def _secret_free(output: str, data_dir: Path) -> None:
    assert PASSPHRASE not in output
    assert PASSWORD not in output
    secret = data_dir / "secret.key"
    if secret.exists():
        assert secret.read_text().strip() not in output


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite install with an account (its secret in the data dir), which the next
    commands work on; its admin key is in ``admin.key``."""
    data = tmp_path / "source"
    operate(monkeypatch, tmp_path, data_dir=str(data))
    (tmp_path / "admin.key").write_text(init()["apiKey"])
    return data


def _backup(file: Path, *extra: str, passphrase: str = PASSPHRASE) -> None:
    done = keyplane("backup", str(file), "--passphrase-stdin", *extra, input=f"{passphrase}\n")
    assert done.exit_code == 0, done.output
    assert done.stdout == ""


def _restore_env(monkeypatch: pytest.MonkeyPatch, workdir: Path, target: Path, **settings: str) -> None:
    operate(monkeypatch, workdir, data_dir=str(target), **settings)


def test_a_restore_into_a_fresh_data_dir_serves_the_same_data_with_the_same_secret(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "keyplane.kpbackup"
    made = keyplane("backup", str(file), "--passphrase-stdin", input=f"{PASSPHRASE}\n")
    assert made.exit_code == 0, made.output
    _secret_free(made.output, source)
    assert file.stat().st_mode & 0o077 == 0  # the owner's alone
    target = tmp_path / "restored"
    _restore_env(monkeypatch, tmp_path / "elsewhere", target)

    done = keyplane("restore", str(file), "--passphrase-stdin", input=f"{PASSPHRASE}\n")

    assert done.exit_code == 0, done.output
    _secret_free(done.output, source)
    assert "restored into" in done.stderr
    assert (target / "secret.key").read_text() == (source / "secret.key").read_text()
    assert (target / "secret.key").stat().st_mode & 0o077 == 0
    for query in _STABLE:
        assert _rows(target, query) == _rows(source, query)
    key = (tmp_path / "admin.key").read_text()

    async def serves(http: httpx.AsyncClient) -> None:
        listed = await http.get("/v1/accounts/acme/api-keys", headers=bearer(key))
        assert listed.status_code == 200, listed.text
        assert listed.json()["total"] == 1
        me = await http.get("/v1/accounts/acme/me", headers=bearer(key))
        assert me.json()["data"]["attributes"]["email"] == "a@acme.test"

    api(Settings(data_dir=target), serves)


def test_refused_restores_say_why_in_one_line_and_change_nothing(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "keyplane.kpbackup"
    _backup(file)
    truncated = tmp_path / "truncated.kpbackup"
    truncated.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    flipped = tmp_path / "flipped.kpbackup"
    body = bytearray(file.read_bytes())
    body[len(body) // 2] ^= 0xFF
    flipped.write_bytes(bytes(body))
    target = tmp_path / "restored"
    _restore_env(monkeypatch, tmp_path / "elsewhere", target)

    def attempt(backup: Path, *expected: str, passphrase: str = PASSPHRASE) -> None:
        done = keyplane("restore", str(backup), "--passphrase-stdin", input=f"{passphrase}\n")
        _secret_free(refused(done, *expected), source)
        assert not target.exists()  # no database, no secret: nothing at all

    attempt(file, "the passphrase does not open this backup", passphrase="not the passphrase")
    attempt(truncated, "is not a Keyplane backup, or is damaged")
    attempt(flipped, "is not a Keyplane backup, or is damaged")
    attempt(tmp_path / "nowhere.kpbackup", "there is no backup file")
    attempt(_tampered(file, tmp_path), "the passphrase does not open this backup")

    _restore_env(monkeypatch, tmp_path / "elsewhere", target, secret_key="another secret " + "y" * 32)
    attempt(file, "another server secret than the configured one (KEYPLANE_SECRET_KEY)")


def _tampered(file: Path, tmp_path: Path) -> Path:
    """``file`` with a row changed in its database and the digest in its manifest made to
    match: only the sealed secret, bound to the manifest, can tell."""
    with tarfile.open(file, "r:gz") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        database = tar.extractfile("keyplane.db").read()  # type: ignore[union-attr]
    copy = tmp_path / "tampered.db"
    copy.write_bytes(database)
    with closing(sqlite3.connect(copy)) as connection:  # closed: the change leaves the WAL
        connection.execute("UPDATE accounts SET name = 'Owned'")
        connection.commit()
    manifest["databaseSha256"] = sha256_of(copy)
    tampered = tmp_path / "tampered.kpbackup"
    with tarfile.open(tampered, "w:gz") as tar:
        body = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
        tar.add(copy, arcname="keyplane.db")
    return tampered


def test_a_database_that_holds_data_is_replaced_only_with_force(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "keyplane.kpbackup"
    _backup(file)
    before = [_rows(source, query) for query in _STABLE]
    init(account="later")  # made after the backup: a restore takes it away

    again = keyplane("restore", str(file), "--passphrase-stdin", input=f"{PASSPHRASE}\n")
    refused(again, "already holds a Keyplane database", "--force")
    assert len(_rows(source, "SELECT id FROM accounts")) == 2

    forced = keyplane("restore", str(file), "--force", "--passphrase-stdin", input=f"{PASSPHRASE}\n")
    assert forced.exit_code == 0, forced.output
    assert "is the backup's" in forced.stderr  # the data dir's secret is the backup's
    assert [_rows(source, query) for query in _STABLE] == before


def test_a_backup_without_the_secret_warns_and_restores_only_beside_that_secret(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "keyplane.kpbackup"
    made = keyplane("backup", str(file), "--no-secret")
    assert made.exit_code == 0, made.output
    assert "warning:" in made.stderr
    assert "holds no server secret" in made.stderr
    _secret_free(made.output, source)
    target = tmp_path / "restored"
    _restore_env(monkeypatch, tmp_path / "elsewhere", target)

    refused(keyplane("restore", str(file)), "holds no server secret, and none is configured")
    assert not target.exists()

    target.mkdir(mode=0o700)
    (target / "secret.key").write_text("not the one " + "z" * 40)
    refused(keyplane("restore", str(file)), "another server secret")
    assert not (target / "keyplane.db").exists()

    (target / "secret.key").write_text((source / "secret.key").read_text())
    done = keyplane("restore", str(file))
    assert done.exit_code == 0, done.output
    for query in _STABLE:
        assert _rows(target, query) == _rows(source, query)


@pytest.mark.parametrize(
    ("settings", "typed", "expected"),
    [
        ({}, "too short", "a passphrase has at least 12 characters"),
        (
            {"secret_key": "not this database's " + "q" * 32},
            PASSPHRASE,
            "is not the one this database was set up with",
        ),
    ],
)
def test_refused_backups_write_nothing(
    source: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, str],
    typed: str,
    expected: str,
) -> None:
    _restore_env(monkeypatch, tmp_path, source, **settings)
    file = tmp_path / "keyplane.kpbackup"
    refused(keyplane("backup", str(file), "--passphrase-stdin", input=f"{typed}\n"), expected)
    assert not file.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers


def test_a_backup_of_no_database_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    operate(monkeypatch, tmp_path, data_dir=str(tmp_path / "empty"))
    refused(keyplane("backup", str(tmp_path / "x.kpbackup"), "--no-secret"), "there is no SQLite database")


@pytest.fixture
def postgresql(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test's PostgreSQL database, its server secret in a data dir (as a restore puts it)."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("pg_dump is PostgreSQL's")
    operate(monkeypatch, tmp_path, database_url=settings.database_url, data_dir=str(tmp_path / "source"))
    try:
        yield settings.database_url
    finally:
        empty(settings.database_url)


def test_postgresql_backup_seals_the_secret_and_names_pg_dump_and_pg_restore(
    postgresql: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = init()
    file = tmp_path / "keyplane.kpbackup"
    done = keyplane("backup", str(file), "--passphrase-stdin", input=f"{PASSPHRASE}\n")
    assert done.exit_code == 0, done.output
    _secret_free(done.output, tmp_path / "source")
    dump_command, restore_command = done.stdout.splitlines()
    name = postgresql.rsplit("/", 1)[1]
    assert dump_command.startswith("pg_dump --format=custom")
    assert dump_command.endswith(f" {name}")
    assert f"--dbname={name}" in restore_command
    dumped = subprocess.run(shlex.split(dump_command), capture_output=True, text=True, check=False)  # noqa: S603
    assert dumped.returncode == 0, dumped.stderr
    empty(postgresql)  # the database is lost; the dump and the sealed secret are what is left
    target = tmp_path / "restored"
    _restore_env(monkeypatch, tmp_path / "elsewhere", target, database_url=postgresql)

    restored = keyplane("restore", str(file), "--passphrase-stdin", input=f"{PASSPHRASE}\n")

    assert restored.exit_code == 0, restored.output
    assert restored.stdout.strip() == restore_command
    assert (target / "secret.key").read_text() == (tmp_path / "source" / "secret.key").read_text()
    put_back = subprocess.run(shlex.split(restore_command), capture_output=True, text=True, check=False)  # noqa: S603
    assert put_back.returncode == 0, put_back.stderr

    async def serves(http: httpx.AsyncClient) -> None:
        listed = await http.get("/v1/accounts/acme/api-keys", headers=bearer(made["apiKey"]))
        assert listed.status_code == 200, listed.text
        assert listed.json()["total"] == 1

    api(Settings(database_url=postgresql, data_dir=target), serves)


def test_a_backup_during_a_rotation_says_the_previous_secret_is_not_in_it(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = "the secret before the rotation " + "p" * 20
    _restore_env(monkeypatch, tmp_path, source, secret_key_previous=previous)
    done = keyplane(
        "backup", str(tmp_path / "keyplane.kpbackup"), "--passphrase-stdin", input=f"{PASSPHRASE}\n"
    )
    assert done.exit_code == 0, done.output
    assert "warning: KEYPLANE_SECRET_KEY_PREVIOUS is set" in done.stderr
    assert previous not in done.output
