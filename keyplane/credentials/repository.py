from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Row, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from keyplane.auth.scopes import Role
from keyplane.db import touched
from keyplane.models import Credential, User


async def state_row(
    session: AsyncSession, lookup: str
) -> Row[Credential, str, int | None, int | None] | None:
    """The credential with this lookup handle, its owner's role (``product`` for a product
    token) and its parent key's rate limit and window (an access token's budget is its key's):
    one indexed point read."""
    parent = aliased(Credential)
    statement = (
        select(
            Credential,
            func.coalesce(User.role, Role.PRODUCT.value),
            parent.rate_limit,
            parent.rate_limit_duration,
        )
        .outerjoin(User, User.id == Credential.user_id)
        .outerjoin(parent, parent.id == Credential.parent_id)
        .where(Credential.lookup == lookup)
    )
    return (await session.execute(statement)).first()


async def revoke_children(session: AsyncSession, parent_id: uuid.UUID, when: datetime) -> None:
    """Revoke every access token issued for an API key (after the key lost power)."""
    await session.execute(
        update(Credential)
        .where(Credential.parent_id == parent_id, Credential.deleted_at.is_(None))
        .values(deleted_at=when, status="inactive", updated_at=when)
    )
    touched(session, parent_id)


def used_tag(credential_id: uuid.UUID) -> str:
    """The cache tag of a credential's ``lastUsedAt``: documents that show it are dropped
    when it moves, the credential's verified state is not."""
    return f"used:{credential_id}"


async def touch(session: AsyncSession, uses: Iterable[tuple[uuid.UUID, datetime]]) -> None:
    """Move ``last_used_at`` forward, never back (batches from several processes interleave)."""
    uses = list(uses)
    touched(session, *(used_tag(credential_id) for credential_id, _ in uses))
    for credential_id, when in uses:
        await session.execute(
            update(Credential)
            .where(
                Credential.id == credential_id,
                or_(Credential.last_used_at.is_(None), Credential.last_used_at < when),
            )
            .values(last_used_at=when)
            .execution_options(synchronize_session=False)
        )
