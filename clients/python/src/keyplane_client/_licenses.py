"""The licenses' calls (``/v1/licenses``), built once for both clients."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from keyplane_client import _wire as wire
from keyplane_client._calls import Call, Page, body, nothing
from keyplane_client.licensing import License, LicenseStatus

_ONE = wire.one(wire.Document[wire.LicenseResource], License.of)
_LIST = wire.ListDocument[wire.LicenseResource]


def first_page(
    *,
    status: LicenseStatus | None,
    policy: str | None,
    product: str | None,
    user: str | None,
    page_size: int,
) -> Call[Page[License]]:
    filters = {"status": status, "policy": policy, "product": product, "user": user}
    return wire.listing("/v1/licenses", filters, page_size, _LIST, License.of)


def get(id_or_key: str) -> Call[License]:
    return Call("GET", wire.quoted("licenses", id_or_key), _ONE, safe=True)


def create(
    *,
    policy: str,
    user: str | None,
    name: str | None,
    expiry: datetime | None,
    metadata: dict[str, Any] | None,
) -> Call[License]:
    given = {"name": name, "expiry": expiry, "metadata": metadata}
    attributes = wire.LicenseCreateAttributes(
        **{key: value for key, value in given.items() if value is not None}
    )
    owner = None if user is None else wire.UserLink(data=wire.UserRef(type="users", id=user))
    relationships = wire.LicenseCreateRelationships(
        policy=wire.PolicyLink(data=wire.PolicyRef(type="policies", id=policy)),
        **({} if owner is None else {"owner": owner}),
    )
    data = wire.LicenseCreateData(type="licenses", attributes=attributes, relationships=relationships)
    return Call("POST", "/v1/licenses", _ONE, body=body(wire.LicenseCreateBody(data=data)))


def update(license_id: str, changes: dict[str, Any]) -> Call[License]:
    """``changes``: the ``update`` arguments given (``UNSET`` ones left out by the caller)."""
    data = wire.LicenseUpdateData(type="licenses", attributes=wire.LicenseUpdateAttributes(**changes))
    request = wire.LicenseUpdateBody(data=data)
    return Call("PATCH", wire.quoted("licenses", license_id), _ONE, body=body(request))


def action(license_id: str, name: str) -> Call[License]:
    """``suspend``, ``reinstate`` or ``renew``: each changes the license once (sent again, a
    suspension is refused and a renewal extends twice), so none is retried."""
    return Call("POST", wire.quoted("licenses", license_id, "actions", name), _ONE)


def revoke(license_id: str) -> Call[None]:
    return Call("DELETE", wire.quoted("licenses", license_id, "actions", "revoke"), nothing, safe=True)


def delete(license_id: str) -> Call[None]:
    return Call("DELETE", wire.quoted("licenses", license_id), nothing, safe=True)
