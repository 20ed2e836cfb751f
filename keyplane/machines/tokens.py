"""What a license token's (Keygen's activation token's) activations and deactivations spend:
its counts, each within its maximum."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import InvalidResource
from keyplane.machines import repository


async def spend_activation(session: AsyncSession, token_id: uuid.UUID) -> None:
    """Count an activation by this token, or 422 ``ACTIVATIONS_LIMIT_EXCEEDED`` when it has
    made its maximum (Keygen's error on the token's ``activations``)."""
    if not await repository.spend_token_activation(session, token_id):
        maximum, _ = await repository.token_maxima(session, token_id)
        raise InvalidResource(
            f"exceeds maximum allowed ({maximum})",
            "ACTIVATIONS_LIMIT_EXCEEDED",
            pointer="/data/attributes/activations",
        )


async def spend_deactivation(session: AsyncSession, token_id: uuid.UUID) -> None:
    """Count a deactivation by this token, or 422 ``DEACTIVATIONS_LIMIT_EXCEEDED``."""
    if not await repository.spend_token_deactivation(session, token_id):
        _, maximum = await repository.token_maxima(session, token_id)
        raise InvalidResource(
            f"exceeds maximum allowed ({maximum})",
            "DEACTIVATIONS_LIMIT_EXCEEDED",
            pointer="/data/attributes/deactivations",
        )
