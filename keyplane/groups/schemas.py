"""Groups in Keygen's JSON:API shapes (app/serializers/group_serializer.rb)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from keyplane import examples as example
from keyplane.kit.documents import Document, InstantOut, MetadataOut, Output, SelfLink, ToMany, ToOne
from keyplane.kit.jsonapi import account_base, resource, to_many, to_one
from keyplane.kit.paging import listing_spec, no_filters, parser
from keyplane.kit.query import Spec
from keyplane.kit.schemas import StrictInput
from keyplane.kit.timefmt import iso
from keyplane.licensing.schemas import Count, GroupIdentifier, Metadata, Name
from keyplane.models import Group, GroupOwner

GroupType = Annotated[str, Field(pattern="^groups?$")]


class GroupAttributes(StrictInput):
    name: Name | None = None
    max_licenses: Count | None = Field(default=None, alias="maxLicenses")
    """How many licenses may join; null: no limit."""
    max_machines: Count | None = Field(default=None, alias="maxMachines")
    """How many machines may join; null: no limit."""
    max_users: Count | None = Field(default=None, alias="maxUsers")
    """How many users may join; null: no limit."""
    metadata: Metadata | None = None


class GroupCreateAttributes(GroupAttributes):
    name: Name


class GroupCreateData(StrictInput):
    type: GroupType
    attributes: GroupCreateAttributes


class GroupUpdateData(StrictInput):
    type: GroupType
    id: str | None = None
    """May repeat the path's id (JSON:API clients send it)."""
    attributes: GroupAttributes


class GroupCreate(StrictInput):
    model_config = ConfigDict(json_schema_extra=example.of(example.GROUP_CREATE))

    data: GroupCreateData


class GroupUpdate(StrictInput):
    data: GroupUpdateData


class GroupChange(StrictInput):
    """The body of ``PUT /licenses/{id}/group`` (and of machines and users): a group, or
    null to leave it."""

    model_config = ConfigDict(json_schema_extra=example.of({"data": {"type": "groups", "id": example.GROUP}}))

    data: GroupIdentifier | None


GROUP_LIST: Spec = listing_spec()
"""``/groups`` takes paging alone."""
parse_group_list = parser(GROUP_LIST, no_filters)

# -- answers ---------------------------------------------------------------------------------


class GroupAttributesOut(Output):
    name: str
    maxUsers: int | None
    maxLicenses: int | None
    maxMachines: int | None
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class GroupRelationships(Output):
    account: ToOne
    owners: ToMany
    users: ToMany
    licenses: ToMany
    machines: ToMany


class GroupResource(Output):
    id: str
    type: Literal["groups"]
    attributes: GroupAttributesOut
    relationships: GroupRelationships
    links: SelfLink


class GroupDocument(Document[GroupResource]):
    model_config = ConfigDict(json_schema_extra=example.of({"data": example.GROUP_RESOURCE}))


class OptionalGroupDocument(Document[GroupResource | None]):
    """A record's group: ``data`` is null when it has none."""


# -- rendering ------------------------------------------------------------------------------


def group_resource(group: Group) -> dict[str, Any]:
    base = account_base(group.account_id)
    own = f"groups/{group.id}"
    return resource(
        base,
        "groups",
        group.id,
        {
            "name": group.name,
            "maxUsers": group.max_users,
            "maxLicenses": group.max_licenses,
            "maxMachines": group.max_machines,
            "metadata": group.meta,
            "created": iso(group.created_at),
            "updated": iso(group.updated_at),
        },
        {
            "account": to_one(base, "accounts", group.account_id, ""),
            "owners": to_many(base, f"{own}/owners"),
            "users": to_many(base, f"{own}/users"),
            "licenses": to_many(base, f"{own}/licenses"),
            "machines": to_many(base, f"{own}/machines"),
        },
    )


class GroupOwnerAttributes(Output):
    created: InstantOut
    updated: InstantOut


class GroupOwnerRelationships(Output):
    account: ToOne
    group: ToOne
    user: ToOne


class GroupOwnerResource(Output):
    id: str
    type: Literal["group-owners"]
    attributes: GroupOwnerAttributes
    relationships: GroupOwnerRelationships
    links: SelfLink


class GroupOwnerList(Output):
    data: list[GroupOwnerResource]


OWNER_LIST: Spec = listing_spec()
"""``/groups/{id}/owners`` takes paging alone."""
parse_owner_list = parser(OWNER_LIST, no_filters)


def group_owner_resource(owner: GroupOwner) -> dict[str, Any]:
    """Keygen's app/serializers/group_owner_serializer.rb."""
    base = account_base(owner.account_id)
    return {
        "id": str(owner.id),
        "type": "group-owners",
        "attributes": {"created": iso(owner.created_at), "updated": iso(owner.updated_at)},
        "relationships": {
            "account": to_one(base, "accounts", owner.account_id, ""),
            "group": to_one(base, "groups", owner.group_id, f"groups/{owner.group_id}"),
            "user": to_one(base, "users", owner.user_id, f"users/{owner.user_id}"),
        },
        "links": {"self": f"{base}/groups/{owner.group_id}/owners/{owner.id}"},
    }
