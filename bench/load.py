"""``python -m bench.load``: bulk-load API keys for an account's first admin straight into
the database.

Each row is what ``CredentialEngine.mint(CredentialKind.API_KEY, ...)`` makes for a key an
admin creates through the API with no scopes given (the admin's scopes, the current API
version): a fresh plaintext from ``keyplane.kit.credentials.generate``, its lookup handle,
its ``start`` and ``HMAC-SHA256(server secret, plaintext)``. The secret must therefore be
the server's (``KEYPLANE_SECRET_KEY``, or the one in ``KEYPLANE_DATA_DIR``).

Rows go in batches of ``--batch`` (10,000), one transaction each: SQLAlchemy Core
``executemany`` on SQLite, ``COPY`` (asyncpg's ``copy_records_to_table``) on PostgreSQL,
followed there by ``VACUUM ANALYZE credentials`` so the planner knows the table's new size.
Then everything is written out to disk (``settle``): a benchmark that follows measures the
server, not the load's writing.
Only the plaintexts of a sample are kept (``--sample``, written to ``--out``); the rest
are dropped as soon as their digest is computed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from sqlalchemy import Table, func, insert, or_, select
from sqlalchemy.engine import make_url

from bench.common import console
from keyplane.auth.scopes import Role, ordered, role_scopes
from keyplane.config import get_settings
from keyplane.credentials import versions
from keyplane.db import Database, async_url
from keyplane.kit import clock
from keyplane.kit.credentials import CredentialHasher, CredentialKind, generate
from keyplane.kit.ids import as_uuid, uuid7
from keyplane.models import Account, Credential, User

BATCH = 10_000
KIND = CredentialKind.API_KEY
COLUMNS = (
    "id",
    "account_id",
    "user_id",
    "kind",
    "lookup",
    "digest",
    "start",
    "name",
    "scopes",
    "status",
    "api_version",
    "created_at",
    "updated_at",
    "activations",
    "deactivations",
)
"""The columns a minted API key sets; every other column keeps its default (NULL). The
counters with a default on the model are set (to 0), or a compiled INSERT would carry them."""


@dataclass(frozen=True)
class Owner:
    account_id: uuid.UUID
    user_id: uuid.UUID
    scopes: list[str]


@dataclass(frozen=True)
class Sample:
    index: int
    """Position among the keys this load inserted (0-based)."""
    id: uuid.UUID
    plaintext: str


@dataclass
class Loaded:
    inserted: int
    seconds: float
    stored: int
    """The account's API keys after loading (including any it had before)."""
    samples: list[Sample] = field(default_factory=list)
    settled: float = 0.0
    """Seconds spent writing the load out to disk before any timed run (``settle``)."""

    @property
    def rate(self) -> float:
        return self.inserted / self.seconds if self.seconds else 0.0


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} keys/s" if speed else "- keys/s", style="progress.data.speed")


async def find_owner(database: Database, account: str) -> Owner:
    """The account (id or slug) and its first admin user, whose keys these will be."""
    async with database.reader() as session:
        account_id = as_uuid(account)
        found = (
            await session.execute(
                select(Account.id).where(
                    or_(Account.slug == account, Account.id == account_id)
                    if account_id
                    else Account.slug == account
                )
            )
        ).scalar_one_or_none()
        if found is None:
            raise SystemExit(f"no account {account!r} in this database")
        admin = (
            await session.execute(
                select(User.id, User.role)
                .where(User.account_id == found, User.role == Role.ADMIN.value)
                .order_by(User.created_at, User.id)
                .limit(1)
            )
        ).first()
        if admin is None:
            raise SystemExit(f"account {account!r} has no admin user")
    return Owner(found, admin[0], ordered(role_scopes(admin[1])))


async def count_keys(database: Database, account_id: uuid.UUID) -> int:
    async with database.reader() as session:
        statement = (
            select(func.count())
            .select_from(Credential)
            .where(Credential.account_id == account_id, Credential.kind == KIND.value)
            .where(Credential.deleted_at.is_(None))
        )
        return int((await session.execute(statement)).scalar_one())


