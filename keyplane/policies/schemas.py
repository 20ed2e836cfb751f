"""JSON:API request bodies for policies, with Keygen's enumerations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from keyplane.kit.documents import InstantOut, MetadataOut, Output, SelfLink, ToMany, ToOne
from keyplane.kit.paging import listing_spec, no_filters, parser
from keyplane.kit.query import Items, Param, Spec, identifier, last
from keyplane.kit.schemas import StrictInput
from keyplane.licensing.schemas import Count, Metadata, Name, ProductRelationship

Scheme = Literal[
    "LEGACY_ENCRYPT",
    "RSA_2048_PKCS1_ENCRYPT",
    "RSA_2048_PKCS1_SIGN",
    "RSA_2048_PKCS1_PSS_SIGN",
    "RSA_2048_JWT_RS256",
    "RSA_2048_PKCS1_SIGN_V2",
    "RSA_2048_PKCS1_PSS_SIGN_V2",
    "ED25519_SIGN",
    "ECDSA_P256_SIGN",
]
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
    machine_uniqueness_strategy: Literal[
        "UNIQUE_PER_ACCOUNT", "UNIQUE_PER_PRODUCT", "UNIQUE_PER_POLICY", "UNIQUE_PER_LICENSE"
    ] = Field(default="UNIQUE_PER_LICENSE", alias="machineUniquenessStrategy")
    machine_matching_strategy: Literal["MATCH_ANY", "MATCH_TWO", "MATCH_MOST", "MATCH_ALL"] = Field(
        default="MATCH_ANY", alias="machineMatchingStrategy"
    )
    expiration_strategy: Literal["RESTRICT_ACCESS", "REVOKE_ACCESS", "MAINTAIN_ACCESS", "ALLOW_ACCESS"] = (
        Field(default="RESTRICT_ACCESS", alias="expirationStrategy")
    )
    expiration_basis: Literal[
        "FROM_CREATION",
        "FROM_FIRST_VALIDATION",
        "FROM_FIRST_ACTIVATION",
        "FROM_FIRST_DOWNLOAD",
        "FROM_FIRST_USE",
    ] = Field(default="FROM_CREATION", alias="expirationBasis")
    renewal_basis: Literal["FROM_EXPIRY", "FROM_NOW", "FROM_NOW_IF_EXPIRED"] = Field(
        default="FROM_EXPIRY", alias="renewalBasis"
    )
    transfer_strategy: Literal["RESET_EXPIRY", "KEEP_EXPIRY"] = Field(
        default="KEEP_EXPIRY", alias="transferStrategy"
    )
    authentication_strategy: Literal["TOKEN", "LICENSE", "SESSION", "MIXED", "NONE"] = Field(
        default="TOKEN", alias="authenticationStrategy"
    )
    machine_leasing_strategy: Literal["PER_LICENSE", "PER_USER"] = Field(
        default="PER_LICENSE", alias="machineLeasingStrategy"
    )
    process_leasing_strategy: Literal["PER_MACHINE", "PER_LICENSE", "PER_USER"] = Field(
        default="PER_MACHINE", alias="processLeasingStrategy"
    )
    overage_strategy: Literal[
        "ALWAYS_ALLOW_OVERAGE", "ALLOW_1_25X_OVERAGE", "ALLOW_1_5X_OVERAGE", "ALLOW_2X_OVERAGE", "NO_OVERAGE"
    ] = Field(default="NO_OVERAGE", alias="overageStrategy")
    require_product_scope: bool = Field(default=False, alias="requireProductScope")
    require_policy_scope: bool = Field(default=False, alias="requirePolicyScope")
    require_machine_scope: bool = Field(default=False, alias="requireMachineScope")
    require_fingerprint_scope: bool = Field(default=False, alias="requireFingerprintScope")
    require_user_scope: bool = Field(default=False, alias="requireUserScope")
    require_checksum_scope: bool = Field(default=False, alias="requireChecksumScope")
    require_version_scope: bool = Field(default=False, alias="requireVersionScope")
    require_check_in: bool = Field(default=False, alias="requireCheckIn")
    check_in_interval: Literal["DAY", "WEEK", "MONTH", "YEAR"] | None = Field(
        default=None, alias="checkInInterval"
    )
    check_in_interval_count: Annotated[int, Field(ge=1, le=365)] | None = Field(
        default=None, alias="checkInIntervalCount"
    )
    require_heartbeat: bool = Field(default=False, alias="requireHeartbeat")
    heartbeat_duration: HeartbeatDuration | None = Field(default=None, alias="heartbeatDuration")
    heartbeat_cull_strategy: Literal["DEACTIVATE_DEAD", "KEEP_DEAD"] = Field(
        default="DEACTIVATE_DEAD", alias="heartbeatCullStrategy"
    )
    heartbeat_resurrection_strategy: Literal[
        "ALWAYS_REVIVE",
        "NO_REVIVE",
        "1_MINUTE_REVIVE",
        "2_MINUTE_REVIVE",
        "5_MINUTE_REVIVE",
        "10_MINUTE_REVIVE",
        "15_MINUTE_REVIVE",
    ] = Field(default="NO_REVIVE", alias="heartbeatResurrectionStrategy")
    heartbeat_basis: Literal["FROM_CREATION", "FROM_FIRST_PING"] = Field(
        default="FROM_FIRST_PING", alias="heartbeatBasis"
    )
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
    machineUniquenessStrategy: str
    machineMatchingStrategy: str
    expirationStrategy: str
    expirationBasis: str
    renewalBasis: str
    transferStrategy: str
    authenticationStrategy: str
    machineLeasingStrategy: str
    processLeasingStrategy: str
    overageStrategy: str
    requireProductScope: bool
    requirePolicyScope: bool
    requireMachineScope: bool
    requireFingerprintScope: bool
    requireUserScope: bool
    requireChecksumScope: bool
    requireVersionScope: bool
    requireCheckIn: bool
    checkInInterval: str | None
    checkInIntervalCount: int | None
    requireHeartbeat: bool
    heartbeatDuration: int | None
    heartbeatCullStrategy: str
    heartbeatResurrectionStrategy: str
    heartbeatBasis: str
    usePool: bool
    scheme: str | None
    encrypted: bool
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class PolicyRelationships(Output):
    account: ToOne
    product: ToOne
    pool: ToMany
    licenses: ToMany


class PolicyResource(Output):
    id: str
    type: Literal["policies"]
    attributes: PolicyAttributesOut
    relationships: PolicyRelationships
    links: SelfLink
