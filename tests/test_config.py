"""``keyplane.config.Settings``, read in the test process: the TOML file, list settings written
as comma-separated text, the database URL, and the server secret kept on disk.
``tests/observe/test_settings_files.py`` runs the same rules through the command."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from keyplane.auth.network import parse_network
from keyplane.cli.settings import MASK, masked_url
from keyplane.config import SECRET_FILE, Settings
from keyplane.startup import StartupError


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KEYPLANE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env of the repository's


def test_a_toml_file_sets_what_the_environment_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "keyplane.toml").write_text('account = "from-toml"\ncache_size = 7\nlog_level = "warning"\n')
    monkeypatch.setenv("KEYPLANE_CONFIG", str(tmp_path / "keyplane.toml"))
    monkeypatch.setenv("KEYPLANE_LOG_LEVEL", "error")
    settings = Settings()
    assert (settings.account, settings.cache_size, settings.log_level) == ("from-toml", 7, "error")


def test_a_missing_or_misspelt_toml_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYPLANE_CONFIG", str(tmp_path / "nowhere.toml"))
    with pytest.raises(ValueError, match=r"nowhere\.toml: no such file"):
        Settings()
    (tmp_path / "typo.toml").write_text('acount = "acme"\ncache_sise = 1\n')
    monkeypatch.setenv("KEYPLANE_CONFIG", str(tmp_path / "typo.toml"))
    with pytest.raises(ValueError, match="unknown settings acount, cache_sise"):
        Settings()


def test_lists_are_comma_separated_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYPLANE_TRUSTED_PROXIES", " 10.0.0.0/8, 192.0.2.1 ,,")
    monkeypatch.setenv("KEYPLANE_METRICS_ALLOW", "198.51.100.0/24")
    monkeypatch.setenv("KEYPLANE_SECRET_KEY_PREVIOUS", "old-one,old-two")
    settings = Settings()
    assert settings.trusted_proxies == [parse_network("10.0.0.0/8"), parse_network("192.0.2.1")]
    assert settings.metrics_allow == [parse_network("198.51.100.0/24")]
    assert settings.secret_key_previous == ["old-one", "old-two"]


def test_the_default_metrics_allow_list_is_loopback_only() -> None:
    assert Settings().metrics_allow == [parse_network("127.0.0.0/8"), parse_network("::1/128")]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KEYPLANE_TRUSTED_PROXIES", "not-an-address"),
        ("KEYPLANE_RATE_LIMIT_FAIL", "sometimes"),
        ("KEYPLANE_ACCESS_TOKEN_TTL_SECONDS", str(2 * 24 * 3600)),  # longer than a day
        ("KEYPLANE_MAX_BODY_BYTES", "10"),
        ("KEYPLANE_DATABASE_POOL_SIZE", "0"),
    ],
)
def test_a_bad_value_is_refused_at_start(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


def test_the_database_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    assert (
        Settings(data_dir=tmp_path).resolved_database_url() == f"sqlite+aiosqlite:///{tmp_path}/keyplane.db"
    )
    assert (
        Settings(database_url="postgresql://kp@db:5432/kp").resolved_database_url()
        == "postgresql+asyncpg://kp@db:5432/kp"
    )


def test_the_server_secret_is_generated_once_privately_and_kept(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    settings = Settings(data_dir=data)
    first = settings.server_secret()
    assert len(first) >= 48
    path = data / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert Settings(data_dir=data).server_secret() == first  # read again, not replaced
    assert sorted(p.name for p in data.iterdir()) == [SECRET_FILE]  # no temporary file left


def test_a_configured_secret_wins_and_writes_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="configured-secret")
    assert settings.server_secret() == b"configured-secret"
    assert not (tmp_path / "data").exists()


def test_an_empty_secret_file_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_text("  \n")
    with pytest.raises(
        StartupError, match="is empty: restore it from your backup or set KEYPLANE_SECRET_KEY"
    ):
        Settings(data_dir=tmp_path).server_secret()
    assert (tmp_path / SECRET_FILE).read_text() == "  \n"  # never replaced: every credential depends on it


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("", ""),
        ("postgresql://kp@db/kp", "postgresql://kp@db/kp"),  # no password: nothing to mask
        ("postgresql://kp:pw@db/kp", f"postgresql://kp:{MASK}@db/kp"),
        ("postgresql://kp:@db/kp", "postgresql://kp:@db/kp"),
        ("redis://:pw@cache:6379/0", f"redis://:{MASK}@cache:6379/0"),
        (
            "postgresql://kp@db/kp?sslmode=require&PASSWORD=pw&passwd=",
            f"postgresql://kp@db/kp?sslmode=require&PASSWORD={MASK}&passwd={MASK}",
        ),
    ],
)
def test_masked_url(url: str, shown: str) -> None:
    assert masked_url(url) == shown


@pytest.mark.parametrize(
    "url",
    ["sqlite:////var/lib/keyplane/keyplane.db", "sqlite:///keyplane.db", "postgresql:///kp?host=/run/pg"],
)
def test_masked_url_keeps_a_url_without_a_password_as_it_is(url: str) -> None:
    # `keyplane config show` prints a TOML file meant to be reused: its URL must name the same database.
    assert masked_url(url) == url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://kp:hunter2@db:5432/kp", f"postgresql://kp:{MASK}@db:5432/kp"),
        ("postgresql:///kp?host=/run/pg&password=hunter2", f"postgresql:///kp?host=/run/pg&password={MASK}"),
    ],
)
def test_masked_url_masks_the_password_and_keeps_the_rest(url: str, shown: str) -> None:
    assert masked_url(url) == shown
    assert "hunter2" not in masked_url(url)
