"""What the licensing API answers, as flat typed models: licenses, pool keys and an import's
report, users, and events. Each is built from its JSON:API resource (``_wire``), which the
server's contract test checks, so these cannot drift from the server either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from keyplane_client import _wire as wire
from keyplane_client._wire import UserRole
from keyplane_client.models import _Answer

LicenseStatus = Literal["ACTIVE", "INACTIVE", "EXPIRING", "EXPIRED", "SUSPENDED", "BANNED"]
"""A license's status, as the list's ``status`` filter takes it."""

__all__ = ["Event", "ImportReport", "License", "LicenseStatus", "PoolKey", "Refused", "User", "UserRole"]


def _id(relationship: wire.ToOne | wire.Linkage) -> str | None:
    return None if relationship.data is None else relationship.data.id


def _required(relationship: wire.ToOne, name: str) -> str:
    """The id of a relationship every such record has (a license's policy, ...)."""
    if relationship.data is None:
        raise ValueError(f"the answer has no {name}")
    return relationship.data.id


class License(_Answer):
    """A license. Its ``key`` is what the customer's software presents: it is left out of the
    model's ``repr`` so that logging the object does not log it."""

    id: str
    key: str = Field(repr=False)
    name: str | None
    status: str
    """``ACTIVE``, ``INACTIVE``, ``EXPIRING``, ``EXPIRED``, ``SUSPENDED`` or ``BANNED``."""
    expiry: datetime | None
    uses: int
    suspended: bool
    protected: bool
    max_machines: int | None
    max_users: int | None
    max_uses: int | None
    last_validated: datetime | None
    metadata: dict[str, Any]
    created: datetime
    updated: datetime
    product_id: str
    policy_id: str
    owner_id: str | None
    group_id: str | None

    @classmethod
    def of(cls, resource: wire.LicenseResource) -> License:
        attributes, related = resource.attributes, resource.relationships
        return cls(
            id=resource.id,
            key=attributes.key,
            name=attributes.name,
            status=attributes.status,
            expiry=attributes.expiry,
            uses=attributes.uses,
            suspended=attributes.suspended,
            protected=attributes.protected,
            max_machines=attributes.max_machines,
            max_users=attributes.max_users,
            max_uses=attributes.max_uses,
            last_validated=attributes.last_validated,
            metadata=attributes.metadata,
            created=attributes.created,
            updated=attributes.updated,
            product_id=_required(related.product, "product"),
            policy_id=_required(related.policy, "policy"),
            owner_id=_id(related.owner),
            group_id=_id(related.group),
        )


class PoolKey(_Answer):
    """A key waiting in a pooled policy's pool (a license made under the policy takes one)."""

    id: str
    key: str = Field(repr=False)
    created: datetime
    updated: datetime
    product_id: str
    policy_id: str

    @classmethod
    def of(cls, resource: wire.KeyResource) -> PoolKey:
        return cls(
            id=resource.id,
            key=resource.attributes.key,
            created=resource.attributes.created,
            updated=resource.attributes.updated,
            product_id=_required(resource.relationships.product, "product"),
            policy_id=_required(resource.relationships.policy, "policy"),
        )


@dataclass(frozen=True, slots=True)
class Refused:
    """A key the import did not add: its line (from 1, in the order given), the value (left
    out of the ``repr``), and Keyplane's code and reason (``KEY_TAKEN``, ``KEY_CONFLICT``,
    ``KEY_TOO_SHORT``, ...). A value repeated within one batch is refused as a duplicate
    (its reason names the earlier line, counted within the batch); one repeated from an
    earlier batch is present."""

    line: int
    key: str = field(repr=False)
    code: str
    detail: str


@dataclass(slots=True)
class ImportReport:
    """What ``pool.import_keys`` did: how many keys it added, the lines whose key was already
    in the pool (present: left as they are, so a second run adds nothing), and the lines it
    refused."""

    added: int = 0
    present: list[int] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)

    def take(self, report: wire.ImportReport, keys: list[str], first_line: int) -> None:
        """Add a batch's report; the batch's lines (from 1) are the import's from ``first_line``."""
        offset = first_line - 1
        self.added += report.added
        self.present += [offset + line for line in report.present]
        self.refused += [
            Refused(offset + item.line, keys[item.line - 1], item.code, item.detail)
            for item in report.refused
        ]


class User(_Answer):
    """A user of the account: staff (a role other than ``user``) or an end customer."""

    id: str
    email: str
    first_name: str | None
    last_name: str | None
    full_name: str | None
    role: str
    status: str
    metadata: dict[str, Any]
    created: datetime
    updated: datetime
    group_id: str | None

    @classmethod
    def of(cls, resource: wire.UserResource) -> User:
        attributes = resource.attributes
        return cls(
            id=resource.id,
            email=attributes.email,
            first_name=attributes.first_name,
            last_name=attributes.last_name,
            full_name=attributes.full_name,
            role=attributes.role,
            status=attributes.status,
            metadata=attributes.metadata,
            created=attributes.created,
            updated=attributes.updated,
            group_id=_id(resource.relationships.group),
        )


class Event(_Answer):
    """An entry of the account's event log: what happened (``license.created``, ...), to which
    record, by whom (``whodunnit``: a user, an API key, a token, ...; none for the system),
    through which request."""

    id: str
    event: str
    created: datetime
    resource_type: str
    """The JSON:API type of the record (``licenses``, ``keys``, ``users``, ...)."""
    resource_id: str | None
    whodunnit_type: str | None
    whodunnit_id: str | None
    request_id: str | None
    metadata: dict[str, Any]

    @classmethod
    def of(cls, resource: wire.EventResource) -> Event:
        related = resource.relationships
        who = related.whodunnit.data
        return cls(
            id=resource.id,
            event=resource.attributes.event,
            created=resource.attributes.created,
            resource_type="" if related.resource.data is None else related.resource.data.type,
            resource_id=_id(related.resource),
            whodunnit_type=None if who is None else who.type,
            whodunnit_id=None if who is None else who.id,
            request_id=_id(related.request),
            metadata=resource.attributes.metadata,
        )
