from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Row, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.scopes import Role
from keyplane.models import Credential, User


async def state_row(session: AsyncSession, lookup: str) -> Row[Credential, str] | None:
    """The credential with this lookup handle and its owner's role (``product`` for a product
    token): one indexed point read."""
    statement = (
        select(Credential, func.coalesce(User.role, Role.PRODUCT.value))
        .outerjoin(User, User.id == Credential.user_id)
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


async def touch(session: AsyncSession, uses: Iterable[tuple[uuid.UUID, datetime]]) -> None:
    """Move ``last_used_at`` forward, never back (batches from several processes interleave)."""
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
