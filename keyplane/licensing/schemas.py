"""Input shapes the licensing resources share: relationship identifiers and metadata."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field

from keyplane.kit.schemas import StrictInput

Metadata = Annotated[dict[str, Any], Field(max_length=64)]
"""Free-form data the vendor attaches (at most 64 top-level keys), returned as sent."""
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