def _batch(
    first: int, size: int, owner: Owner, hasher: CredentialHasher, keep: Collection[int] | None, now: datetime
) -> tuple[list[tuple[Any, ...]], list[Sample]]:
    """``size`` rows (tuples in ``COLUMNS`` order) and the samples among them."""
    rows: list[tuple[Any, ...]] = []
    samples: list[Sample] = []
    digest = hasher.digest
    for index in range(first, first + size):
        plaintext, parsed = generate(KIND)
        id_ = uuid7()
        rows.append(
            (
                id_,
                owner.account_id,
                owner.user_id,
                KIND.value,
                parsed.lookup,
                digest(plaintext),
                parsed.start,
                f"bench {index}",
                owner.scopes,
                "active",
                versions.CURRENT,
                now,
                now,
                0,
                0,
            )
        )
        if keep is None or index in keep:
            samples.append(Sample(index, id_, plaintext))
    return rows, samples


VARYING = frozenset({"id", "lookup", "digest", "start", "name"})
"""The columns that differ between the rows of a batch; the others are the same in all."""

Rows = list[tuple[Any, ...]]


def _sqlite_inserter(database: Database) -> tuple[Callable[[Rows], Rows], Callable[[Rows], Awaitable[None]]]:
    """SQLite: a Core INSERT compiled once; each value converted by its column type's own
    bind processor (the constant columns once per batch), then one ``executemany`` per batch
    in a write transaction."""
    dialect = database.engine.dialect
    table = cast(Table, Credential.__table__)
    compiled = insert(table).compile(dialect=dialect, column_keys=list(COLUMNS))
    order = [COLUMNS.index(key) for key in compiled.positiontup or ()]
    assert len(order) == len(COLUMNS), "a positional paramstyle was expected"
    processors = [table.c[COLUMNS[i]].type.dialect_impl(dialect).bind_processor(dialect) for i in order]
    varying = [position for position, i in enumerate(order) if COLUMNS[i] in VARYING]
    sql = str(compiled)

    def convert(rows: Rows) -> Rows:
        if not rows:
            return rows
        same = [
            process(rows[0][i]) if process else rows[0][i]
            for i, process in zip(order, processors, strict=True)
        ]
        steps = [(position, order[position], processors[position]) for position in varying]
        converted = []
        for row in rows:
            values = list(same)
            for position, i, process in steps:
                values[position] = process(row[i]) if process else row[i]
            converted.append(tuple(values))
        return converted

    async def write(rows: Rows) -> None:
        async with database.writer() as session:
            connection = await session.connection()
            # The loader's own page cache (256 MiB): the random lookup index outgrows the 2 MiB
            # default long before a million rows. The server's connections keep their settings.
            await connection.exec_driver_sql("PRAGMA cache_size=-262144")
            await connection.exec_driver_sql(sql, rows)
            await session.commit()

    return convert, write


async def _postgres_inserter(
    url: str, owner: Owner
) -> tuple[Callable[[Rows], Rows], Callable[[Rows], Awaitable[None]], Callable[[], Awaitable[None]]]:
    """PostgreSQL: ``COPY`` (asyncpg's ``copy_records_to_table``) per batch, in a transaction."""
    import asyncpg

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(plain)
    scopes = json.dumps(owner.scopes)  # JSON goes over COPY as its text
    at = COLUMNS.index("scopes")

    def convert(rows: Rows) -> Rows:
        return [(*row[:at], scopes, *row[at + 1 :]) for row in rows]

    async def write(rows: Rows) -> None:
        async with connection.transaction():
            await connection.copy_records_to_table("credentials", records=rows, columns=COLUMNS)

    async def close() -> None:
        try:
            # The planner learns the table's new size now, not whenever autovacuum runs (which
            # could be in the middle of a timed load).
            await connection.execute("VACUUM ANALYZE credentials")
            # And the load's dirty pages are written now: left to the checkpointer, they are
            # written during the next few minutes, which are the timed loads', on the same cores.
            try:
                await connection.execute("CHECKPOINT")
            except asyncpg.InsufficientPrivilegeError:
                console.print("[yellow]no CHECKPOINT (needs superuser or pg_checkpoint)[/]")
        finally:
            await connection.close()

    return convert, write, close


