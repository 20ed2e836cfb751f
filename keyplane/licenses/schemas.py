"""JSON:API request bodies for licenses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from keyplane import examples as example
from keyplane.kit.documents import Document, InstantOut, MetadataOut, Output, SelfLink, ToMany, ToOne
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
    model_config = ConfigDict(json_schema_extra=example.of(example.LICENSE_CREATE))

    data: LicenseCreateData


class LicenseUpdate(StrictInput):
    data: LicenseUpdateData


class PolicyChange(StrictInput):
    """``PUT /licenses/{id}/policy``."""

    data: PolicyIdentifier


class OwnerChange(StrictInput):
    """``PUT /licenses/{id}/owner`` (null takes the owner away)."""

    data: UserIdentifier | None


# -- answers ---------------------------------------------------------------------------------


class LicenseAttributesOut(Output):
    name: str | None
    key: str
    expiry: InstantOut | None
    status: Literal["ACTIVE", "INACTIVE", "EXPIRING", "EXPIRED", "SUSPENDED", "BANNED"]
    uses: int
    suspended: bool
    scheme: str | None
    encrypted: bool
    strict: bool
    floating: bool
    protected: bool
    version: None
    requireHeartbeat: bool
    requireCheckIn: bool
    lastValidated: InstantOut | None
    lastCheckIn: InstantOut | None
    nextCheckIn: InstantOut | None
    lastCheckOut: InstantOut | None
    maxMachines: int | None
    maxProcesses: int | None
    maxUsers: int | None
    maxCores: int | None
    maxMemory: int | None
    maxDisk: int | None
    maxUses: int | None
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class LicenseRelationshipsOut(Output):
    account: ToOne
    product: ToOne
    policy: ToOne
    owner: ToOne
    machines: ToMany


class LicenseResource(Output):
    id: str
    type: Literal["licenses"]
    attributes: LicenseAttributesOut
    relationships: LicenseRelationshipsOut
    links: SelfLink


class ValidationMeta(Output):
    ts: InstantOut
    """When the server validated."""
    valid: bool
    detail: str
    code: str
    """``VALID``, or the first rule that failed in Keygen's order (``SUSPENDED``, ``EXPIRED``,
    ``NOT_FOUND``, ``FINGERPRINT_SCOPE_MISMATCH``, ...)."""
    scope: dict[str, Any] | None = None
    """The scope as sent (only when one was)."""
    nonce: int | None = None
    """The nonce as sent (only when one was)."""


class LicenseDocument(Document[LicenseResource]):
    model_config = ConfigDict(json_schema_extra=example.of({"data": example.LICENSE_RESOURCE}))


class ValidationDocument(Document[LicenseResource | None]):
    """The answer to a validation: always 200; ``data`` is null for a key that is no license."""

    model_config = ConfigDict(json_schema_extra=example.of(example.VALIDATED))

    meta: ValidationMeta
