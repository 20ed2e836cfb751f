"""``keyplane backup FILE`` and ``keyplane restore FILE`` (``keyplane.backups``)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from keyplane.backups import seal, service
from keyplane.backups.rules import Secret
from keyplane.backups.service import Refused
from keyplane.cli import prompts
from keyplane.config import SECRET_FILE, get_settings

backup_app = typer.Typer()
"""Its commands are ``keyplane``'s own (added without a group name)."""

_PASSPHRASE_STDIN = "Read the passphrase as one line from stdin."


@contextmanager
def _workdir(parent: Path | None, prefix: str) -> Iterator[Path]:
    """A private scratch folder (in ``parent``: a database copy is as large as the
    database, and belongs beside the backup), removed afterwards."""
    try:
        scratch = tempfile.TemporaryDirectory(dir=parent, prefix=prefix)
    except OSError as error:
        prompts.fail(f"cannot write in {parent or tempfile.gettempdir()}: {error.strerror or error}")
    with scratch as path:
        yield Path(path)


@backup_app.command("backup")
def backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write (replaced if it exists).")],
    no_secret: Annotated[
        bool,
        typer.Option("--no-secret", help="Leave the server secret out (keep it with the backup yourself)."),
    ] = False,
    passphrase_stdin: Annotated[bool, typer.Option("--passphrase-stdin", help=_PASSPHRASE_STDIN)] = False,
) -> None:
    """Back up the database and the server secret into FILE, while Keyplane runs.

    SQLite: a consistent copy of the database, with the server secret sealed by a
    passphrase (asked twice, or --passphrase-stdin). PostgreSQL: FILE holds the sealed
    secret, and the pg_dump command to run (and pg_restore's) is printed.

    Example: keyplane backup /backups/keyplane.kpbackup
    """
    passphrase = None
    if not no_secret:
        passphrase = prompts.secret("passphrase", from_stdin=passphrase_stdin)
        refused = seal.passphrase_refusal(passphrase)
        if refused is not None:
            prompts.fail(refused)
    settings = get_settings()
    if not file.parent.is_dir():
        prompts.fail(f"there is no folder {file.parent} to write {file.name} in")
    try:
        with _workdir(file.parent, ".keyplane-backup-") as workdir:
            manifest = asyncio.run(service.back_up(settings, file, passphrase, workdir))
    except Refused as refusal:
        prompts.fail(str(refusal))
    if no_secret:
        typer.echo(
            f"warning: {file} holds no server secret: keep {settings.secret_source} with it, "
            "a restore needs that very secret",
            err=True,
        )
    if settings.secret_key_previous and not no_secret:
        typer.echo(
            "warning: KEYPLANE_SECRET_KEY_PREVIOUS is set: keys not yet re-hashed under the new "
            "secret need a previous one, which the backup does not hold: keep it with the backup",
            err=True,
        )
    if manifest.database == "sqlite":
        typer.echo(f"Backup of {manifest.database_name} written to {file}.", err=True)
        return
    where = service.target(settings)
    dump_command, restore_command = service.pg_commands(where, service.dump_path(file))
    sealed = "sealed server secret" if passphrase is not None else "server secret's verifier"
    typer.echo(f"The {sealed} is in {file}. Back up the database itself with pg_dump:", err=True)
    typer.echo(dump_command)
    typer.echo("and restore it (after `keyplane restore`) with:", err=True)
    typer.echo(restore_command)


@backup_app.command("restore")
def restore(
    file: Annotated[Path, typer.Argument(help="The backup file `keyplane backup` wrote.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that holds data (stop Keyplane first).")
    ] = False,
    passphrase_stdin: Annotated[bool, typer.Option("--passphrase-stdin", help=_PASSPHRASE_STDIN)] = False,
) -> None:
    """Restore a backup: the SQLite database and the server secret.

    The backup's secret goes into the data dir when none is configured; a configured
    secret must be the backup's. An existing database is replaced only with --force.
    PostgreSQL: restores the secret and prints the pg_restore command to run.

    Example: keyplane restore /backups/keyplane.kpbackup
    """
    settings = get_settings()
    if not file.is_file():
        prompts.fail(f"there is no backup file {file}")
    try:
        with _workdir(None, "keyplane-restore-") as workdir:
            manifest = service.open_backup(file, workdir)
            secret = None
            if manifest.secret is not None:
                passphrase = prompts.secret("passphrase", from_stdin=passphrase_stdin, confirm=False)
                secret = service.open_secret(manifest, passphrase)
            restored = asyncio.run(service.restore(settings, manifest, workdir, secret, force=force))
    except Refused as refusal:
        prompts.fail(str(refusal))
    if restored.secret is Secret.PLACE:
        typer.echo(f"The server secret is restored into {settings.data_dir / SECRET_FILE}.", err=True)
    else:
        typer.echo(f"The configured server secret ({settings.secret_source}) is the backup's.", err=True)
    if restored.target.backend == "sqlite":
        typer.echo(
            f"The database of {manifest.created_at} is restored into {restored.target.path}: "
            "start Keyplane (`keyplane serve`).",
            err=True,
        )
        return
    _, restore_command = service.pg_commands(restored.target, service.dump_path(file))
    typer.echo("Now restore the database from its pg_dump file:", err=True)
    typer.echo(restore_command)
