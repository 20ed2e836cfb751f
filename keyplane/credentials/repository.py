from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from keyplane.auth.scopes import Role
from keyplane.db import ReadFirst, holds_connection, touched
from keyplane.kit.credentials import CredentialKind
from keyplane.models import Credential, User
from keyplane.models.credential import CredentialStatus


def bearer_role() -> ColumnElement[str]:
    """The role a credential acts with: its user's, else ``license`` for a license token,
    else ``product`` (a product token). Its query outer-joins ``User``."""
    return func.coalesce(
        User.role,
        case((Credential.license_id.is_not(None), Role.LICENSE.value), else_=Role.PRODUCT.value),
    )


_PARENT = aliased(Credential)
_BUDGET = aliased(Credential)
_STATE = (
    select(
        Credential.id,
        Credential.account_id,
        Credential.user_id,
        Credential.product_id,
        Credential.license_id,
        Credential.parent_id,
        Credential.kind,
        Credential.digest,
        Credential.scopes,
        Credential.status,
        Credential.deleted_at,
        Credential.expires_at,
        Credential.whitelisted_ips,
        Credential.api_version,
        Credential.name,
        Credential.rate_limit,
        Credential.rate_limit_duration,
        bearer_role().label("role"),
        _PARENT.rate_limit.label("parent_rate_limit"),
        _PARENT.rate_limit_duration.label("parent_rate_limit_duration"),
        _BUDGET.id.label("budget_id"),
        _BUDGET.rate_limit.label("budget_rate_limit"),
        _BUDGET.rate_limit_duration.label("budget_rate_limit_duration"),
    )
    .outerjoin(User, User.id == Credential.user_id)
    .outerjoin(_PARENT, _PARENT.id == Credential.parent_id)
    .outerjoin(_BUDGET, _BUDGET.id == func.coalesce(_PARENT.budget_id, Credential.budget_id))
    .where(Credential.lookup == bindparam("lookup"))
)
"""Built once: an alias made per call costs more than the read itself, and defeats the
compiled-statement cache. Columns, not an entity: a cache miss builds no ORM instance
(identity map, attribute instrumentation), which is most of what a miss costs in Python."""


async def state_row(
    session: AsyncSession, lookup: str, read_first: ReadFirst | None = None
) -> Row[*tuple[Any, ...]] | None:
    """The credential with this lookup handle, with its owner's ``role`` (``product`` for a
    product token), its parent key's rate limit and window (an access token's budget is
    its key's), and the budget it shares with the key that made it (or made its key), if
    any: one indexed point read.

    Made by ``read_first`` (``Database.read_first``) when given and it can, unless
    ``session`` has begun a transaction: it may hold changes that only it sees, and a request
    holding a pooled connection must not wait for a second one."""
    params = {"lookup": lookup}
    if read_first is not None and not holds_connection(session):
        done, row = await read_first(_STATE, params)
        if done:
            return row
    return (await session.execute(_STATE, params)).first()


async def revoke_children(session: AsyncSession, parent_id: uuid.UUID, when: datetime) -> None:
    """Revoke every access token issued for an API key (after the key lost power)."""
    await session.execute(
        update(Credential)
        .where(Credential.parent_id == parent_id, Credential.deleted_at.is_(None))
        .values(deleted_at=when, status=CredentialStatus.INACTIVE, updated_at=when)
    )
    touched(session, parent_id)


async def revoke_user_tokens(
    session: AsyncSession, user_id: uuid.UUID, keep: uuid.UUID | None, when: datetime
) -> list[uuid.UUID]:
    """Revoke every live token of a user but ``keep`` (the one acting, if it is one of
    them); the ids revoked."""
    conditions = [
        Credential.user_id == user_id,
        Credential.kind == CredentialKind.TOKEN.value,
        Credential.deleted_at.is_(None),
    ]
    if keep is not None:
        conditions.append(Credential.id != keep)
    revoked = list(
        (
            await session.scalars(
                update(Credential)
                .where(*conditions)
                .values(deleted_at=when, status=CredentialStatus.INACTIVE, updated_at=when)
                .returning(Credential.id)
            )
        ).all()
    )
    touched(session, *revoked)
    return revoked


def used_tag(credential_id: uuid.UUID) -> str:
    """The cache tag of a credential's ``lastUsedAt``: documents that show it are dropped
    when it moves, the credential's verified state is not."""
    return f"used:{credential_id}"


_CREDENTIALS = cast(Table, Credential.__table__)
_TOUCH = (
    update(_CREDENTIALS)
    .where(
        _CREDENTIALS.c.id == bindparam("used_id"),
        or_(_CREDENTIALS.c.last_used_at.is_(None), _CREDENTIALS.c.last_used_at < bindparam("used_at")),
    )
    .values(last_used_at=bindparam("used_at"), updated_at=_CREDENTIALS.c.updated_at)
)
"""One statement for a whole batch (executemany): a batch has a row per key in use."""


async def touch(session: AsyncSession, uses: Iterable[tuple[uuid.UUID, datetime]]) -> None:
    """Move ``last_used_at`` forward, never back (batches from several processes interleave).
    Using a key is not an edit: ``updated_at`` stays."""
    batch = list(uses)
    if not batch:
        return
    touched(session, *(used_tag(credential_id) for credential_id, _ in batch))
    await session.execute(
        _TOUCH, [{"used_id": credential_id, "used_at": when} for credential_id, when in batch]
    )


_REHASH = (
    update(_CREDENTIALS)
    .where(_CREDENTIALS.c.id == bindparam("rehash_id"), _CREDENTIALS.c.digest == bindparam("stored"))
    .values(digest=bindparam("rehashed"), updated_at=_CREDENTIALS.c.updated_at)
)


async def rehash(session: AsyncSession, rows: Iterable[tuple[uuid.UUID, bytes, bytes]]) -> None:
    """Store each credential's digest under the current server secret in place of the one
    under a former secret, unless its digest changed meanwhile. No cache forgets anything:
    the credential, and what it may do, are the same. Not an edit: ``updated_at`` stays."""
    batch = [
        {"rehash_id": credential_id, "stored": stored, "rehashed": digest}
        for credential_id, stored, digest in rows
    ]
    if batch:
        await session.execute(_REHASH, batch)
