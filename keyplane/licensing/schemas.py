"""Input shapes the licensing resources share: relationship identifiers and metadata."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from keyplane.kit.schemas import StrictInput
from keyplane.licensing.metadata import MAX_DEPTH, camel_keys, too_deep

METADATA_TOO_DEEP = "metadata_too_deep"
"""The error type of metadata nested too deep (a 400, pointing into the metadata)."""


def _as_keygen_keeps_it(metadata: dict[str, Any]) -> dict[str, Any]:
    path = too_deep(metadata)
    if path is not None:
        raise PydanticCustomError(
            METADATA_TOO_DEEP, "maximum depth of {maximum} exceeded", {"maximum": MAX_DEPTH, "path": path}
        )
    kept: dict[str, Any] = camel_keys(metadata)
    return kept


Metadata = Annotated[dict[str, Any], Field(max_length=64), AfterValidator(_as_keygen_keeps_it)]
"""Free-form data the vendor attaches (at most 64 top-level keys, two levels of nesting), its
keys in lowerCamelCase as Keygen keeps them (``keyplane.licensing.metadata``)."""
Name = Annotated[str, Field(min_length=1, max_length=255)]
Count = Annotated[int, Field(ge=0, le=2_147_483_647)]


class ProductIdentifier(StrictInput):
    type: Annotated[str, Field(pattern="^products?$")]
    id: Annotated[str, Field(max_length=255)]


class PolicyIdentifier(StrictInput):
    type: Annotated[str, Field(pattern="^polic(y|ies)$")]
    id: Annotated[str, Field(max_length=255)]


class UserIdentifier(StrictInput):
    type: Annotated[str, Field(pattern="^users?$")]
    id: Annotated[str, Field(max_length=255)]


class UserId(StrictInput):
    type: Annotated[str, Field(pattern="^users?$")]
    id: uuid.UUID
    """Keygen's ``type: :uuid``: anything else is a malformed request (400)."""


class UsersChange(StrictInput):
    """The users to attach or detach: a license's (``/licenses/{id}/users``) or a group's
    owners (``/groups/{id}/owners``)."""

    data: list[UserId]


class LicenseIdentifier(StrictInput):
    type: Annotated[str, Field(pattern="^licenses?$")]
    id: Annotated[str, Field(max_length=255)]


class LicenseRelationship(StrictInput):
    data: LicenseIdentifier


class ProductRelationship(StrictInput):
    data: ProductIdentifier


class PolicyRelationship(StrictInput):
    data: PolicyIdentifier


class UserRelationship(StrictInput):
    data: UserIdentifier | None


class GroupIdentifier(StrictInput):
    type: Annotated[str, Field(pattern="^groups?$")]
    id: uuid.UUID
    """A group's id (Keygen takes a UUID here: anything else is 400)."""


class GroupRelationship(StrictInput):
    data: GroupIdentifier | None
    """The group to join; null for none."""
