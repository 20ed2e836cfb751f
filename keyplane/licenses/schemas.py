"""JSON:API request bodies for licenses."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from keyplane.kit.instants import Instant
from keyplane.kit.schemas import StrictInput
from keyplane.licensing.schemas import (
    Count,
    Metadata,
    Name,
    PolicyIdentifier,
    PolicyRelationship,
    UserIdentifier,
    UserRelationship,
)

LicenseKey = Annotated[str, Field(min_length=6, max_length=16_384)]
LicenseType = Annotated[str, Field(pattern="^licenses?$")]
MaxMachines = Annotated[int, Field(ge=1, le=2_147_483_647)]


class LicenseAttributes(StrictInput):
    name: Name | None = None
    expiry: Instant | None = None
    suspended: bool = False
    protected: bool | None = None
    max_machines: MaxMachines | None = Field(default=None, alias="maxMachines")
    max_processes: Count | None = Field(default=None, alias="maxProcesses")
    max_users: Count | None = Field(default=None, alias="maxUsers")
    max_cores: Count | None = Field(default=None, alias="maxCores")
    max_memory: Count | None = Field(default=None, alias="maxMemory")
    max_disk: Count | None = Field(default=None, alias="maxDisk")
    max_uses: Count | None = Field(default=None, alias="maxUses")
    metadata: Metadata | None = None


PRIVILEGED = frozenset(LicenseAttributes.model_fields) - {"name"}
"""Attributes only staff and product tokens may set (an end customer may name a license)."""


class LicenseCreateAttributes(LicenseAttributes):
    key: LicenseKey | None = None


class LicenseCreateRelationships(StrictInput):
    policy: PolicyRelationship
    owner: UserRelationship | None = None
    user: UserRelationship | None = None
    """Keygen's older name for ``owner``."""

    @model_validator(mode="after")
    def _one_owner(self) -> LicenseCreateRelationships:
        if self.owner is not None and self.user is not None:
            raise ValueError("send owner or user, not both")
        return self

    @property
    def owner_ref(self) -> UserIdentifier | None:
        relationship = self.owner or self.user
        return None if relationship is None else relationship.data


class LicenseCreateData(StrictInput):
    type: LicenseType
    attributes: LicenseCreateAttributes = LicenseCreateAttributes()
    relationships: LicenseCreateRelationships


class LicenseUpdateData(StrictInput):
    type: LicenseType
    attributes: LicenseAttributes


class LicenseCreate(StrictInput):
    data: LicenseCreateData


class LicenseUpdate(StrictInput):
    data: LicenseUpdateData


class PolicyChange(StrictInput):
    """``PUT /licenses/{id}/policy``."""

    data: PolicyIdentifier


class OwnerChange(StrictInput):
    """``PUT /licenses/{id}/owner`` (null takes the owner away)."""

    data: UserIdentifier | None
