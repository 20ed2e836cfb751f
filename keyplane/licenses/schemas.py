"""JSON:API request bodies for licenses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool, model_validator

from keyplane import examples as example
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
from keyplane.kit.instants import Instant
from keyplane.kit.jsonapi import (
    account_base,
    resource,
    to_many,
    to_one,
)
from keyplane.kit.paging import listing_spec, parser
from keyplane.kit.query import (
    Items,
    Param,
    Span,
    Spec,
    boolean,
    choice,
    family,
    identifier,
    instant,
    last,
    metadata,
    reference,
    refuse,
    span,
)
from keyplane.kit.schemas import ResourceId, StrictInput
from keyplane.kit.timefmt import iso, iso_or_none
from keyplane.licenses.validation import Scope, users_count
from keyplane.licensing.schemas import (
    Count,
    GroupRelationship,
    Metadata,
    Name,
    PolicyIdentifier,
    PolicyRelationship,
    UserIdentifier,
    UserRelationship,
)
from keyplane.licensing.status import STATUSES, next_check_in, status
from keyplane.licensing.vocab import Code, LicenseStatus
from keyplane.models import License, Policy

LicenseKey = Annotated[str, Field(min_length=1, max_length=16_384)]
"""A key as sent: at least 6 characters unless the policy signs it (``ED25519_SIGN`` signs
any non-empty dataset), which the service checks (Keygen's ``license.rb``)."""
LicenseType = Annotated[str, Field(pattern="^licenses?$")]
MaxMachines = Annotated[int, Field(ge=1, le=2_147_483_647)]


class LicenseAttributes(StrictInput):
    name: Name | None = None
    expiry: Instant | None = None
    suspended: bool = False
    protected: bool | None = None
    max_machines: MaxMachines | None = Field(default=None, alias="maxMachines")
    max_processes: Count | None = Field(default=None, alias="maxProcesses")
    max_users: Count | None = Field(default=None, alias="maxUsers")
    max_cores: Count | None = Field(default=None, alias="maxCores")
    max_memory: Count | None = Field(default=None, alias="maxMemory")
    max_disk: Count | None = Field(default=None, alias="maxDisk")
    max_uses: Count | None = Field(default=None, alias="maxUses")
    metadata: Metadata | None = None


PRIVILEGED = frozenset(LicenseAttributes.model_fields) - {"name"}
"""Attributes only staff and product tokens may set (an end customer may name a license)."""


class LicenseCreateAttributes(LicenseAttributes):
    key: LicenseKey | None = None


class LicenseCreateRelationships(StrictInput):
    policy: PolicyRelationship
    owner: UserRelationship | None = None
    user: UserRelationship | None = None
    """Keygen's older name for ``owner``."""
    group: GroupRelationship | None = None
    """Staff and product tokens only; without it, the license joins its owner's group."""

    @model_validator(mode="after")
    def _one_owner(self) -> LicenseCreateRelationships:
        if self.owner is not None and self.user is not None:
            raise ValueError("send owner or user, not both")
        return self

    @property
    def owner_ref(self) -> UserIdentifier | None:
        relationship = self.owner or self.user
        return None if relationship is None else relationship.data


class LicenseCreateData(StrictInput):
    type: LicenseType
    attributes: LicenseCreateAttributes = LicenseCreateAttributes()
    relationships: LicenseCreateRelationships


class LicenseUpdateData(StrictInput):
    type: LicenseType
    id: ResourceId | None = None
    attributes: LicenseAttributes


class LicenseCreate(StrictInput):
    model_config = ConfigDict(json_schema_extra=example.of(example.LICENSE_CREATE))

    data: LicenseCreateData


class LicenseUpdate(StrictInput):
    data: LicenseUpdateData


class PolicyChange(StrictInput):
    """``PUT /licenses/{id}/policy``."""

    data: PolicyIdentifier


class OwnerChange(StrictInput):
    """``PUT /licenses/{id}/owner`` (null takes the owner away)."""

    data: UserIdentifier | None


# -- the list's filters (Keygen's ``has_scope`` on licenses that this model can answer) -------

_FILTERS = (
    Param("product", "Only this product's licenses (its id)"),
    Param("policy", "Only this policy's licenses (its id)"),
    Param("group", "Only this group's licenses (its id)"),
    Param("owner", "Only licenses owned by this user (id or email)"),
    Param("user", "Same as owner"),
    Param("machine", "Only the license of this machine (its id or fingerprint)"),
    Param("status", f"One of {', '.join(STATUSES)}"),
    Param("metadata[key]", "Only licenses whose metadata has this key with this value", family=True),
    Param("expires[in]", "Expiring within this span from now: 3d, 2w, 1m, 1y, T12H or seconds"),
    Param("expires[within]", "Same as expires[in]"),
    Param("expires[before]", "Not yet expired, expiring before this time (ISO 8601 or epoch seconds)"),
    Param("expires[after]", "Not yet expired, expiring after this time (ISO 8601 or epoch seconds)"),
    Param("expires[on]", "Expiring on this day (YYYY-MM-DD, UTC)"),
    Param("suspended", "true or false"),
    Param("expired", "true: past their expiry; false: not expired (or no expiry)"),
    Param("expiring", "true: expiring within 3 days; false: not"),
    Param("unassigned", "true: without an owner; false: with one"),
    Param("assigned", "true: with an owner; false: without one"),
    Param("activated", "true: with at least one machine; false: with none"),
)
LICENSE_LIST: Spec = listing_spec(*_FILTERS)
POLICY_LICENSE_LIST: Spec = listing_spec(*(p for p in _FILTERS if p.name in ("product", "user", "suspended")))
"""``/policies/{id}/licenses`` takes what Keygen's route does: product, user, suspended."""
PRODUCT_LICENSE_LIST: Spec = listing_spec(*(p for p in _FILTERS if p.name in ("policy", "user", "suspended")))
"""``/products/{id}/licenses`` takes what Keygen's route does: policy, user, suspended."""


@dataclass(frozen=True, slots=True)
class Expires:
    """``expires[...]``: licenses not yet expired whose expiry falls in the window (every
    bound given applies)."""

    within: Span | None = None
    before: datetime | None = None
    after: datetime | None = None
    on: date | None = None


@dataclass(frozen=True, slots=True)
class LicenseFilters:
    product: uuid.UUID | None = None
    policy: uuid.UUID | None = None
    group: uuid.UUID | None = None
    owner: str | None = None
    machine: str | None = None
    status: LicenseStatus | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    expires: Expires | None = None
    suspended: bool | None = None
    expired: bool | None = None
    expiring: bool | None = None
    assigned: bool | None = None
    unassigned: bool | None = None
    activated: bool | None = None


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise refuse(name, f"must be a date, YYYY-MM-DD (got {value!r})") from None


def _expires(items: Items) -> Expires | None:
    given = dict(family(items, "expires"))
    if last(items, "expires") is not None:
        raise refuse("expires", "must be an object: expires[in], [before], [after] or [on]")
    if not given:
        return None
    within = given.get("in", given.get("within"))
    name = "expires[in]" if "in" in given else "expires[within]"
    return Expires(
        within=None if within is None else span(within, name),
        before=None if "before" not in given else instant(given["before"], "expires[before]"),
        after=None if "after" not in given else instant(given["after"], "expires[after]"),
        on=None if "on" not in given else _day(given["on"], "expires[on]"),
    )


def _flag(items: Items, name: str) -> bool | None:
    value = last(items, name)
    return None if value is None else boolean(value, name)


def license_filters(items: Items) -> LicenseFilters:
    product, policy, group = last(items, "product"), last(items, "policy"), last(items, "group")
    owner_name = "owner" if last(items, "owner") is not None else "user"
    owner, machine, status = last(items, owner_name), last(items, "machine"), last(items, "status")
    return LicenseFilters(
        product=None if product is None else identifier(product, "product"),
        policy=None if policy is None else identifier(policy, "policy"),
        group=None if group is None else identifier(group, "group"),
        owner=None if owner is None else reference(owner, owner_name),
        machine=None if machine is None else reference(machine, "machine"),
        status=None if status is None else LicenseStatus(choice(status, STATUSES, "status")),
        metadata=metadata(items),
        expires=_expires(items),
        suspended=_flag(items, "suspended"),
        expired=_flag(items, "expired"),
        expiring=_flag(items, "expiring"),
        assigned=_flag(items, "assigned"),
        unassigned=_flag(items, "unassigned"),
        activated=_flag(items, "activated"),
    )


parse_license_list = parser(LICENSE_LIST, license_filters)
parse_policy_license_list = parser(POLICY_LICENSE_LIST, license_filters)
parse_product_license_list = parser(PRODUCT_LICENSE_LIST, license_filters)
# -- license actions' bodies ------------------------------------------------------------------

Nonce = Annotated[int, Field(ge=0, le=2**63 - 1)]
Step = Annotated[int, Field(ge=1, le=2_147_483_647)]


class ValidateKeyMeta(StrictInput):
    key: Annotated[str, Field(max_length=16_384)]
    """Blank is a 400 (checked in the route, as Keygen answers), not a failed rule."""
    scope: Scope | None = None
    nonce: Nonce | None = None
    encrypted: StrictBool | None = None
    """Keygen's legacy flag (with ``legacyEncrypted``): see ``legacy``."""
    legacy_encrypted: StrictBool | None = Field(default=None, alias="legacyEncrypted")

    @property
    def legacy(self) -> bool:
        """Whether the key is to be found by Keygen's legacy encrypted lookup
        (``app/controllers/api/v1/licenses/actions/validations_controller.rb``): a key
        hashed with Keygen's v1 scheme, which Keyplane never issues (it refuses encrypted
        policies), so that lookup finds no license: ``NOT_FOUND``."""
        return self.encrypted is True or self.legacy_encrypted is True


class ValidateKey(StrictInput):
    model_config = ConfigDict(json_schema_extra=example.of(example.VALIDATE_KEY))

    meta: ValidateKeyMeta


class ValidateMeta(StrictInput):
    scope: Scope | None = None
    nonce: Nonce | None = None


class Validate(StrictInput):
    meta: ValidateMeta = ValidateMeta()


class IncrementMeta(StrictInput):
    increment: Step = 1


class Increment(StrictInput):
    meta: IncrementMeta = IncrementMeta()


class DecrementMeta(StrictInput):
    decrement: Step = 1


class Decrement(StrictInput):
    meta: DecrementMeta = DecrementMeta()


# -- answers ---------------------------------------------------------------------------------


class LicenseAttributesOut(Output):
    name: str | None
    key: str
    expiry: InstantOut | None
    status: LicenseStatus
    uses: int
    suspended: bool
    scheme: str | None
    encrypted: bool
    strict: bool
    floating: bool
    protected: bool
    version: None
    requireHeartbeat: bool
    requireCheckIn: bool
    lastValidated: InstantOut | None
    lastCheckIn: InstantOut | None
    nextCheckIn: InstantOut | None
    lastCheckOut: InstantOut | None
    maxMachines: int | None
    maxProcesses: int | None
    maxUsers: int | None
    maxCores: int | None
    maxMemory: int | None
    maxDisk: int | None
    maxUses: int | None
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class MachinesMeta(Output):
    """What a license's machines add up to (Keygen's ``license_serializer.rb``)."""

    count: int
    cores: int
    memory: int
    disk: int


class MachinesRelationship(ToMany):
    meta: MachinesMeta


class UsersMeta(Output):
    """How many users a license has: its licensees and its owner (Keygen's
    ``license_serializer.rb``, ``users_count``)."""

    count: int


class UsersRelationship(ToMany):
    meta: UsersMeta


class LicenseRelationshipsOut(Output):
    account: ToOne
    product: ToOne
    policy: ToOne
    owner: ToOne
    group: ToOne
    users: UsersRelationship
    machines: MachinesRelationship
    entitlements: ToMany


class LicenseResource(Output):
    id: str
    type: Literal["licenses"]
    attributes: LicenseAttributesOut
    relationships: LicenseRelationshipsOut
    links: SelfLink


class ValidationMeta(Output):
    ts: InstantOut
    """When the server validated."""
    valid: bool
    detail: str
    code: Code
    """``VALID``, or the first rule that failed in Keygen's order (``SUSPENDED``, ``EXPIRED``,
    ``NOT_FOUND``, ``FINGERPRINT_SCOPE_MISMATCH``, ...)."""
    scope: dict[str, Any] | None = None
    """The scope as sent (only when one was)."""
    nonce: int | None = None
    """The nonce as sent (only when one was)."""


class LicenseDocument(Document[LicenseResource]):
    model_config = ConfigDict(json_schema_extra=example.of({"data": example.LICENSE_RESOURCE}))


class ValidationDocument(Document[LicenseResource | None]):
    """The answer to a validation: always 200; ``data`` is null for a key that is no license."""

    model_config = ConfigDict(json_schema_extra=example.of(example.VALIDATED))

    meta: ValidationMeta


# -- rendering ------------------------------------------------------------------------------


_LIMITS = ("machines", "processes", "users", "cores", "memory", "disk", "uses")


def license_resource(license: License, policy: Policy) -> dict[str, Any]:
    base = account_base(license.account_id)
    own = f"licenses/{license.id}"
    attributes: dict[str, Any] = {
        "name": license.name,
        "key": license.key,
        "expiry": iso_or_none(license.expiry),
        "status": status(license, clock.now()),
        "uses": license.uses,
        "suspended": license.suspended,
        "scheme": policy.scheme,
        "encrypted": policy.encrypted,
        "strict": policy.strict,
        "floating": policy.floating,
        "protected": policy.protected if license.protected is None else license.protected,
        "version": None,
        "requireHeartbeat": policy.require_heartbeat,
        "requireCheckIn": policy.require_check_in,
        "lastValidated": iso_or_none(license.last_validated),
        "lastCheckIn": iso_or_none(license.last_check_in),
        "nextCheckIn": iso_or_none(next_check_in(license, policy)),
        "lastCheckOut": iso_or_none(license.last_check_out),
    }
    for limit in _LIMITS:
        override = getattr(license, f"max_{limit}")
        attributes[f"max{limit.title()}"] = getattr(policy, f"max_{limit}") if override is None else override
    attributes |= {
        "metadata": license.meta,
        "created": iso(license.created_at),
        "updated": iso(license.updated_at),
    }
    return resource(
        base,
        "licenses",
        license.id,
        attributes,
        {
            "account": to_one(base, "accounts", license.account_id, ""),
            "product": to_one(base, "products", license.product_id, f"{own}/product"),
            "policy": to_one(base, "policies", license.policy_id, f"{own}/policy"),
            "owner": to_one(base, "users", license.owner_id, f"{own}/owner"),
            "group": to_one(base, "groups", license.group_id, f"{own}/group"),
            "users": to_many(base, f"{own}/users", count=users_count(license)),
            "machines": to_many(
                base,
                f"{own}/machines",
                count=license.machines_count,
                cores=license.machines_cores,
                memory=license.machines_memory,
                disk=license.machines_disk,
            ),
            "entitlements": to_many(base, f"{own}/entitlements"),
        },
    )
