"""Opening the server secret at start: never a new one over a database made under another,
and never a start whose secret does not open what the database holds."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.accounts.signing import KeyRing
from keyplane.config import SECRET_FILE, Settings
from keyplane.db import Database
from keyplane.secret import repository, rules
from keyplane.secret.rules import REFUSALS, Action, Match, Plan, Reason, Seals
from keyplane.startup import StartupError

log = logging.getLogger("keyplane.secret")

MISSING = (
    "the server secret {path} is missing, and this database was set up with one: "
    "restore {path} from your backup or set KEYPLANE_SECRET_KEY"
)


@dataclass(frozen=True, slots=True)
class ServerSecrets:
    """The secret this process hashes and seals with, and the former ones it still accepts."""

    current: bytes
    previous: tuple[bytes, ...] = ()


@dataclass(slots=True)
class _Look:
    plan: Plan
    seals: Seals | None = None
    due: list[tuple[uuid.UUID, bytes, bytes]] = field(default_factory=list)
    """Signing keys a previous secret sealed: (account id, sealed key, its seed)."""


async def open_secrets(settings: Settings, database: Database) -> ServerSecrets:
    """The configured server secrets, once the database agrees with them: the verifier is
    written on a database without one, and a rotation re-seals the signing keys (one
    transaction; concurrent starters act one after the other). A ``StartupError`` when the
    process must not start."""
    current = await _current(settings, database)
    previous = tuple(
        dict.fromkeys(old.encode() for old in settings.secret_key_previous if old.encode() != current)
    )
    secrets = ServerSecrets(current, previous)
    source = settings.secret_source
    # Most starts find the verifier of the current secret and nothing to re-seal: one read.
    async with database.reader() as session:
        look = await _look(session, secrets)
    if look.plan.action is Action.GO:
        return secrets
    if look.plan.action is Action.REFUSE:
        raise _refusal(look, source)
    async with database.writer() as session:
        await repository.lock(session)
        # Again, under the lock: another starter may have done it meanwhile.
        look = await _look(session, secrets)
        if look.plan.action is Action.REFUSE:
            raise _refusal(look, source)
        await _apply(session, look, secrets)
        await session.commit()
    return secrets


async def _current(settings: Settings, database: Database) -> bytes:
    path = settings.data_dir / SECRET_FILE
    if not settings.secret_key and not path.exists():
        # A new secret over a database made under another would turn every key invalid.
        async with database.reader() as session:
            if await repository.in_use(session):
                raise StartupError(MISSING.format(path=path))
    try:
        return settings.server_secret()
    except OSError as error:
        raise StartupError(f"cannot read or create the server secret {path}: {error.strerror}") from None


async def _look(session: AsyncSession, secrets: ServerSecrets) -> _Look:
    found = rules.match(await repository.verifier(session), secrets.current, secrets.previous)
    if found is Match.OTHER or (found is Match.CURRENT and not secrets.previous):
        return _Look(rules.decide(found, None))
    ring = KeyRing(secrets.current, secrets.previous)
    current = neither = 0
    due: list[tuple[uuid.UUID, bytes, bytes]] = []
    for account_id, sealed in await repository.sealed_keys(session):
        opened = ring.unseal(account_id, sealed)
        if opened is None:
            neither += 1
        elif opened[1]:
            current += 1
        else:
            due.append((account_id, sealed, opened[0]))
    seals = Seals(current=current, previous=len(due), neither=neither)
    return _Look(rules.decide(found, seals), seals, due)


async def _apply(session: AsyncSession, look: _Look, secrets: ServerSecrets) -> None:
    if look.plan.action is Action.GO:
        return
    ring = KeyRing(secrets.current)
    await repository.reseal(
        session,
        [(account_id, sealed, ring.seal_seed(account_id, seed)) for account_id, sealed, seed in look.due],
    )
    await repository.save_verifier(session, rules.verifier(secrets.current))
    if look.plan.action is Action.ROTATE:
        log.info("secret.rotated", extra={"accounts": len(look.due)})
    else:
        log.info("secret.adopted")


def _refusal(look: _Look, source: str) -> StartupError:
    reason = look.plan.reason or Reason.WRONG_SECRET
    count = look.seals.neither if look.seals is not None else 0
    return StartupError(REFUSALS[reason].format(source=source, count=count))
