"""JSON:API request bodies for policies, with Keygen's enumerations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from keyplane.kit.documents import (
    InstantOut,
    MetadataOut,
    Output,
    SelfLink,
    ToMany,
    ToOne,
)
from keyplane.kit.jsonapi import (
    account_base,
    resource,
    to_many,
    to_one,
)
from keyplane.kit.paging import listing_spec, no_filters, parser
from keyplane.kit.query import Items, Param, Spec, identifier, last
from keyplane.kit.schemas import ResourceId, StrictInput
from keyplane.kit.timefmt import iso
from keyplane.licensing.schemas import Count, Metadata, Name, ProductRelationship
from keyplane.models import Policy
from keyplane.models.policy import (
    AuthenticationStrategy,
    CheckInInterval,
    ComponentUniquenessStrategy,
    ExpirationBasis,
    ExpirationStrategy,
    HeartbeatBasis,
    HeartbeatCullStrategy,
    HeartbeatResurrectionStrategy,
    MachineLeasingStrategy,
    MachineMatchingStrategy,
    MachineUniquenessStrategy,
    OverageStrategy,
    ProcessLeasingStrategy,
    RenewalBasis,
    Scheme,
    TransferStrategy,
)

Duration = Annotated[int, Field(ge=86_400, le=2_147_483_647)]
"""Seconds; at least a day (Keygen's rule)."""
HeartbeatDuration = Annotated[int, Field(ge=60, le=2_147_483_647)]
MaxMachines = Annotated[int, Field(ge=1, le=2_147_483_647)]
PolicyType = Annotated[str, Field(pattern="^polic(y|ies)$")]


class PolicyAttributes(StrictInput):
    """What a policy's PATCH may change (``usePool``, ``scheme`` and ``encrypted`` are fixed)."""

    name: Name | None = None
    duration: Duration | None = None
    strict: bool = False
    floating: bool = False
    protected: bool = False
    max_machines: MaxMachines | None = Field(default=None, alias="maxMachines")
    max_processes: Count | None = Field(default=None, alias="maxProcesses")
    max_users: Count | None = Field(default=None, alias="maxUsers")
    max_cores: Count | None = Field(default=None, alias="maxCores")
    max_memory: Count | None = Field(default=None, alias="maxMemory")
    max_disk: Count | None = Field(default=None, alias="maxDisk")
    max_uses: Count | None = Field(default=None, alias="maxUses")
    pool_low_threshold: Count | None = Field(default=None, alias="poolLowThreshold")
    """A pooled policy's pool dropping to this many keys sends ``policy.pool.low`` (None: never)."""
    machine_uniqueness_strategy: MachineUniquenessStrategy = Field(
        default=MachineUniquenessStrategy.UNIQUE_PER_LICENSE, alias="machineUniquenessStrategy"
    )
    machine_matching_strategy: MachineMatchingStrategy = Field(
        default=MachineMatchingStrategy.MATCH_ANY, alias="machineMatchingStrategy"
    )
    component_uniqueness_strategy: ComponentUniquenessStrategy = Field(
        default=ComponentUniquenessStrategy.UNIQUE_PER_MACHINE, alias="componentUniquenessStrategy"
    )
    component_matching_strategy: MachineMatchingStrategy = Field(
        default=MachineMatchingStrategy.MATCH_ANY, alias="componentMatchingStrategy"
    )
    expiration_strategy: ExpirationStrategy = Field(
        default=ExpirationStrategy.RESTRICT_ACCESS, alias="expirationStrategy"
    )
    expiration_basis: ExpirationBasis = Field(default=ExpirationBasis.FROM_CREATION, alias="expirationBasis")
    renewal_basis: RenewalBasis = Field(default=RenewalBasis.FROM_EXPIRY, alias="renewalBasis")
    transfer_strategy: TransferStrategy = Field(
        default=TransferStrategy.KEEP_EXPIRY, alias="transferStrategy"
    )
    authentication_strategy: AuthenticationStrategy = Field(
        default=AuthenticationStrategy.TOKEN, alias="authenticationStrategy"
    )
    machine_leasing_strategy: MachineLeasingStrategy = Field(
        default=MachineLeasingStrategy.PER_LICENSE, alias="machineLeasingStrategy"
    )
    process_leasing_strategy: ProcessLeasingStrategy = Field(
        default=ProcessLeasingStrategy.PER_MACHINE, alias="processLeasingStrategy"
    )
    overage_strategy: OverageStrategy = Field(default=OverageStrategy.NO_OVERAGE, alias="overageStrategy")
    require_product_scope: bool = Field(default=False, alias="requireProductScope")
    require_policy_scope: bool = Field(default=False, alias="requirePolicyScope")
    require_machine_scope: bool = Field(default=False, alias="requireMachineScope")
    require_fingerprint_scope: bool = Field(default=False, alias="requireFingerprintScope")
    require_components_scope: bool = Field(default=False, alias="requireComponentsScope")
    require_user_scope: bool = Field(default=False, alias="requireUserScope")
    require_checksum_scope: bool = Field(default=False, alias="requireChecksumScope")
    require_version_scope: bool = Field(default=False, alias="requireVersionScope")
    require_check_in: bool = Field(default=False, alias="requireCheckIn")
    check_in_interval: CheckInInterval | None = Field(default=None, alias="checkInInterval")
    check_in_interval_count: Annotated[int, Field(ge=1, le=365)] | None = Field(
        default=None, alias="checkInIntervalCount"
    )
    require_heartbeat: bool = Field(default=False, alias="requireHeartbeat")
    heartbeat_duration: HeartbeatDuration | None = Field(default=None, alias="heartbeatDuration")
    heartbeat_cull_strategy: HeartbeatCullStrategy = Field(
        default=HeartbeatCullStrategy.DEACTIVATE_DEAD, alias="heartbeatCullStrategy"
    )
    heartbeat_resurrection_strategy: HeartbeatResurrectionStrategy = Field(
        default=HeartbeatResurrectionStrategy.NO_REVIVE, alias="heartbeatResurrectionStrategy"
    )
    heartbeat_basis: HeartbeatBasis = Field(default=HeartbeatBasis.FROM_FIRST_PING, alias="heartbeatBasis")
    metadata: Metadata | None = None


class PolicyCreateAttributes(PolicyAttributes):
    name: Name
    use_pool: bool = Field(default=False, alias="usePool")
    scheme: Scheme | None = None
    encrypted: bool = False


class PolicyCreateRelationships(StrictInput):
    product: ProductRelationship


class PolicyCreateData(StrictInput):
    type: PolicyType
    attributes: PolicyCreateAttributes
    relationships: PolicyCreateRelationships


class PolicyUpdateData(StrictInput):
    type: PolicyType
    id: ResourceId | None = None
    attributes: PolicyAttributes


class PolicyCreate(StrictInput):
    data: PolicyCreateData


class PolicyUpdate(StrictInput):
    data: PolicyUpdateData


# -- the list's filters (Keygen's ``has_scope`` on policies) --------------------------------

POLICY_LIST: Spec = listing_spec(Param("product", "Only this product's policies (its id)"))
PRODUCT_POLICY_LIST: Spec = listing_spec()
"""``/products/{id}/policies`` takes paging alone, as Keygen's route does."""


@dataclass(frozen=True, slots=True)
class PolicyFilters:
    product: uuid.UUID | None = None


def policy_filters(items: Items) -> PolicyFilters:
    product = last(items, "product")
    return PolicyFilters(product=None if product is None else identifier(product, "product"))


parse_policy_list = parser(POLICY_LIST, policy_filters)
parse_product_policy_list = parser(PRODUCT_POLICY_LIST, no_filters)
# -- answers ---------------------------------------------------------------------------------


class PolicyAttributesOut(Output):
    """Every attribute a policy is created with, as it is now."""

    name: str
    duration: int | None
    strict: bool
    floating: bool
    protected: bool
    maxMachines: int | None
    maxProcesses: int | None
    maxUsers: int | None
    maxCores: int | None
    maxMemory: int | None
    maxDisk: int | None
    maxUses: int | None
    poolLowThreshold: int | None
    machineUniquenessStrategy: MachineUniquenessStrategy
    machineMatchingStrategy: MachineMatchingStrategy
    componentUniquenessStrategy: ComponentUniquenessStrategy
    componentMatchingStrategy: MachineMatchingStrategy
    expirationStrategy: ExpirationStrategy
    expirationBasis: ExpirationBasis
    renewalBasis: RenewalBasis
    transferStrategy: TransferStrategy
    authenticationStrategy: AuthenticationStrategy
    machineLeasingStrategy: MachineLeasingStrategy
    processLeasingStrategy: ProcessLeasingStrategy
    overageStrategy: OverageStrategy
    requireProductScope: bool
    requirePolicyScope: bool
    requireMachineScope: bool
    requireFingerprintScope: bool
    requireComponentsScope: bool
    requireUserScope: bool
    requireChecksumScope: bool
    requireVersionScope: bool
    requireCheckIn: bool
    checkInInterval: CheckInInterval | None
    checkInIntervalCount: int | None
    requireHeartbeat: bool
    heartbeatDuration: int | None
    heartbeatCullStrategy: HeartbeatCullStrategy
    heartbeatResurrectionStrategy: HeartbeatResurrectionStrategy
    heartbeatBasis: HeartbeatBasis
    usePool: bool
    scheme: Scheme | None
    encrypted: bool
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class PolicyRelationships(Output):
    account: ToOne
    product: ToOne
    pool: ToMany
    licenses: ToMany
    entitlements: ToMany


class PolicyResource(Output):
    id: str
    type: Literal["policies"]
    attributes: PolicyAttributesOut
    relationships: PolicyRelationships
    links: SelfLink


# -- rendering ------------------------------------------------------------------------------


# Wire name -> column for every attribute but name and metadata, in the schema's spelling.
_ATTRIBUTES = {
    field.alias or name: name
    for name, field in PolicyCreateAttributes.model_fields.items()
    if name not in ("name", "metadata")
}


def policy_resource(policy: Policy) -> dict[str, Any]:
    base = account_base(policy.account_id)
    own = f"policies/{policy.id}"
    attributes: dict[str, Any] = {"name": policy.name}
    attributes |= {wire: getattr(policy, column) for wire, column in _ATTRIBUTES.items()}
    attributes |= {
        "metadata": policy.meta,
        "created": iso(policy.created_at),
        "updated": iso(policy.updated_at),
    }
    return resource(
        base,
        "policies",
        policy.id,
        attributes,
        {
            "account": to_one(base, "accounts", policy.account_id, ""),
            "product": to_one(base, "products", policy.product_id, f"{own}/product"),
            "pool": to_many(base, f"{own}/pool"),
            "licenses": to_many(base, f"{own}/licenses"),
            "entitlements": to_many(base, f"{own}/entitlements"),
        },
    )
