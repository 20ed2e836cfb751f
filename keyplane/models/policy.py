from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record, Vocabulary


class Scheme(StrEnum):
    """How a policy's license keys are signed or encrypted (Keygen's names)."""

    LEGACY_ENCRYPT = "LEGACY_ENCRYPT"
    RSA_2048_PKCS1_ENCRYPT = "RSA_2048_PKCS1_ENCRYPT"
    RSA_2048_PKCS1_SIGN = "RSA_2048_PKCS1_SIGN"
    RSA_2048_PKCS1_PSS_SIGN = "RSA_2048_PKCS1_PSS_SIGN"
    RSA_2048_JWT_RS256 = "RSA_2048_JWT_RS256"
    RSA_2048_PKCS1_SIGN_V2 = "RSA_2048_PKCS1_SIGN_V2"
    RSA_2048_PKCS1_PSS_SIGN_V2 = "RSA_2048_PKCS1_PSS_SIGN_V2"
    ED25519_SIGN = "ED25519_SIGN"
    ECDSA_P256_SIGN = "ECDSA_P256_SIGN"


class MachineUniquenessStrategy(StrEnum):
    UNIQUE_PER_ACCOUNT = "UNIQUE_PER_ACCOUNT"
    UNIQUE_PER_PRODUCT = "UNIQUE_PER_PRODUCT"
    UNIQUE_PER_POLICY = "UNIQUE_PER_POLICY"
    UNIQUE_PER_LICENSE = "UNIQUE_PER_LICENSE"


class ComponentUniquenessStrategy(StrEnum):
    """What a machine component's fingerprint must be unique in (Keygen's names)."""

    UNIQUE_PER_ACCOUNT = "UNIQUE_PER_ACCOUNT"
    UNIQUE_PER_PRODUCT = "UNIQUE_PER_PRODUCT"
    UNIQUE_PER_POLICY = "UNIQUE_PER_POLICY"
    UNIQUE_PER_LICENSE = "UNIQUE_PER_LICENSE"
    UNIQUE_PER_MACHINE = "UNIQUE_PER_MACHINE"


class MachineMatchingStrategy(StrEnum):
    MATCH_ANY = "MATCH_ANY"
    MATCH_TWO = "MATCH_TWO"
    MATCH_MOST = "MATCH_MOST"
    MATCH_ALL = "MATCH_ALL"


class ExpirationStrategy(StrEnum):
    RESTRICT_ACCESS = "RESTRICT_ACCESS"
    REVOKE_ACCESS = "REVOKE_ACCESS"
    MAINTAIN_ACCESS = "MAINTAIN_ACCESS"
    ALLOW_ACCESS = "ALLOW_ACCESS"


class ExpirationBasis(StrEnum):
    FROM_CREATION = "FROM_CREATION"
    FROM_FIRST_VALIDATION = "FROM_FIRST_VALIDATION"
    FROM_FIRST_ACTIVATION = "FROM_FIRST_ACTIVATION"
    FROM_FIRST_DOWNLOAD = "FROM_FIRST_DOWNLOAD"
    FROM_FIRST_USE = "FROM_FIRST_USE"


class RenewalBasis(StrEnum):
    FROM_EXPIRY = "FROM_EXPIRY"
    FROM_NOW = "FROM_NOW"
    FROM_NOW_IF_EXPIRED = "FROM_NOW_IF_EXPIRED"


class TransferStrategy(StrEnum):
    RESET_EXPIRY = "RESET_EXPIRY"
    KEEP_EXPIRY = "KEEP_EXPIRY"


class AuthenticationStrategy(StrEnum):
    TOKEN = "TOKEN"
    LICENSE = "LICENSE"
    SESSION = "SESSION"
    MIXED = "MIXED"
    NONE = "NONE"


class MachineLeasingStrategy(StrEnum):
    PER_LICENSE = "PER_LICENSE"
    PER_USER = "PER_USER"


class ProcessLeasingStrategy(StrEnum):
    PER_MACHINE = "PER_MACHINE"
    PER_LICENSE = "PER_LICENSE"
    PER_USER = "PER_USER"


class OverageStrategy(StrEnum):
    ALWAYS_ALLOW_OVERAGE = "ALWAYS_ALLOW_OVERAGE"
    ALLOW_1_25X_OVERAGE = "ALLOW_1_25X_OVERAGE"
    ALLOW_1_5X_OVERAGE = "ALLOW_1_5X_OVERAGE"
    ALLOW_2X_OVERAGE = "ALLOW_2X_OVERAGE"
    NO_OVERAGE = "NO_OVERAGE"