async def load(
    url: str,
    secret: bytes,
    account: str,
    count: int,
    keep: Collection[int] | None = None,
    batch: int = BATCH,
) -> Loaded:
    """Insert ``count`` API keys; keep the plaintexts of the ``keep`` indices (None: all).

    Batch k+1 is built (keys generated, digests computed) while batch k is being written:
    the database works in another thread (SQLite) or process (PostgreSQL)."""
    hasher = CredentialHasher(secret)
    database = Database(async_url(url))
    try:
        owner = await find_owner(database, account)
        close: Callable[[], Awaitable[None]] | None = None
        if database.is_sqlite:
            convert, write = _sqlite_inserter(database)
        else:
            convert, write, close = await _postgres_inserter(url, owner)
        samples: list[Sample] = []
        progress = Progress(
            TextColumn("loading API keys"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        started = time.perf_counter()
        try:
            with progress:
                task = progress.add_task("load", total=count)

                async def written(rows: Rows) -> None:
                    await write(rows)
                    progress.advance(task, len(rows))

                pending: asyncio.Task[None] | None = None
                for first in range(0, count, batch):
                    rows, kept = _batch(first, min(batch, count - first), owner, hasher, keep, clock.now())
                    samples += kept
                    rows = convert(rows)
                    if pending is not None:
                        await pending
                    pending = asyncio.create_task(written(rows))
                    await asyncio.sleep(0)  # it starts before the next batch is built
                if pending is not None:
                    await pending
        finally:
            if close is not None:
                await close()
        seconds = time.perf_counter() - started
        stored = await count_keys(database, owner.account_id)
        settled = await settle(database)
    finally:
        await database.dispose()
    return Loaded(count, seconds, stored, samples, settled)


async def settle(database: Database) -> float:
    """Write what the load left in memory to disk now (SQLite's WAL into the database file,
    then every dirty page of the OS), so that the timed loads that follow do not share the
    cores with that writing. Returns the seconds it took."""
    started = time.perf_counter()
    if database.is_sqlite:
        await asyncio.to_thread(_checkpoint, make_url(database.url).database or "")
    await asyncio.to_thread(os.sync)
    return time.perf_counter() - started


def _checkpoint(path: str) -> None:
    # Outside any transaction (Keyplane's connections always open one), so plain sqlite3.
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def report(loaded: Loaded, label: str = "") -> None:
    console.print(
        f"{label}loaded {loaded.inserted:,} API keys in {loaded.seconds:.1f} s "
        f"({loaded.rate:,.0f} keys/s); the account now has {loaded.stored:,} API keys; "
        f"written out to disk in {loaded.settled:.1f} s"
    )


def pick(population: int, size: int) -> list[int]:
    """``size`` distinct indices of ``range(population)``, uniformly at random."""
    return random.SystemRandom().sample(range(population), min(size, population))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--keys", type=int, required=True, help="how many API keys to insert")
    parser.add_argument("--account", required=True, help="the account's slug or id")
    parser.add_argument(
        "--database-url",
        default="",
        help="sqlite:///file.db or postgresql://user@host:5432/db (default: KEYPLANE_DATABASE_URL or "
        "the SQLite file in KEYPLANE_DATA_DIR)",
    )
    parser.add_argument("--batch", type=int, default=BATCH, help="rows per transaction")
    parser.add_argument("--sample", type=int, default=0, help="keep this many random plaintexts")
    parser.add_argument("--out", type=Path, help="write the kept plaintexts here, one a line")
    args = parser.parse_args(argv)
    settings = get_settings()
    url = args.database_url or settings.resolved_database_url()
    keep = set(pick(args.keys, args.sample))
    loaded = asyncio.run(load(url, settings.server_secret(), args.account, args.keys, keep, args.batch))
    report(loaded)
    if args.out is not None:
        args.out.write_text("".join(f"{sample.plaintext}\n" for sample in loaded.samples))
        console.print(f"{len(loaded.samples):,} plaintexts written to {args.out}")


if __name__ == "__main__":
    main()
