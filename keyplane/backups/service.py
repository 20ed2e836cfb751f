"""Making and restoring backups (``keyplane backup`` / ``keyplane restore``).

A backup is refused when it would be of no use (the configured secret is not the
database's); a restore is refused when it would leave a database no secret opens, replace
the secret a deployment is configured with, or overwrite a database that holds anything
(unless forced). Every refusal is a ``Refused`` whose text is the one line to print.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

import anyio
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from keyplane import __version__, startup
from keyplane.backups import archive, copies, rules, seal
from keyplane.backups.archive import DATABASE, Backend, Damaged, Manifest
from keyplane.config import SECRET_FILE, Settings
from keyplane.db import Database
from keyplane.kit import clock
from keyplane.kit.timefmt import iso
from keyplane.secret import repository as secret_repository
from keyplane.secret import rules as secret_rules


class Refused(Exception):
    """The backup or restore cannot be made; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Target:
    """The database the settings name."""

    backend: Backend
    url: URL
    name: str
    """The database's name (PostgreSQL) or file (SQLite)."""

    @property
    def path(self) -> Path:
        return Path(self.name)


def target(settings: Settings) -> Target:
    url = startup.database_url(settings.resolved_database_url())
    backend: Backend = "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"
    return Target(backend, url, url.database or url.username or "")


async def back_up(settings: Settings, path: Path, passphrase: str | None, workdir: Path) -> Manifest:
    """Write the backup of the configured database to ``path``, with the server secret
    sealed under ``passphrase`` (None: without the secret). ``workdir``: room for the copy."""
    where = target(settings)
    secret = settings.existing_secret()
    if passphrase is not None and secret is None:
        raise Refused(f"there is no server secret to back up: {settings.secret_source} does not exist")
    copy: Path | None = None
    if where.backend == "sqlite":
        if not where.path.is_file():
            raise Refused(f"there is no SQLite database at {where.path}")
        copy = workdir / DATABASE
        copies.online_copy(where.path, copy)
        verifier = await _verifier(f"sqlite:///{copy}", where.name)
    else:
        verifier = await _verifier(where.url.render_as_string(hide_password=False), where.name)
    if secret is not None and verifier is not None:
        previous = tuple(old.encode() for old in settings.secret_key_previous)
        found = secret_rules.match(verifier, secret, previous)
        if found is secret_rules.Match.PREVIOUS:
            raise Refused(
                "a rotation of the server secret is under way: start Keyplane once to finish it, then back up"
            )
        if found is not secret_rules.Match.CURRENT:
            raise Refused(
                f"the server secret ({settings.secret_source}) is not the one this database was set up with: "
                "back up with that secret"
            )
    manifest = Manifest(
        database=where.backend,
        database_name=where.path.name if where.backend == "sqlite" else where.name,
        created_at=iso(clock.now()),
        keyplane=__version__,
        verifier=verifier,
        database_sha256=archive.sha256_of(copy) if copy is not None else None,
    )
    if passphrase is not None and secret is not None:
        manifest = replace(manifest, secret=seal.seal(secret, passphrase, manifest.context()))
    try:
        archive.write(path, manifest, copy)
    except OSError as error:
        raise Refused(f"cannot write {path}: {error.strerror or error}") from None
    return manifest


async def _verifier(url: str, name: str) -> str | None:
    database = Database(url)
    try:
        async with database.reader() as session:
            return await secret_repository.verifier(session)
    except DBAPIError as error:
        if "no such table" in str(error.orig):
            raise Refused(f"{name} is not a Keyplane database (run `keyplane db upgrade` first)") from None
        raise
    finally:
        await database.dispose()


def open_backup(path: Path, workdir: Path) -> Manifest:
    """The backup's manifest; its database (if any) is written to ``workdir``."""
    try:
        manifest = archive.read(path, workdir / DATABASE)
        if manifest.database_sha256 is not None:
            copies.check(workdir / DATABASE)
    except Damaged as damaged:
        raise Refused(f"{path} is not a Keyplane backup, or is damaged: {damaged}") from None
    except OSError as error:
        raise Refused(f"cannot read {path}: {error.strerror or error}") from None
    return manifest


def open_secret(manifest: Manifest, passphrase: str) -> bytes:
    """The backup's server secret (it holds one)."""
    if manifest.secret is None:
        raise ValueError("this backup holds no secret")
    opened = seal.unseal(manifest.secret, passphrase, manifest.context())
    if opened is None:
        raise Refused("the passphrase does not open this backup (or the backup was altered)")
    return opened


@dataclass(frozen=True, slots=True)
class Restored:
    target: Target
    secret: rules.Secret
    """KEEP (the configured secret is the backup's) or PLACE (written into the data dir)."""


async def restore(
    settings: Settings, manifest: Manifest, workdir: Path, secret: bytes | None, *, force: bool
) -> Restored:
    """Put the backup's database (SQLite) and secret in place, or refuse and change nothing.
    ``secret``: the backup's, opened (None when it holds none)."""
    where = target(settings)
    if manifest.database != where.backend:
        raise Refused(
            f"this is a backup of a {manifest.database} database, and the configured one is {where.backend}"
        )
    decision = rules.decide(secret, settings.existing_secret(), manifest.verifier)
    if decision is rules.Secret.MISMATCH:
        raise Refused(
            f"the backup's database was set up with another server secret than the configured one "
            f"({settings.secret_source}): restore it where no other secret is configured"
        )
    if decision is rules.Secret.MISSING:
        raise Refused(
            "this backup holds no server secret, and none is configured: put the one it was made with "
            f"in {settings.data_dir / SECRET_FILE} or KEYPLANE_SECRET_KEY first"
        )
    if decision is rules.Secret.INCONSISTENT:
        raise Refused("the backup's server secret is not its database's: the backup is damaged")
    if where.backend == "sqlite":
        if not force and await _holds_anything(where.path):
            raise Refused(
                f"{where.path} already holds a Keyplane database: stop Keyplane and restore with --force"
            )
        copies.install(workdir / DATABASE, where.path)
    if decision is rules.Secret.PLACE and secret is not None:
        try:
            settings.place_secret(secret.decode())
        except OSError as error:
            raise Refused(
                f"cannot write the server secret into {settings.data_dir}: {error.strerror}"
            ) from None
    return Restored(where, decision)


async def _holds_anything(path: Path) -> bool:
    if not await anyio.Path(path).exists():
        return False
    database = Database(f"sqlite:///{path}")
    try:
        async with database.reader() as session:
            return await secret_repository.in_use(session)
    except DBAPIError:
        return False  # no Keyplane schema: nothing of Keyplane's to lose
    finally:
        await database.dispose()


def dump_path(path: Path) -> Path:
    """Where the PostgreSQL dump that goes with the backup file ``path`` is written."""
    return path.with_suffix(".dump") if path.suffix != ".dump" else path.with_suffix(".pgdump")


def pg_commands(where: Target, dump: Path) -> tuple[str, str]:
    """The ``pg_dump`` and ``pg_restore`` commands for the configured PostgreSQL database
    (its host, port, user and name; never its password: libpq asks, or reads PGPASSWORD or
    ~/.pgpass)."""
    url = where.url
    options = [f"--host={url.host}"] if url.host else []
    options += [f"--port={url.port}"] if url.port else []
    options += [f"--username={url.username}"] if url.username else []
    dump_command = ["pg_dump", "--format=custom", f"--file={dump}", *options, where.name]
    restore_command = [
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        *options,
        f"--dbname={where.name}",
        str(dump),
    ]
    return shlex.join(dump_command), shlex.join(restore_command)
