"""Queries on license tokens: their pages, and the counts they spend."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kit import clock, paging
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


async def spend_activation(session: AsyncSession, token_id: uuid.UUID) -> bool:
    """Count one activation against the token, unless that would pass its maximum: one
    conditional UPDATE, so concurrent activations never count past it (the row's lock
    serializes them on PostgreSQL; SQLite has one writer)."""
    result = await session.execute(
        update(Credential)
        .where(
            Credential.id == token_id,
            (Credential.max_activations.is_(None)) | (Credential.activations < Credential.max_activations),
        )
        .values(activations=Credential.activations + 1, updated_at=clock.now())
        .returning(Credential.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def spend_deactivation(session: AsyncSession, token_id: uuid.UUID) -> bool:
    """``spend_activation`` for a deactivation."""
    result = await session.execute(
        update(Credential)
        .where(
            Credential.id == token_id,
            (Credential.max_deactivations.is_(None))
            | (Credential.deactivations < Credential.max_deactivations),
        )
        .values(deactivations=Credential.deactivations + 1, updated_at=clock.now())
        .returning(Credential.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def maxima(session: AsyncSession, token_id: uuid.UUID) -> tuple[int | None, int | None]:
    """The token's maximum activations and deactivations."""
    row = (
        await session.execute(
            select(Credential.max_activations, Credential.max_deactivations).where(Credential.id == token_id)
        )
    ).one()
    return row[0], row[1]
