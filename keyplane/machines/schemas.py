"""JSON:API request bodies for machines."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from keyplane import examples as example
from keyplane.components.schemas import NestedComponents
from keyplane.kit import clock
from keyplane.kit.documents import (
    Document,
    InstantOut,
    MetadataOut,
    Output,
    SelfLink,
    ToMany,
    ToOne,
)
from keyplane.kit.jsonapi import account_base, resource, to_many, to_one
from keyplane.kit.paging import listing_spec, parser
from keyplane.kit.query import Items, Param, Spec, identifier, last, metadata, reference
from keyplane.kit.schemas import ResourceId, StrictInput
from keyplane.kit.timefmt import iso, iso_or_none
from keyplane.licensing import heartbeat
from keyplane.licensing.schemas import (
    GroupRelationship,
    LicenseRelationship,
    Metadata,
    Name,
    UserRelationship,
)
from keyplane.models import Machine, Policy

Text = Annotated[str, Field(max_length=255)]
Size = Annotated[int, Field(ge=1, le=9_223_372_036_854_775_807)]
"""Bytes of memory or disk: at least 1, at most what a 64-bit integer holds (Keygen's
``machine.rb``)."""
MachineType = Annotated[str, Field(pattern="^machines?$")]


class MachineAttributes(StrictInput):
    name: Name | None = None
    platform: Text | None = None
    hostname: Text | None = None
    ip: Annotated[str, Field(max_length=64)] | None = None
    cores: Annotated[int, Field(ge=1, le=2_147_483_647)] | None = None
    memory: Size | None = None
    disk: Size | None = None
    metadata: Metadata | None = None


class MachineCreateAttributes(MachineAttributes):
    fingerprint: Annotated[str, Field(min_length=1, max_length=255)]


class MachineCreateRelationships(StrictInput):
    license: LicenseRelationship
    owner: UserRelationship | None = None
    group: GroupRelationship | None = None
    """Staff and product tokens only; without it, the machine joins its license's group."""
    components: NestedComponents | None = None
    """Hardware components activated with the machine (at most 20)."""


class MachineCreateData(StrictInput):
    type: MachineType
    attributes: MachineCreateAttributes
    relationships: MachineCreateRelationships


class MachineUpdateData(StrictInput):
    type: MachineType
    id: ResourceId | None = None
    attributes: MachineAttributes


class MachineCreate(StrictInput):
    model_config = ConfigDict(json_schema_extra=example.of(example.MACHINE_CREATE))

    data: MachineCreateData


class MachineUpdate(StrictInput):
    data: MachineUpdateData


# -- the list's filters (Keygen's ``has_scope`` on machines that this model can answer) -------

_FILTERS = (
    Param("fingerprint", "Only machines with this fingerprint"),
    Param("ip", "Only machines with this IP address"),
    Param("hostname", "Only machines with this hostname"),
    Param("product", "Only this product's machines (its id)"),
    Param("policy", "Only machines on licenses of this policy (its id)"),
    Param("group", "Only this group's machines (its id)"),
    Param("license", "Only this license's machines (its id or key)"),
    Param("key", "Only the machines of the license with this key"),
    Param("owner", "Only machines owned by this user (id or email)"),
    Param("user", "Only machines owned by this user, or on licenses it owns (id or email)"),
    Param("metadata[key]", "Only machines whose metadata has this key with this value", family=True),
)
MACHINE_LIST: Spec = listing_spec(*_FILTERS)
LICENSE_MACHINE_LIST: Spec = listing_spec(
    *(p for p in _FILTERS if p.name in ("fingerprint", "product", "user"))
)
"""``/licenses/{id}/machines`` takes what Keygen's route does: fingerprint, product, user."""


@dataclass(frozen=True, slots=True)
class MachineFilters:
    fingerprint: str | None = None
    ip: str | None = None
    hostname: str | None = None
    product: uuid.UUID | None = None
    policy: uuid.UUID | None = None
    group: uuid.UUID | None = None
    license: str | None = None
    key: str | None = None
    owner: str | None = None
    user: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    license_id: uuid.UUID | None = None
    """Set by ``/licenses/{id}/machines`` (not a query parameter)."""


def _text(items: Items, name: str) -> str | None:
    value = last(items, name)
    return None if value is None else reference(value, name)


def machine_filters(items: Items) -> MachineFilters:
    product, policy, group = last(items, "product"), last(items, "policy"), last(items, "group")
    return MachineFilters(
        fingerprint=_text(items, "fingerprint"),
        ip=_text(items, "ip"),
        hostname=_text(items, "hostname"),
        product=None if product is None else identifier(product, "product"),
        policy=None if policy is None else identifier(policy, "policy"),
        group=None if group is None else identifier(group, "group"),
        license=_text(items, "license"),
        key=_text(items, "key"),
        owner=_text(items, "owner"),
        user=_text(items, "user"),
        metadata=metadata(items),
    )


parse_machine_list = parser(MACHINE_LIST, machine_filters)
parse_license_machine_list = parser(LICENSE_MACHINE_LIST, machine_filters)
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
    maxProcesses: int | None
    """The license's ``maxProcesses`` (its own, else its policy's): how many processes the
    machine may spawn under PER_MACHINE leasing. Null: no limit."""
    lastHeartbeat: InstantOut | None
    nextHeartbeat: InstantOut | None
    lastCheckOut: InstantOut | None
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class MachineRelationships(Output):
    account: ToOne
    product: ToOne
    license: ToOne
    owner: ToOne
    group: ToOne
    components: ToMany
    processes: ToMany


class MachineResource(Output):
    id: str
    type: Literal["machines"]
    attributes: MachineAttributesOut
    relationships: MachineRelationships
    links: SelfLink


class MachineDocument(Document[MachineResource]):
    model_config = ConfigDict(json_schema_extra=example.of({"data": example.MACHINE_RESOURCE}))


# -- rendering ------------------------------------------------------------------------------


def machine_resource(machine: Machine, policy: Policy, *, max_processes: int | None) -> dict[str, Any]:
    """A machine's resource; ``max_processes`` is its license's (``process_limit``), which
    Keygen's serializer shows as the machine's."""
    base = account_base(machine.account_id)
    own = f"machines/{machine.id}"
    return resource(
        base,
        "machines",
        machine.id,
        {
            "fingerprint": machine.fingerprint,
            "cores": machine.cores,
            "memory": machine.memory,
            "disk": machine.disk,
            "ip": machine.ip,
            "hostname": machine.hostname,
            "platform": machine.platform,
            "name": machine.name,
            "requireHeartbeat": policy.require_heartbeat,
            "heartbeatStatus": heartbeat.status(machine, policy, clock.now()),
            "heartbeatDuration": int(heartbeat.duration(policy).total_seconds()),
            "maxProcesses": max_processes,
            "lastHeartbeat": iso_or_none(machine.last_heartbeat),
            "nextHeartbeat": iso_or_none(heartbeat.next_heartbeat(machine, policy)),
            "lastCheckOut": iso_or_none(machine.last_check_out),
            "metadata": machine.meta,
            "created": iso(machine.created_at),
            "updated": iso(machine.updated_at),
        },
        {
            "account": to_one(base, "accounts", machine.account_id, ""),
            "product": to_one(base, "products", machine.product_id, f"{own}/product"),
            "license": to_one(base, "licenses", machine.license_id, f"{own}/license"),
            "owner": to_one(base, "users", machine.owner_id, f"{own}/owner"),
            "group": to_one(base, "groups", machine.group_id, f"{own}/group"),
            "components": to_many(base, f"{own}/components"),
            "processes": to_many(base, f"{own}/processes"),
        },
    )
