"""Attaching users to a record by a list of ids (Keygen's license users and group owners:
app/controllers/api/v1/licenses/relationships/users_controller.rb,
app/controllers/api/v1/groups/relationships/owners_controller.rb): the rules both share,
with Keygen's codes and pointers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import BadRequest, InvalidResource
from keyplane.models import GroupOwner, LicenseUser

MOST = 100
"""Most users one attach or detach names (Keygen's ``length: { minimum: 1, maximum: 100 }``)."""
USER_POINTER = "/data/relationships/user"


def refuse_length(user_ids: list[uuid.UUID]) -> None:
    if not 1 <= len(user_ids) <= MOST:
        raise BadRequest(f"length must be between 1 and {MOST} (inclusive)", "DATA_INVALID", pointer="/data")


def refuse_unknown(existing: set[uuid.UUID], user_ids: list[uuid.UUID]) -> None:
    """422 ``USER_NOT_FOUND`` when a user is not one of the account's (``existing``)."""
    if set(user_ids) - existing:
        raise InvalidResource("must exist", "USER_NOT_FOUND", pointer=USER_POINTER)


def refuse_taken(already: set[uuid.UUID], user_ids: list[uuid.UUID]) -> None:
    """422 ``USER_TAKEN`` when a user is attached already, or named twice."""
    if already.intersection(user_ids) or len(set(user_ids)) < len(user_ids):
        raise InvalidResource("already exists", "USER_TAKEN", pointer=USER_POINTER)


def first_missing(already: set[uuid.UUID], user_ids: list[uuid.UUID]) -> tuple[uuid.UUID, str] | None:
    """The first user not attached and its pointer (``/data/<index>``), to refuse a detach."""
    missing = next((user_id for user_id in user_ids if user_id not in already), None)
    return None if missing is None else (missing, f"/data/{user_ids.index(missing)}")


async def add(session: AsyncSession, rows: Sequence[LicenseUser | GroupOwner]) -> None:
    """Write the links; one written meanwhile by a concurrent request is ``USER_TAKEN``."""
    session.add_all(rows)
    try:
        await session.flush()
    except IntegrityError:
        raise InvalidResource("already exists", "USER_TAKEN", pointer=USER_POINTER) from None
