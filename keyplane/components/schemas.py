"""Machine components in Keygen's JSON:API shapes (``components``): request bodies (their own
and nested in a machine's activation), the list's filters, the answers and their rendering."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from keyplane import examples as example
from keyplane.kit.documents import Document, InstantOut, MetadataOut, Output, SelfLink, ToOne
from keyplane.kit.jsonapi import account_base, resource, to_one
from keyplane.kit.paging import listing_spec, parser
from keyplane.kit.query import Items, Param, Spec, identifier, last, reference
from keyplane.kit.schemas import StrictInput
from keyplane.kit.timefmt import iso
from keyplane.licensing.schemas import Metadata
from keyplane.models import MachineComponent

FINGERPRINT_MAX = 4096
"""Keygen's longest component fingerprint (``length: { maximum: 4.kilobytes }``)."""
NESTED_MAX = 20
"""Most components one activation may carry (``accepts_nested_attributes_for ..., limit: 20``)."""
ComponentType = Annotated[str, Field(pattern="^components?$")]


class ComponentAttributes(StrictInput):
    fingerprint: Annotated[str, Field(max_length=FINGERPRINT_MAX)]
    name: Annotated[str, Field(max_length=255)]
    metadata: Metadata | None = None


class NestedComponent(StrictInput):
    """One of a machine's ``relationships.components.data`` at activation."""

    type: ComponentType
    attributes: ComponentAttributes


class NestedComponents(StrictInput):
    data: list[NestedComponent]


class MachineIdentifier(StrictInput):
    type: Annotated[str, Field(pattern="^machines?$")]
    id: uuid.UUID
    """Keygen's ``type: :uuid``: anything else is a malformed request (400)."""


class MachineRelationship(StrictInput):
    data: MachineIdentifier


class ComponentCreateRelationships(StrictInput):
    machine: MachineRelationship


class ComponentCreateData(StrictInput):
    type: ComponentType
    attributes: ComponentAttributes
    relationships: ComponentCreateRelationships


class ComponentCreate(StrictInput):
    model_config = ConfigDict(json_schema_extra=example.of(example.COMPONENT_CREATE))

    data: ComponentCreateData


class ComponentUpdateAttributes(StrictInput):
    name: Annotated[str, Field(max_length=255)] | None = None
    metadata: Metadata | None = None


class ComponentUpdateData(StrictInput):
    type: ComponentType
    attributes: ComponentUpdateAttributes


class ComponentUpdate(StrictInput):
    data: ComponentUpdateData


# -- the list's filters (Keygen's ``has_scope`` on components) ---------------------------------

_FILTERS = (
    Param("product", "Only this product's components (its id)"),
    Param("license", "Only the components of this license's machines (its id)"),
    Param("machine", "Only this machine's components (its id)"),
    Param("owner", "Only components of machines owned by this user (its id)"),
    Param("user", "Only components on licenses this user owns (id or email)"),
)
COMPONENT_LIST: Spec = listing_spec(*_FILTERS)
MACHINE_COMPONENT_LIST: Spec = listing_spec()
"""``/machines/{id}/components`` (Keygen's relationship route) takes paging only."""


@dataclass(frozen=True, slots=True)
class ComponentFilters:
    product: uuid.UUID | None = None
    license: uuid.UUID | None = None
    machine: uuid.UUID | None = None
    owner: uuid.UUID | None = None
    user: str | None = None


def component_filters(items: Items) -> ComponentFilters:
    ids = {name: last(items, name) for name in ("product", "license", "machine", "owner")}
    user = last(items, "user")
    return ComponentFilters(
        **{name: None if value is None else identifier(value, name) for name, value in ids.items()},
        user=None if user is None else reference(user, "user"),
    )


parse_component_list = parser(COMPONENT_LIST, component_filters)
parse_machine_component_list = parser(MACHINE_COMPONENT_LIST, lambda _items: ComponentFilters())


# -- answers ---------------------------------------------------------------------------------


class ComponentAttributesOut(Output):
    fingerprint: str
    name: str
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class ComponentRelationships(Output):
    account: ToOne
    product: ToOne
    license: ToOne
    machine: ToOne


class ComponentResource(Output):
    id: str
    type: Literal["components"]
    attributes: ComponentAttributesOut
    relationships: ComponentRelationships
    links: SelfLink


class ComponentDocument(Document[ComponentResource]):
    model_config = ConfigDict(json_schema_extra=example.of({"data": example.COMPONENT_RESOURCE}))


def component_resource(component: MachineComponent) -> dict[str, Any]:
    """A component as Keygen serializes it (app/serializers/machine_component_serializer.rb)."""
    base = account_base(component.account_id)
    own = f"components/{component.id}"
    return resource(
        base,
        "components",
        component.id,
        {
            "fingerprint": component.fingerprint,
            "name": component.name,
            "metadata": component.meta,
            "created": iso(component.created_at),
            "updated": iso(component.updated_at),
        },
        {
            "account": to_one(base, "accounts", component.account_id, ""),
            "product": to_one(base, "products", component.product_id, f"{own}/product"),
            "license": to_one(base, "licenses", component.license_id, f"{own}/license"),
            "machine": to_one(base, "machines", component.machine_id, f"{own}/machine"),
        },
    )
