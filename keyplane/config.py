"""One typed settings object, read once: from ``KEYPLANE_*`` environment variables, a
``.env`` file in the current directory, and a TOML file named by ``KEYPLANE_CONFIG``, in that
order of precedence, over the defaults."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from keyplane.auth.network import Network, parse_network
from keyplane.startup import StartupError

SECRET_FILE = "secret.key"
CONFIG_VARIABLE = "KEYPLANE_CONFIG"
"""The environment variable naming the TOML settings file."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KEYPLANE_", extra="ignore", env_file=".env", env_file_encoding="utf-8"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then ``.env``, then the TOML file, then defaults."""
        return (init_settings, env_settings, dotenv_settings, *_toml(settings_cls))

    data_dir: Path = Path(".keyplane")
    """Where the default SQLite database and the generated server secret live."""

    database_url: str = ""
    """``sqlite:///path.db`` or ``postgresql://user@host:5432/db``; empty means SQLite in data_dir."""

    secret_key: str = ""
    """Server secret for keyed hashing of credentials. Generated into data_dir when empty."""

    secret_key_previous: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Former server secrets, comma-separated, while a rotation is under way: credentials
    hashed under one still verify (and are re-hashed under ``secret_key`` when used), and
    signing keys sealed under one are re-sealed under ``secret_key`` at start."""

    database_connect_timeout: float = Field(default=2.0, gt=0)
    """Seconds to open a database connection before the request is answered 503."""

    database_statement_timeout: float = Field(default=3.0, gt=0)
    """Seconds a statement may run (or wait for a lock) before the request is answered 503."""

    database_pool_timeout: float = Field(default=2.0, gt=0)
    """Seconds a request waits for a pooled connection before it is answered 503."""

    database_pool_size: int = Field(default=20, ge=1, le=1000)
    """PostgreSQL connections each process keeps open; as many as half that again are
    opened for bursts. Every process also holds two of its own (the invalidation log's
    reader and ``LISTEN``): keep processes x (1.5 x this + 2) under the server's
    ``max_connections``."""

    redis_url: str = ""
    redis_prefix: str = "keyplane:"
    """Prefix of every Redis key and channel Keyplane uses, so several deployments or test
    runs can share one Redis."""

    account: str = ""
    """Id or slug of the account that bare ``/v1/...`` routes serve; empty means the oldest."""

    trusted_proxies: Annotated[list[Network], NoDecode] = Field(default_factory=list)
    """Peers whose ``X-Forwarded-For`` is believed, as comma-separated addresses or CIDRs."""

    token_ttl_seconds: int = Field(default=14 * 24 * 3600, gt=0)
    """Lifetime of user tokens from ``POST /tokens`` (Keygen's default: two weeks)."""

    access_token_ttl_seconds: int = Field(default=3600, gt=0, le=24 * 3600)
    """Lifetime of OAuth2 client-credentials access tokens."""

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest request body taken; a larger one is a 413 ``BODY_TOO_LARGE`` (``keyplane.kit.bodies``)."""

    login_attempts: int = Field(default=10, ge=0)
    """Failed sign-ins (``POST /tokens``) allowed for one email from one client address per
    ``login_window_seconds``; past it, that address's attempts for that email answer 429 until
    the window ends, whatever the password. 0 turns the limit off."""

    login_address_attempts: int = Field(default=100, ge=0)
    """Failed sign-ins allowed from one client address across all emails per window (IPv6: per
    /64). 0 turns the limit off."""

    login_window_seconds: int = Field(default=900, gt=0, le=24 * 3600)
    """The window both sign-in limits are counted in (fixed windows aligned to the epoch)."""

    usage_flush_seconds: float = Field(default=1.0, gt=0)
    """How often batched ``lastUsedAt`` and ``lastValidated`` writes are flushed to the database."""

    usage_resolution_seconds: float = Field(default=60.0, ge=0)
    """``lastUsedAt`` is kept to this precision: a key in constant use is written once per this
    many seconds (per process), its first use at once. 0 writes every use at the next flush."""

    event_retention_days: int = Field(default=90, ge=0, le=36_500)
    """How long the event log keeps an event; older ones are deleted in the background, in
    batches. 0 keeps every event forever."""

    event_prune_seconds: float = Field(default=3600.0, gt=0)
    """How often each process looks for events past their retention (the first look is at start)."""

    unused_key_days: int = Field(default=90, ge=1, le=36_500)
    """An active API key with no use for this many days (since its creation if it was never
    used) is announced once as ``api-key.unused``."""

    notice_seconds: float = Field(default=60.0, gt=0)
    """How often the notifications sweep runs (one process at a time runs it)."""
    webhooks_allow_private: bool = False
    """Let webhook endpoints use ``http`` and addresses on loopback, private, link-local and
    metadata networks (for tests and closed networks: otherwise a caller could make the server
    send requests into the network it sits in)."""

    webhooks_poll_seconds: float = Field(default=0.5, gt=0)
    """How often each process looks for webhook deliveries that are due."""

    webhooks_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    """Connect and read timeout of one webhook delivery."""

    webhooks_retry_seconds: float = Field(default=3.0, gt=0)
    """The first retry's delay; each next one is three times longer (12 attempts over about
    three days with the default)."""

    cache_size: int = Field(default=100_000, ge=0)
    """Most credentials (and as many licenses) each process keeps verified in memory; 0 turns
    the caches off. About 1.7 KB per credential (bench.check): 100,000 cost about 165 MB per process."""

    cache_seconds: float = Field(default=300.0, gt=0)
    """Longest a cached credential or license is kept. Changes reach every process within two
    seconds whatever this says (``keyplane.bus``)."""

    cache_miss_seconds: float = Field(default=5.0, gt=0)
    """How long "no such key" is remembered, so a flood of unknown keys stays off the database."""

    workers: int = Field(default=1, ge=1)
    """How many processes serve this database (``keyplane serve --workers`` sets it)."""

    hot_paths: bool = True
    """Serve the hottest routes (verify, validate-key, reading an API key) with lean
    handlers; the same answers, without the framework's cost. Off: every route via FastAPI."""

    max_connections: int = Field(default=1000, ge=1)
    """Most client connections each ``keyplane serve`` process holds. Past it, the one that
    has waited longest for a request's headers is closed (``keyplane.serving``). At start the
    process raises its descriptor limit to the hard limit; keep this well below that."""

    header_timeout_seconds: float = Field(default=10.0, gt=0)
    """Seconds a client has to send a request's headers, from connecting (or from a request's
    first byte on a kept-alive connection); a slower one is disconnected."""

    rate_limit_fail: Literal["open", "closed"] = "open"
    """What rate limits do while Redis cannot be reached: ``open`` lets requests through
    (logged and counted), ``closed`` refuses them with 503."""

    log_level: str = "info"

    log_format: Literal["json", "text"] | None = None
    """``json`` (one object a line) or ``text``; unset: json unless stderr is a terminal."""

    access_log: bool = True
    """One log line per request: request id, route template, status, duration, account and
    credential id (never a credential, a license key or a fingerprint)."""

    metrics_allow: Annotated[list[Network], NoDecode] = Field(
        default_factory=lambda: [parse_network("127.0.0.0/8"), parse_network("::1/128")]
    )
    """Client addresses (comma-separated addresses or CIDRs) that may read ``/metrics``."""

    @field_validator("trusted_proxies", "metrics_allow", "secret_key_previous", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL for the configured database."""
        from keyplane.db import async_url

        if self.database_url:
            return async_url(self.database_url)
        return async_url(f"sqlite:///{self.data_dir / 'keyplane.db'}")

    @property
    def secret_source(self) -> str:
        """Where the server secret comes from, as the lines about it name it."""
        return "KEYPLANE_SECRET_KEY" if self.secret_key else str(self.data_dir / SECRET_FILE)

    def existing_secret(self) -> bytes | None:
        """The configured server secret (the environment's, else the data dir's file), or
        None when there is none yet; nothing is made."""
        if self.secret_key:
            return self.secret_key.encode()
        if not (self.data_dir / SECRET_FILE).exists():
            return None
        return self._secret_file()

    def server_secret(self) -> bytes:
        """The keyed-hash secret: from the environment, or generated once and kept on disk."""
        found = self.existing_secret()
        if found is not None:
            return found
        self.place_secret(secrets.token_urlsafe(48))  # or a concurrent start placed its own
        return self._secret_file()

    def _secret_file(self) -> bytes:
        path = self.data_dir / SECRET_FILE
        value = path.read_text().strip()
        if not value:
            raise StartupError(
                f"the server secret {path} is empty: restore it from your backup or set KEYPLANE_SECRET_KEY"
            )
        return value.encode()

    def place_secret(self, value: str) -> bool:
        """Write ``value`` as the data dir's secret file unless one is there already (then
        False, and the file is left as it is).

        Several workers may start at once on a fresh install, so the secret is written to a
        private temporary file and hard-linked into place: the link either wins whole or
        fails, and nobody ever reads a half-written secret.
        """
        path = self.data_dir / SECRET_FILE
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        return True


def _toml(settings_cls: type[BaseSettings]) -> tuple[PydanticBaseSettingsSource, ...]:
    """The TOML file ``KEYPLANE_CONFIG`` names, if any: its keys are the settings' names
    (``database_url = "..."``). A missing file or an unknown key is an error, not ignored."""
    named = os.environ.get(CONFIG_VARIABLE)
    if not named:
        return ()
    path = Path(named)
    if not path.is_file():
        raise ValueError(f"{CONFIG_VARIABLE}={named}: no such file")
    source = TomlConfigSettingsSource(settings_cls, toml_file=path)
    unknown = sorted(set(source.toml_data) - set(settings_cls.model_fields))
    if unknown:
        raise ValueError(f"{named}: unknown settings {', '.join(unknown)}")
    return (source,)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
