"""JSON:API request bodies for machines."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from keyplane.kit.schemas import StrictInput
from keyplane.licensing.schemas import LicenseRelationship, Metadata, Name, UserRelationship

Text = Annotated[str, Field(max_length=255)]
Size = Annotated[int, Field(ge=0, le=2**62)]
MachineType = Annotated[str, Field(pattern="^machines?$")]


class MachineAttributes(StrictInput):
    name: Name | None = None
    platform: Text | None = None
    hostname: Text | None = None
    ip: Annotated[str, Field(max_length=64)] | None = None
    cores: Annotated[int, Field(ge=0, le=2_147_483_647)] | None = None
    memory: Size | None = None
    disk: Size | None = None
    metadata: Metadata | None = None


class MachineCreateAttributes(MachineAttributes):
    fingerprint: Annotated[str, Field(min_length=1, max_length=255)]


class MachineCreateRelationships(StrictInput):
    license: LicenseRelationship
    owner: UserRelationship | None = None


class MachineCreateData(StrictInput):
    type: MachineType
    attributes: MachineCreateAttributes
    relationships: MachineCreateRelationships


class MachineUpdateData(StrictInput):
    type: MachineType
    attributes: MachineAttributes


class MachineCreate(StrictInput):
    data: MachineCreateData


class MachineUpdate(StrictInput):
    data: MachineUpdateData
