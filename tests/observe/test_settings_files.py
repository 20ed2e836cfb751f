"""Settings from a ``.env`` file and a TOML file (``KEYPLANE_CONFIG``): the environment
over ``.env`` over TOML over the defaults; ``keyplane config show`` with secrets masked;
``keyplane --version``. Run as an operator runs them: the command, in a directory."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from keyplane import __version__
from tests.live import KEYPLANE


def _keyplane(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("KEYPLANE_")}
    return subprocess.run(  # noqa: S603 - our own entry point with fixed arguments
        [str(KEYPLANE), *args],
        cwd=cwd,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _shown(cwd: Path, **env: str) -> dict[str, Any]:
    done = _keyplane(cwd, "config", "show", "--json", **env)
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


def test_environment_over_dotenv_over_toml_over_defaults(tmp_path: Path) -> None:
    (tmp_path / "keyplane.toml").write_text(
        'account = "from-toml"\ncache_size = 7\nlog_level = "warning"\ntrusted_proxies = ["10.0.0.0/8"]\n'
        "access_log = false\n"
    )
    (tmp_path / ".env").write_text("KEYPLANE_ACCOUNT=from-dotenv\nKEYPLANE_LOG_LEVEL=debug\n")
    shown = _shown(tmp_path, KEYPLANE_CONFIG="keyplane.toml", KEYPLANE_LOG_LEVEL="error")
    assert shown["log_level"] == "error"  # environment over .env and TOML
    assert shown["account"] == "from-dotenv"  # .env over TOML
    assert shown["cache_size"] == 7  # TOML over the default
    assert shown["trusted_proxies"] == ["10.0.0.0/8"]
    assert shown["access_log"] is False
    assert shown["cache_seconds"] == 300.0  # the default
    without = _shown(tmp_path)  # no KEYPLANE_CONFIG: the TOML file is not read
    assert without["cache_size"] == 100_000
    assert without["account"] == "from-dotenv"


def test_a_bad_toml_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "typo.toml").write_text('acount = "acme"\n')
    unknown = _keyplane(tmp_path, "config", "show", KEYPLANE_CONFIG="typo.toml")
    assert unknown.returncode != 0
    assert "unknown settings acount" in unknown.stderr
    missing = _keyplane(tmp_path, "config", "show", KEYPLANE_CONFIG="nowhere.toml")
    assert missing.returncode != 0
    assert "nowhere.toml: no such file" in missing.stderr


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    (tmp_path / "keyplane.toml").write_text('secret_key_previous = ["old-secret-one", "old-secret-two"]\n')
    env = {
        "KEYPLANE_CONFIG": "keyplane.toml",
        "KEYPLANE_SECRET_KEY": "the-server-secret-value",
        "KEYPLANE_DATABASE_URL": "postgresql://keyplane:db-pass-word@db.internal:5432/keyplane?sslpassword=ssl-pw",
        "KEYPLANE_REDIS_URL": "redis://:redis-pass-word@cache.internal:6379/0",
    }
    for args in (("config", "show"), ("config", "show", "--json")):
        done = _keyplane(tmp_path, *args, **env)
        assert done.returncode == 0, done.stderr
        for secret in ("the-server-secret-value", "old-secret", "db-pass-word", "ssl-pw", "redis-pass-word"):
            assert secret not in done.stdout + done.stderr
    shown = _shown(tmp_path, **env)
    assert shown["secret_key"] == "********"
    assert shown["secret_key_previous"] == ["********", "********"]
    assert shown["database_url"] == (
        "postgresql://keyplane:********@db.internal:5432/keyplane?sslpassword=********"
    )
    assert shown["redis_url"] == "redis://:********@cache.internal:6379/0"


def test_config_show_prints_toml(tmp_path: Path) -> None:
    done = _keyplane(tmp_path, "config", "show", KEYPLANE_ACCOUNT="acme")
    assert done.returncode == 0, done.stderr
    parsed = tomllib.loads(done.stdout)
    assert parsed["account"] == "acme"
    assert parsed["metrics_allow"] == ["127.0.0.0/8", "::1/128"]


def test_version(tmp_path: Path) -> None:
    done = _keyplane(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"keyplane {__version__}"
