"""Processes in Keygen's JSON:API shapes (``processes``): request bodies, the list's filters,
the answers' models and their rendering."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from keyplane import examples as example
from keyplane.kit.documents import Document, InstantOut, MetadataOut, Output, SelfLink, ToOne
from keyplane.kit.jsonapi import account_base, resource, to_one
from keyplane.kit.paging import listing_spec, parser
from keyplane.kit.query import Items, Param, Spec, choice, identifier, last, reference
from keyplane.kit.schemas import StrictInput
from keyplane.kit.timefmt import iso
from keyplane.licensing.schemas import Metadata
from keyplane.models import MachineProcess

PID_MAX = 4096
"""Keygen's longest pid (``length: { maximum: 4.kilobytes }``)."""


class ProcessStatus(StrEnum):
    ALIVE = "ALIVE"
    DEAD = "DEAD"
    RESURRECTED = "RESURRECTED"
    """Never derived: only in the answer to the ping that revived a dead process."""


class MachineIdentifier(StrictInput):
    type: Annotated[str, Field(pattern="^machines?$")]
    id: uuid.UUID
    """Keygen's ``type: :uuid``: anything else is a malformed request (400)."""


class MachineRelationship(StrictInput):
    data: MachineIdentifier


class ProcessCreateAttributes(StrictInput):
    pid: Annotated[str, Field(max_length=PID_MAX)]
    metadata: Metadata | None = None


class ProcessCreateRelationships(StrictInput):
    machine: MachineRelationship


ProcessType = Annotated[str, Field(pattern="^process(es)?$")]


class ProcessCreateData(StrictInput):
    type: ProcessType
    attributes: ProcessCreateAttributes
    relationships: ProcessCreateRelationships


class ProcessCreate(StrictInput):
    model_config = ConfigDict(json_schema_extra=example.of(example.PROCESS_CREATE))

    data: ProcessCreateData


class ProcessUpdateAttributes(StrictInput):
    metadata: Metadata | None = None


class ProcessUpdateData(StrictInput):
    type: ProcessType
    attributes: ProcessUpdateAttributes


class ProcessUpdate(StrictInput):
    data: ProcessUpdateData


# -- the list's filters (Keygen's ``has_scope`` on processes) ----------------------------------

_FILTERS = (
    Param("product", "Only this product's processes (its id)"),
    Param("license", "Only the processes of this license's machines (its id)"),
    Param("machine", "Only this machine's processes (its id)"),
    Param("owner", "Only processes on machines owned by this user (its id)"),
    Param("user", "Only processes on licenses this user owns (id or email)"),
    Param("status", "Only ALIVE or only DEAD processes"),
)
PROCESS_LIST: Spec = listing_spec(*_FILTERS)
MACHINE_PROCESS_LIST: Spec = listing_spec()
"""``/machines/{id}/processes`` (Keygen's relationship route) takes paging only."""


@dataclass(frozen=True, slots=True)
class ProcessFilters:
    product: uuid.UUID | None = None
    license: uuid.UUID | None = None
    machine: uuid.UUID | None = None
    owner: uuid.UUID | None = None
    user: str | None = None
    status: ProcessStatus | None = None


def process_filters(items: Items) -> ProcessFilters:
    ids = {name: last(items, name) for name in ("product", "license", "machine", "owner")}
    user, status = last(items, "user"), last(items, "status")
    return ProcessFilters(
        **{name: None if value is None else identifier(value, name) for name, value in ids.items()},
        user=None if user is None else reference(user, "user"),
        status=None if status is None else ProcessStatus(choice(status, ("ALIVE", "DEAD"), "status")),
    )


parse_process_list = parser(PROCESS_LIST, process_filters)
parse_machine_process_list = parser(MACHINE_PROCESS_LIST, lambda _items: ProcessFilters())


# -- answers ---------------------------------------------------------------------------------


class ProcessAttributesOut(Output):
    pid: str
    status: Literal["ALIVE", "DEAD", "RESURRECTED"]
    """``RESURRECTED`` only in the answer to the ping that revived a dead process."""
    lastHeartbeat: InstantOut
    nextHeartbeat: InstantOut
    interval: int
    """Seconds a heartbeat keeps the process alive (the policy's ``heartbeatDuration``)."""
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class ProcessRelationships(Output):
    account: ToOne
    product: ToOne
    license: ToOne
    machine: ToOne


class ProcessResource(Output):
    id: str
    type: Literal["processes"]
    attributes: ProcessAttributesOut
    relationships: ProcessRelationships
    links: SelfLink


class ProcessDocument(Document[ProcessResource]):
    model_config = ConfigDict(json_schema_extra=example.of({"data": example.PROCESS_RESOURCE}))


def process_resource(process: MachineProcess, interval: int, status: ProcessStatus) -> dict[str, Any]:
    """A process as Keygen serializes it; ``interval`` (seconds) and ``status`` are its
    policy's heartbeat duration and what that makes of its last heartbeat."""
    base = account_base(process.account_id)
    own = f"processes/{process.id}"
    last_heartbeat = process.last_heartbeat
    return resource(
        base,
        "processes",
        process.id,
        {
            "pid": process.pid,
            "status": status,
            "lastHeartbeat": iso(last_heartbeat),
            "nextHeartbeat": iso(last_heartbeat + timedelta(seconds=interval)),
            "interval": interval,
            "metadata": process.meta,
            "created": iso(process.created_at),
            "updated": iso(process.updated_at),
        },
        {
            "account": to_one(base, "accounts", process.account_id, ""),
            "product": to_one(base, "products", process.product_id, f"{own}/product"),
            "license": to_one(base, "licenses", process.license_id, f"{own}/license"),
            "machine": to_one(base, "machines", process.machine_id, f"{own}/machine"),
        },
    )