class CheckInInterval(StrEnum):
    """Keygen's words, lower case (``policy.rb`` accepts ``day``, ``week``, ``month``,
    ``year``); the upper-case spelling Keyplane took before is read as the same word."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"

    @classmethod
    def _missing_(cls, value: object) -> CheckInInterval | None:
        if isinstance(value, str) and value.isupper():
            return cls.__members__.get(value)
        return None


class HeartbeatCullStrategy(StrEnum):
    DEACTIVATE_DEAD = "DEACTIVATE_DEAD"
    KEEP_DEAD = "KEEP_DEAD"


class HeartbeatResurrectionStrategy(StrEnum):
    ALWAYS_REVIVE = "ALWAYS_REVIVE"
    NO_REVIVE = "NO_REVIVE"
    REVIVE_1_MINUTE = "1_MINUTE_REVIVE"
    REVIVE_2_MINUTES = "2_MINUTE_REVIVE"
    REVIVE_5_MINUTES = "5_MINUTE_REVIVE"
    REVIVE_10_MINUTES = "10_MINUTE_REVIVE"
    REVIVE_15_MINUTES = "15_MINUTE_REVIVE"


class HeartbeatBasis(StrEnum):
    FROM_CREATION = "FROM_CREATION"
    FROM_FIRST_PING = "FROM_FIRST_PING"


class Policy(Record):
    """The rules for a product's licenses. ``use_pool`` and ``scheme`` never change."""

    __tablename__ = "policies"
    __table_args__ = (
        Index("ix_policies_account_id_id", "account_id", "id"),
        Index("ix_policies_product_id_id", "product_id", "id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    duration: Mapped[int | None] = mapped_column(Integer)
    strict: Mapped[bool] = mapped_column(Boolean, default=False)
    floating: Mapped[bool] = mapped_column(Boolean, default=False)
    use_pool: Mapped[bool] = mapped_column(Boolean, default=False)
    scheme: Mapped[Scheme | None] = mapped_column(Vocabulary(Scheme, 32))
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    max_machines: Mapped[int | None] = mapped_column(Integer)
    max_processes: Mapped[int | None] = mapped_column(Integer)
    max_users: Mapped[int | None] = mapped_column(Integer)
    max_cores: Mapped[int | None] = mapped_column(Integer)
    max_memory: Mapped[int | None] = mapped_column(Integer)
    max_disk: Mapped[int | None] = mapped_column(Integer)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    pool_low_threshold: Mapped[int | None] = mapped_column(Integer)
    machine_uniqueness_strategy: Mapped[MachineUniquenessStrategy] = mapped_column(
        Vocabulary(MachineUniquenessStrategy, 32), default=MachineUniquenessStrategy.UNIQUE_PER_LICENSE
    )
    machine_matching_strategy: Mapped[MachineMatchingStrategy] = mapped_column(
        Vocabulary(MachineMatchingStrategy, 32), default=MachineMatchingStrategy.MATCH_ANY
    )
    component_uniqueness_strategy: Mapped[ComponentUniquenessStrategy] = mapped_column(
        Vocabulary(ComponentUniquenessStrategy, 32), default=ComponentUniquenessStrategy.UNIQUE_PER_MACHINE
    )
    component_matching_strategy: Mapped[MachineMatchingStrategy] = mapped_column(
        Vocabulary(MachineMatchingStrategy, 32), default=MachineMatchingStrategy.MATCH_ANY
    )
    expiration_strategy: Mapped[ExpirationStrategy] = mapped_column(
        Vocabulary(ExpirationStrategy, 32), default=ExpirationStrategy.RESTRICT_ACCESS
    )
    expiration_basis: Mapped[ExpirationBasis] = mapped_column(
        Vocabulary(ExpirationBasis, 32), default=ExpirationBasis.FROM_CREATION
    )
    renewal_basis: Mapped[RenewalBasis] = mapped_column(
        Vocabulary(RenewalBasis, 32), default=RenewalBasis.FROM_EXPIRY
    )
    transfer_strategy: Mapped[TransferStrategy] = mapped_column(
        Vocabulary(TransferStrategy, 32), default=TransferStrategy.KEEP_EXPIRY
    )
    authentication_strategy: Mapped[AuthenticationStrategy] = mapped_column(
        Vocabulary(AuthenticationStrategy, 32), default=AuthenticationStrategy.TOKEN
    )
    machine_leasing_strategy: Mapped[MachineLeasingStrategy] = mapped_column(
        Vocabulary(MachineLeasingStrategy, 32), default=MachineLeasingStrategy.PER_LICENSE
    )
    process_leasing_strategy: Mapped[ProcessLeasingStrategy] = mapped_column(
        Vocabulary(ProcessLeasingStrategy, 32), default=ProcessLeasingStrategy.PER_MACHINE
    )
    overage_strategy: Mapped[OverageStrategy] = mapped_column(
        Vocabulary(OverageStrategy, 32), default=OverageStrategy.NO_OVERAGE
    )
    require_product_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_policy_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_machine_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_fingerprint_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_components_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_user_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_checksum_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_version_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    require_check_in: Mapped[bool] = mapped_column(Boolean, default=False)
    check_in_interval: Mapped[CheckInInterval | None] = mapped_column(Vocabulary(CheckInInterval, 8))
    check_in_interval_count: Mapped[int | None] = mapped_column(Integer)
    require_heartbeat: Mapped[bool] = mapped_column(Boolean, default=False)
    heartbeat_duration: Mapped[int | None] = mapped_column(Integer)
    heartbeat_cull_strategy: Mapped[HeartbeatCullStrategy] = mapped_column(
        Vocabulary(HeartbeatCullStrategy, 32), default=HeartbeatCullStrategy.DEACTIVATE_DEAD
    )
    heartbeat_resurrection_strategy: Mapped[HeartbeatResurrectionStrategy] = mapped_column(
        Vocabulary(HeartbeatResurrectionStrategy, 32), default=HeartbeatResurrectionStrategy.NO_REVIVE
    )
    heartbeat_basis: Mapped[HeartbeatBasis] = mapped_column(
        Vocabulary(HeartbeatBasis, 32), default=HeartbeatBasis.FROM_FIRST_PING
    )
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
