"""Entitlements in Keygen's JSON:API shapes: request bodies, the answers' models, rendering.

Besides ``entitlements`` themselves, attaching answers with the join records Keygen
serializes, ``policy-entitlements`` and ``license-entitlements``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import Field

from keyplane.kit.documents import InstantOut, MetadataOut, Output, RelatedLinks, SelfLink, ToOne
from keyplane.kit.jsonapi import account_base, resource, to_one
from keyplane.kit.paging import listing_spec, no_filters, parser
from keyplane.kit.query import Spec
from keyplane.kit.schemas import StrictInput
from keyplane.kit.timefmt import iso
from keyplane.licensing.schemas import Metadata
from keyplane.models import Entitlement, LicenseEntitlement, PolicyEntitlement

Text = Annotated[str, Field(max_length=255)]
"""A name or a code: 1 to 255 characters (a blank one is a 400, as Keygen's typed params say)."""
EntitlementType = Annotated[str, Field(pattern="^entitlements?$")]
MAX_ATTACHED = 100
"""The most entitlements one attach or detach request names (Keygen's length rule)."""


class EntitlementAttributes(StrictInput):
    name: Text | None = None
    code: Text | None = None
    metadata: Metadata | None = None


class EntitlementCreateAttributes(EntitlementAttributes):
    # Required (a missing one is a 400); null is refused by the service with Keygen's words.
    name: Text | None
    code: Text | None


class EntitlementCreateData(StrictInput):
    type: EntitlementType
    attributes: EntitlementCreateAttributes


class EntitlementUpdateData(StrictInput):
    type: EntitlementType
    id: Annotated[str, Field(max_length=255)] | None = None
    """Sent by JSON:API clients; Keygen ignores it (the path names the entitlement)."""
    attributes: EntitlementAttributes


class EntitlementCreate(StrictInput):
    data: EntitlementCreateData


class EntitlementUpdate(StrictInput):
    data: EntitlementUpdateData


class EntitlementIdentifier(StrictInput):
    type: EntitlementType
    id: uuid.UUID


class EntitlementIdentifiers(StrictInput):
    """``POST`` and ``DELETE /policies/{id}/entitlements`` and ``/licenses/{id}/entitlements``:
    ``{"data": [{"type": "entitlements", "id"}, ...]}``, 1 to 100 of them."""

    data: Annotated[
        list[EntitlementIdentifier],
        # Counted by the service, which answers Keygen's 400 (a rule pydantic would make a 422).
        Field(json_schema_extra={"minItems": 1, "maxItems": MAX_ATTACHED}),
    ]


ENTITLEMENT_LIST: Spec = listing_spec()
"""Keygen's entitlement lists (``/entitlements`` and those of a policy or a license) take
paging alone."""
parse_entitlement_list = parser(ENTITLEMENT_LIST, no_filters)

# -- answers ---------------------------------------------------------------------------------


class EntitlementAttributesOut(Output):
    name: str
    code: str
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class EntitlementRelationships(Output):
    account: ToOne


class EntitlementResource(Output):
    id: str
    type: Literal["entitlements"]
    attributes: EntitlementAttributesOut
    relationships: EntitlementRelationships
    links: SelfLink


class AttachedAttributesOut(Output):
    created: InstantOut
    updated: InstantOut


class PolicyEntitlementRelationships(Output):
    account: ToOne
    entitlement: ToOne
    policy: ToOne


class LicenseEntitlementRelationships(Output):
    account: ToOne
    entitlement: ToOne
    license: ToOne


class PolicyEntitlementResource(Output):
    """An attachment of an entitlement to a policy (Keygen's ``policy-entitlements``)."""

    id: str
    type: Literal["policy-entitlements"]
    attributes: AttachedAttributesOut
    relationships: PolicyEntitlementRelationships
    links: RelatedLinks


class LicenseEntitlementResource(Output):
    """An attachment of an entitlement to a license (Keygen's ``license-entitlements``)."""

    id: str
    type: Literal["license-entitlements"]
    attributes: AttachedAttributesOut
    relationships: LicenseEntitlementRelationships
    links: RelatedLinks


R = TypeVar("R")


class AttachedDocument(Output, Generic[R]):
    """The attachments an attach request made (not a paged list)."""

    data: list[R]


# -- rendering ------------------------------------------------------------------------------


def entitlement_resource(entitlement: Entitlement) -> dict[str, Any]:
    base = account_base(entitlement.account_id)
    return resource(
        base,
        "entitlements",
        entitlement.id,
        {
            "name": entitlement.name,
            "code": entitlement.code,
            "metadata": entitlement.meta,
            "created": iso(entitlement.created_at),
            "updated": iso(entitlement.updated_at),
        },
        {"account": to_one(base, "accounts", entitlement.account_id, "")},
    )


def attached_resource(attached: PolicyEntitlement | LicenseEntitlement) -> dict[str, Any]:
    """A join record as Keygen serializes it: its ``links.related`` is the entitlement as
    seen through its policy or license."""
    base = account_base(attached.account_id)
    if isinstance(attached, PolicyEntitlement):
        type_, owner, owner_type, owner_id = "policy-entitlements", "policy", "policies", attached.policy_id
    else:
        type_, owner, owner_type, owner_id = (
            "license-entitlements",
            "license",
            "licenses",
            attached.license_id,
        )
    entitlement = attached.entitlement_id
    return {
        "id": str(attached.id),
        "type": type_,
        "attributes": {"created": iso(attached.created_at), "updated": iso(attached.updated_at)},
        "relationships": {
            "account": to_one(base, "accounts", attached.account_id, ""),
            "entitlement": to_one(base, "entitlements", entitlement, f"entitlements/{entitlement}"),
            owner: to_one(base, owner_type, owner_id, f"{owner_type}/{owner_id}"),
        },
        "links": {"related": f"{base}/{owner_type}/{owner_id}/entitlements/{entitlement}"},
    }
