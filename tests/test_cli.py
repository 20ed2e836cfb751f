"""The ``keyplane`` command, run as an operator runs it: a subprocess on a fresh data dir."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from keyplane.kit.credentials import CREDENTIAL_PATTERN, CredentialKind, parse

KEYPLANE = Path(sys.executable).parent / "keyplane"
TIMEOUT = 60


def _env(data_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("KEYPLANE_")}
    env["KEYPLANE_DATA_DIR"] = str(data_dir)
    return env


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own entry point with fixed arguments
        [str(KEYPLANE), *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _init(data_dir: Path, *extra: str, account: str = "acme") -> subprocess.CompletedProcess[str]:
    return _run(
        data_dir, "init", "--account", account, "--email", "a@acme.test", "--password", "secret123", *extra
    )


def _count(data_dir: Path, table: str) -> int:
    with sqlite3.connect(data_dir / "keyplane.db") as connection:
        (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(count)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_init_prints_one_json_object(data_dir: Path) -> None:
    done = _init(data_dir, "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert set(result) == {"accountId", "accountSlug", "userId", "apiKey", "publicKey"}
    assert result["accountSlug"] == "acme"
    assert re.fullmatch(r"[0-9a-f]{64}", result["publicKey"])
    assert CREDENTIAL_PATTERN.fullmatch(result["apiKey"])
    parsed = parse(result["apiKey"])
    assert parsed is not None
    assert parsed.kind is CredentialKind.API_KEY
    with sqlite3.connect(data_dir / "keyplane.db") as connection:
        account = connection.execute("SELECT slug FROM accounts").fetchall()
        users = connection.execute("SELECT email, role FROM users").fetchall()
        keys = connection.execute("SELECT kind, scopes, start FROM credentials").fetchall()
    assert account == [("acme",)]
    assert users == [("a@acme.test", "admin")]
    assert len(keys) == 1
    kind, scopes, start = keys[0]
    assert kind == "api_key"
    assert json.loads(scopes) == ["READ", "CREATE", "UPDATE", "DELETE", "MANAGE"]
    assert result["apiKey"].startswith(start)
    # Only a keyed hash is stored: the plaintext is nowhere in the database file.
    assert result["apiKey"].encode() not in (data_dir / "keyplane.db").read_bytes()


def test_public_key_prints_the_accounts_signing_key(data_dir: Path) -> None:
    made = json.loads(_init(data_dir, "--json").stdout)

    by_slug = _run(data_dir, "public-key", "acme")
    by_default = _run(data_dir, "public-key")
    unknown = _run(data_dir, "public-key", "nobody")

    assert by_slug.returncode == by_default.returncode == 0, by_slug.stderr
    assert by_slug.stdout.strip() == by_default.stdout.strip() == made["publicKey"]
    assert unknown.returncode == 1
    assert "nobody" in unknown.stdout + unknown.stderr
    assert "Traceback" not in unknown.stderr
    # The private half is stored encrypted: its public half is there, nothing else readable.
    with sqlite3.connect(data_dir / "keyplane.db") as connection:
        public, sealed = connection.execute("SELECT ed25519_public, ed25519_private FROM accounts").fetchone()
    assert public == made["publicKey"]
    assert len(sealed) == 12 + 32 + 16  # nonce, the 32-byte key encrypted, the GCM tag


def test_init_without_json_prints_only_the_key_on_stdout(data_dir: Path) -> None:
    done = _init(data_dir)
    assert done.returncode == 0, done.stderr
    assert CREDENTIAL_PATTERN.fullmatch(done.stdout.strip()), done.stdout
    assert "acme" in done.stderr


def test_init_twice_fails_clearly_and_adds_nothing(data_dir: Path) -> None:
    first = _init(data_dir, "--json")
    assert first.returncode == 0, first.stderr
    again = _init(data_dir, "--json")
    assert again.returncode != 0
    assert again.stdout == ""
    assert "already exists" in again.stderr
    assert "acme" in again.stderr
    assert "Traceback" not in again.stderr
    assert (_count(data_dir, "accounts"), _count(data_dir, "users"), _count(data_dir, "credentials")) == (
        1,
        1,
        1,
    )
    other = _init(data_dir, "--json", account="globex")
    assert other.returncode == 0, other.stderr
    assert _count(data_dir, "accounts") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "Not A Slug", "--email", "a@acme.test", "--password", "secret123"], "slug"),
        (["--account", "acme", "--email", "not-an-email", "--password", "secret123"], "email"),
        (["--account", "acme", "--email", "a@acme.test", "--password", "short"], "8 characters"),
    ],
)
def test_init_refuses_bad_input_without_a_traceback(data_dir: Path, args: list[str], message: str) -> None:
    done = _run(data_dir, "init", "--json", *args)
    assert done.returncode == 1
    assert done.stdout == ""
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert _count(data_dir, "accounts") == 0


def test_server_secret_is_private(data_dir: Path) -> None:
    done = _init(data_dir, "--json")
    assert done.returncode == 0, done.stderr
    secret = data_dir / "secret.key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    content = secret.read_text().strip()
    assert len(content) >= 32
    assert [p.name for p in data_dir.iterdir() if p.name.startswith(".secret.key")] == []
    # The secret is kept: a second command reuses it instead of making a new one.
    assert _run(data_dir, "db", "upgrade").returncode == 0
    assert secret.read_text().strip() == content


def test_db_upgrade_and_check(data_dir: Path) -> None:
    upgrade = _run(data_dir, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert (data_dir / "keyplane.db").exists()
    assert _count(data_dir, "accounts") == 0
    again = _run(data_dir, "db", "upgrade")
    assert again.returncode == 0, again.stderr
    check = _run(data_dir, "db", "check")
    assert check.returncode == 0, check.stderr + check.stdout
    assert "matches" in check.stderr


def test_db_check_fails_on_a_drifted_schema(data_dir: Path) -> None:
    assert _run(data_dir, "db", "upgrade").returncode == 0
    with sqlite3.connect(data_dir / "keyplane.db") as connection:
        connection.execute("ALTER TABLE accounts ADD COLUMN extra TEXT")
    check = _run(data_dir, "db", "check")
    assert check.returncode == 1
    assert "differs" in check.stderr


def test_db_check_fails_cleanly_when_migrations_are_pending(data_dir: Path) -> None:
    data_dir.mkdir()
    check = _run(data_dir, "db", "check")
    assert check.returncode == 1
    assert "not up to date" in check.stderr
    assert "Traceback" not in check.stderr
    assert "CommandError" not in check.stderr
    assert _run(data_dir, "db", "upgrade").returncode == 0
    assert _run(data_dir, "db", "check").returncode == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_serve_answers_with_the_init_key(data_dir: Path, tmp_path: Path) -> None:
    made = _init(data_dir, "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["apiKey"]
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(  # noqa: S603 - our own entry point with fixed arguments
        [str(KEYPLANE), "serve", "--port", str(port)], env=_env(data_dir), stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/v1/ping", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "keyplane serve did not answer in time"
            time.sleep(0.2)
        listed = httpx.get(f"{base}/v1/api-keys", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert listed.status_code == 200, listed.text
        assert listed.json()["total"] == 1
        by_slug = httpx.get(f"{base}/v1/accounts/acme/me", headers={"X-API-Key": key}, timeout=10)
        assert by_slug.status_code == 200, by_slug.text
        assert by_slug.json()["data"]["attributes"]["email"] == "a@acme.test"
        refused = httpx.get(f"{base}/v1/api-keys", timeout=10)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "TOKEN_MISSING"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()


def test_db_check_on_a_missing_data_dir_fails_cleanly(data_dir: Path) -> None:
    check = _run(data_dir, "db", "check")
    assert check.returncode == 1
    assert "not up to date" in check.stderr
    assert "Traceback" not in check.stderr


def test_data_dir_is_private(data_dir: Path) -> None:
    done = _init(data_dir, "--json")
    assert done.returncode == 0, done.stderr
    # The database holds password hashes: only the owner may enter the folder.
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
