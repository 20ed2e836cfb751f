"""The backup file: a gzipped tar of ``manifest.json`` and, for SQLite, ``keyplane.db``.

The manifest says what the backup holds: which database, the digest of the copy, the
verifier of the server secret the database was set up with (``keyplane.secret.rules``:
it tells that secret apart, and says nothing of it) and that secret sealed with the
operator's passphrase, or nothing. The sealed secret is bound to the rest of the manifest,
so with a passphrase the whole backup is authenticated; without one, the digest still tells
a damaged copy.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from keyplane.backups.seal import Sealed

FORMAT = "keyplane-backup"
VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "keyplane.db"
_MAX_MANIFEST = 64 * 1024

Backend = Literal["sqlite", "postgresql"]


class Damaged(Exception):
    """The file is not a Keyplane backup, or was altered or cut short."""


@dataclass(frozen=True, slots=True)
class Manifest:
    database: Backend
    database_name: str
    """The file's name (SQLite) or the database's (PostgreSQL), as it was backed up."""
    created_at: str
    keyplane: str
    """The version that made it."""
    verifier: str | None
    """The database's verifier of its server secret; None for one no start had checked yet."""
    database_sha256: str | None = None
    """SHA-256 of ``keyplane.db`` (SQLite only)."""
    secret: Sealed | None = field(default=None)

    def context(self) -> bytes:
        """Everything but the sealed secret, as the bytes the sealed secret is bound to."""
        return json.dumps(self._fields(), sort_keys=True, separators=(",", ":")).encode()

    def _fields(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "database": self.database,
            "databaseName": self.database_name,
            "createdAt": self.created_at,
            "keyplane": self.keyplane,
            "verifier": self.verifier,
            "databaseSha256": self.database_sha256,
        }

    def to_json(self) -> dict[str, Any]:
        return self._fields() | {"secret": self.secret.to_json() if self.secret else None}

    @classmethod
    def from_json(cls, value: Any) -> Manifest:
        if not isinstance(value, dict) or value.get("format") != FORMAT:
            raise Damaged("not a Keyplane backup")
        if value.get("version") != VERSION:
            raise Damaged(
                f"a backup of format version {value.get('version')!r}, which this Keyplane cannot read"
            )
        try:
            database = value["database"]
            if database not in ("sqlite", "postgresql"):
                raise ValueError(database)
            texts = [value[name] for name in ("databaseName", "createdAt", "keyplane")]
            optional = [value.get(name) for name in ("verifier", "databaseSha256")]
            if not all(isinstance(text, str) for text in texts) or not all(
                text is None or isinstance(text, str) for text in optional
            ):
                raise ValueError("a field of the wrong type")
            sealed = Sealed.from_json(value["secret"]) if value.get("secret") is not None else None
        except (KeyError, ValueError) as error:
            raise Damaged(f"its manifest is damaged ({error})") from None
        return cls(database, texts[0], texts[1], texts[2], optional[0], optional[1], sealed)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write(path: Path, manifest: Manifest, database: Path | None) -> None:
    """Write the backup to ``path`` (readable by its owner alone), whole or not at all: it is
    written beside it and renamed into place."""
    if (database is None) != (manifest.database_sha256 is None):
        raise ValueError("a database copy goes with its digest")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
            body = json.dumps(manifest.to_json(), indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(body), 0o600
            tar.addfile(info, io.BytesIO(body))
            if database is not None:
                tar.add(database, arcname=DATABASE, recursive=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read(path: Path, into: Path) -> Manifest:
    """The backup's manifest, its database copy (if any) written to ``into`` and checked
    against its digest; ``Damaged`` for anything else."""
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            manifest = Manifest.from_json(json.loads(_member(tar, MANIFEST, _MAX_MANIFEST)))
            if manifest.database_sha256 is None:
                return manifest
            source = tar.extractfile(_entry(tar, DATABASE))
            if source is None:
                raise Damaged(f"its {DATABASE} is not a file")
            with source, into.open("wb") as target:
                for block in iter(lambda: source.read(1 << 20), b""):
                    target.write(block)
    except (tarfile.TarError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Damaged(f"it cannot be read ({error})") from None
    except OSError as error:  # a gzip stream cut short or altered (BadGzipFile)
        if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError):
            raise
        raise Damaged(f"it cannot be read ({error})") from None
    if sha256_of(into) != manifest.database_sha256:
        raise Damaged(f"its {DATABASE} does not match its digest")
    return manifest


def _entry(tar: tarfile.TarFile, name: str) -> tarfile.TarInfo:
    try:
        entry = tar.getmember(name)
    except KeyError:
        raise Damaged(f"it holds no {name}") from None
    if not entry.isfile():
        raise Damaged(f"its {name} is not a file")
    return entry


def _member(tar: tarfile.TarFile, name: str, limit: int) -> bytes:
    entry = _entry(tar, name)
    if entry.size > limit:
        raise Damaged(f"its {name} is too large")
    handle = tar.extractfile(entry)
    if handle is None:
        raise Damaged(f"its {name} is not a file")
    with handle:
        return handle.read()
