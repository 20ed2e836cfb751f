"""JSON:API request bodies for machines."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from keyplane import examples as example
from keyplane.kit.documents import Document, InstantOut, MetadataOut, Output, SelfLink, ToOne
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
    model_config = ConfigDict(json_schema_extra=example.of(example.MACHINE_CREATE))

    data: MachineCreateData


class MachineUpdate(StrictInput):
    data: MachineUpdateData


# -- answers ---------------------------------------------------------------------------------


class MachineAttributesOut(Output):
    fingerprint: str
    cores: int | None
    memory: int | None
    disk: int | None
    ip: str | None
    hostname: str | None
    platform: str | None
    name: str | None
    requireHeartbeat: bool
    heartbeatStatus: Literal["NOT_STARTED", "ALIVE", "DEAD", "RESURRECTED"]
    """``RESURRECTED`` only in the answer to the ping that revived a dead machine."""
    heartbeatDuration: int
    lastHeartbeat: InstantOut | None
    nextHeartbeat: InstantOut | None
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class MachineRelationships(Output):
    account: ToOne
    product: ToOne
    license: ToOne
    owner: ToOne


class MachineResource(Output):
    id: str
    type: Literal["machines"]
    attributes: MachineAttributesOut
    relationships: MachineRelationships
    links: SelfLink


class MachineDocument(Document[MachineResource]):
    model_config = ConfigDict(json_schema_extra=example.of({"data": example.MACHINE_RESOURCE}))
