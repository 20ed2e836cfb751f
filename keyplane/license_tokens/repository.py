"""Queries on license tokens (what they spend is counted by ``keyplane.machines.repository``)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kit import paging
from keyplane.models import Credential


async def page(session: AsyncSession, license_id: uuid.UUID, paged: paging.Paging) -> paging.Page[Credential]:
    """A page of the license's live tokens, newest first."""
    return await paging.fetch(
        session,
        paged,
        select(Credential),
        Credential.id,
        [Credential.license_id == license_id, Credential.deleted_at.is_(None)],
    )


async def one(session: AsyncSession, license_id: uuid.UUID, token_id: uuid.UUID) -> Credential | None:
    return await session.scalar(
        select(Credential).where(
            Credential.license_id == license_id, Credential.deleted_at.is_(None), Credential.id == token_id
        )
    )
