"""A license's users (Keygen 1.8's licensees): the attach/detach documents and the
``license-users`` answers."""

from __future__ import annotations

from typing import Any, Literal

from keyplane.kit.documents import InstantOut, Output, RelatedLinks, ToOne
from keyplane.kit.jsonapi import account_base, to_one
from keyplane.kit.paging import listing_spec
from keyplane.kit.query import Spec
from keyplane.kit.timefmt import iso
from keyplane.models import LicenseUser

LICENSE_USER_LIST: Spec = listing_spec()
"""``/licenses/{id}/users`` takes paging only."""


class LicenseUserAttributes(Output):
    created: InstantOut
    updated: InstantOut


class LicenseUserRelationships(Output):
    account: ToOne
    license: ToOne
    user: ToOne


class LicenseUserResource(Output):
    id: str
    type: Literal["license-users"]
    attributes: LicenseUserAttributes
    relationships: LicenseUserRelationships
    links: RelatedLinks


class LicenseUserList(Output):
    data: list[LicenseUserResource]


def license_user_resource(attached: LicenseUser) -> dict[str, Any]:
    """Keygen's app/serializers/license_user_serializer.rb."""
    base = account_base(attached.account_id)
    return {
        "id": str(attached.id),
        "type": "license-users",
        "attributes": {"created": iso(attached.created_at), "updated": iso(attached.updated_at)},
        "relationships": {
            "account": to_one(base, "accounts", attached.account_id, ""),
            "license": to_one(base, "licenses", attached.license_id, f"licenses/{attached.license_id}"),
            "user": to_one(base, "users", attached.user_id, f"users/{attached.user_id}"),
        },
        "links": {"related": f"{base}/licenses/{attached.license_id}/users/{attached.user_id}"},
    }
