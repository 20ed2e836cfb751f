"""The ``keyplane`` command's subcommands run in the test process (typer's runner), on a fresh
data dir: what an operator sees (exit status, stdout, stderr) and what lands in the database.

``tests/test_cli.py`` runs the same commands as subprocesses, as an operator does; these cover
the cases that need no server and are measured by the suite's coverage.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import uvicorn
from argon2 import PasswordHasher
from typer.core import TyperGroup
from typer.testing import CliRunner

from keyplane import __version__
from keyplane.cli import app, main, prompts
from keyplane.config import get_settings
from keyplane.kit.credentials import CREDENTIAL_PATTERN
from keyplane.serving import BoundedHttpToolsProtocol

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data dir named by the environment alone: the test's own ``KEYPLANE_*``
    variables are cleared, and the working directory holds no ``.env``."""
    for name in list(os.environ):
        if name.startswith("KEYPLANE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    monkeypatch.setenv("KEYPLANE_DATA_DIR", str(data))
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def _count(data_dir: Path, table: str) -> int:
    with sqlite3.connect(data_dir / "keyplane.db") as connection:
        (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(count)


def test_init_creates_the_account_and_prints_its_key_once(data_dir: Path) -> None:
    done = runner.invoke(
        app,
        [
            "init",
            "--account",
            "acme",
            "--name",
            "Acme Inc",
            "--email",
            "a@acme.test",
            "--password",
            "secret123",
        ],
    )
    assert done.exit_code == 0, done.output
    # The key alone on stdout, so `key=$(keyplane init ...)` works; the rest on stderr.
    assert CREDENTIAL_PATTERN.fullmatch(done.stdout.strip()), done.stdout
    assert "acme" in done.stderr
    assert "a@acme.test" in done.stderr
    with sqlite3.connect(data_dir / "keyplane.db") as connection:
        assert connection.execute("SELECT slug, name FROM accounts").fetchall() == [("acme", "Acme Inc")]
        assert connection.execute("SELECT email, role FROM users").fetchall() == [("a@acme.test", "admin")]


def test_init_twice_is_refused_with_one_line_and_adds_nothing(data_dir: Path) -> None:
    first = runner.invoke(
        app, ["init", "--account", "acme", "--email", "a@acme.test", "--password", "secret123"]
    )
    assert first.exit_code == 0, first.output
    again = runner.invoke(
        app, ["init", "--json", "--account", "acme", "--email", "b@acme.test", "--password", "secret123"]
    )
    assert again.exit_code == 1
    assert again.stdout == ""
    assert "already exists" in again.stderr
    assert (_count(data_dir, "accounts"), _count(data_dir, "users"), _count(data_dir, "credentials")) == (
        1,
        1,
        1,
    )


def test_public_key_by_slug_by_default_and_for_an_unknown_account(data_dir: Path) -> None:
    made = runner.invoke(
        app, ["init", "--json", "--account", "acme", "--email", "a@acme.test", "--password", "secret123"]
    )
    assert made.exit_code == 0, made.output
    public = json.loads(made.stdout)["publicKey"]

    by_slug = runner.invoke(app, ["public-key", "acme"])
    by_default = runner.invoke(app, ["public-key"])
    unknown = runner.invoke(app, ["public-key", "nobody"])

    assert by_slug.exit_code == by_default.exit_code == 0, by_slug.output
    assert by_slug.stdout.strip() == by_default.stdout.strip() == public
    assert unknown.exit_code == 1
    assert unknown.stdout == ""
    assert "no account 'nobody'" in unknown.stderr


def test_public_key_before_any_account_says_so(data_dir: Path) -> None:
    done = runner.invoke(app, ["public-key"])
    assert done.exit_code == 1
    assert "no account yet" in done.stderr
    assert done.stdout == ""


def test_db_create_then_create_again_then_check(data_dir: Path) -> None:
    created = runner.invoke(app, ["db", "create"])
    assert created.exit_code == 0, created.output
    assert "created and migrated" in created.stderr
    assert str(data_dir / "keyplane.db") in created.stderr
    assert _count(data_dir, "accounts") == 0  # the schema is there, empty

    again = runner.invoke(app, ["db", "create"])
    assert again.exit_code == 0, again.output
    assert "already exists; it is up to date" in again.stderr

    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert "up to date" in upgraded.stderr

    checked = runner.invoke(app, ["db", "check"])
    assert checked.exit_code == 0, checked.output
    assert "matches" in checked.stderr


def test_db_check_names_a_drift(data_dir: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    with sqlite3.connect(data_dir / "keyplane.db") as connection:
        connection.execute("ALTER TABLE accounts ADD COLUMN extra TEXT")
    checked = runner.invoke(app, ["db", "check"])
    assert checked.exit_code == 1
    assert "schema differs" in checked.stderr
    assert "extra" in checked.stderr


def test_version_and_no_arguments(data_dir: Path) -> None:
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0
    assert version.stdout.strip() == f"keyplane {__version__}"
    bare = runner.invoke(app, [])
    assert "Usage" in bare.output  # help, not a silent success
    assert "init" in bare.output


def test_config_show_as_toml_and_as_json_masks_the_secret(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYPLANE_SECRET_KEY", "the-server-secret-value")
    monkeypatch.setenv("KEYPLANE_DATABASE_URL", "postgresql://kp:db-pass-word@db.internal/kp")
    get_settings.cache_clear()

    as_toml = runner.invoke(app, ["config", "show"])
    as_json = runner.invoke(app, ["config", "show", "--json"])

    assert as_toml.exit_code == as_json.exit_code == 0, as_toml.output
    for done in (as_toml, as_json):
        assert "the-server-secret-value" not in done.output
        assert "db-pass-word" not in done.output
    assert 'secret_key = "********"' in as_toml.stdout
    assert "# log_format is unset" in as_toml.stdout  # None has no TOML spelling: said in a comment
    shown = json.loads(as_json.stdout)
    assert shown["database_url"] == "postgresql://kp:********@db.internal/kp"
    assert shown["data_dir"] == str(data_dir)


def _main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["keyplane", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    code = stopped.value.code
    return code if isinstance(code, int) else 1


def test_main_turns_a_database_keyplane_cannot_use_into_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEYPLANE_DATABASE_URL", "mysql://root:hunter2@db/keyplane")
    get_settings.cache_clear()
    assert _main(monkeypatch, "db", "upgrade") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: KEYPLANE_DATABASE_URL names a database Keyplane cannot use (mysql)")
    assert "hunter2" not in err
    assert "Traceback" not in err


def test_main_turns_an_empty_secret_file_into_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir.mkdir()
    (data_dir / "secret.key").write_text("\n")
    assert (
        _main(monkeypatch, "init", "--account", "acme", "--email", "a@acme.test", "--password", "secret123")
        == 1
    )
    err = capsys.readouterr().err
    assert "the server secret" in err
    assert "is empty" in err
    assert "KEYPLANE_SECRET_KEY" in err
    assert (data_dir / "secret.key").read_text() == "\n"  # never replaced: credentials depend on it


def test_main_with_unreadable_settings_explains_only_startup_errors(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEYPLANE_CONFIG", "nowhere.toml")
    get_settings.cache_clear()
    # The settings cannot be read at all: the error is not one ``main`` knows, so it is raised.
    monkeypatch.setattr(sys, "argv", ["keyplane", "db", "upgrade"])
    with pytest.raises(ValueError, match=r"nowhere\.toml: no such file"):
        main()


def test_serve_migrates_checks_the_secret_then_hands_uvicorn_keyplanes_protocol(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def run(target: str, **options: Any) -> None:
        seen.update(options, target=target, workers_variable=os.environ.get("KEYPLANE_WORKERS"))
        seen["schema"] = _count(data_dir, "accounts")  # migrated before the first request
        seen["secret"] = (data_dir / "secret.key").exists()  # made once, before workers race for it

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setenv("KEYPLANE_MAX_CONNECTIONS", str(10**9))  # past any descriptor limit
    monkeypatch.setenv("KEYPLANE_WORKERS", "1")  # serve sets it: restored afterwards
    get_settings.cache_clear()

    done = runner.invoke(app, ["serve", "--port", "0", "--workers", "1"])

    assert done.exit_code == 0, done.output
    assert "is not below the descriptor limit" in done.stderr
    assert seen["target"] == "keyplane.app:create_app"
    assert seen["factory"] is True
    assert seen["workers"] == 1
    assert seen["workers_variable"] == "1"
    assert seen["schema"] == 0
    assert seen["secret"] is True
    # Client addresses come from Keyplane's trusted-proxy rule, never from uvicorn's.
    assert seen["proxy_headers"] is False
    assert seen["access_log"] is False  # Keyplane writes its own access line
    assert seen["date_header"] is False  # Keyplane's Date is the one its signatures cover
    assert seen["http"] is BoundedHttpToolsProtocol


def test_serve_on_a_port_in_use_stops_before_touching_the_database(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert _main(monkeypatch, "serve", "--port", str(port)) == 1
    assert f"error: port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err
    assert not (data_dir / "keyplane.db").exists()


def test_init_asks_for_the_password_twice_or_reads_it_from_stdin(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped = runner.invoke(
        app, ["init", "--account", "acme", "--email", "a@acme.test", "--json"], input="a long password\n"
    )
    assert piped.exit_code == 0, piped.output
    assert "a long password" not in piped.output
    monkeypatch.setattr(prompts, "interactive", lambda: True)

    differ = runner.invoke(
        app, ["init", "--account", "globex", "--email", "b@globex.test"], input="one password\nanother one\n"
    )
    typed = runner.invoke(
        app,
        ["init", "--account", "globex", "--email", "b@globex.test"],
        input="same password\nsame password\n",
    )

    assert differ.exit_code == 1
    assert "error: the two passwords differ" in differ.stderr
    assert typed.exit_code == 0, typed.output
    assert "same password" not in typed.output
    with sqlite3.connect(data_dir / "keyplane.db") as connection:
        hashes = dict(connection.execute("SELECT email, password_hash FROM users").fetchall())
    assert PasswordHasher().verify(hashes["a@acme.test"], "a long password")
    assert PasswordHasher().verify(hashes["b@globex.test"], "same password")


def _commands(group: TyperGroup, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


def test_every_command_has_help_with_an_example() -> None:
    commands = list(_commands(typer.main.get_group(app)))
    assert ("admin", "reset-password") in commands
    assert ("backup",) in commands
    for command in commands:
        shown = runner.invoke(app, [*command, "--help"])
        assert shown.exit_code == 0, shown.output
        assert (
            f"Example: keyplane {' '.join(command)}" in shown.stdout or "Example: KEYPLANE_" in shown.stdout
        ), (
            command,
            shown.stdout,
        )
