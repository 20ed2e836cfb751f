"""The licensing API's words for a license's state: what ``status`` shows and what a
validation answers (``code``), shared by the rules that decide them and the schemas that
publish them. Each value is the wire string, so JSON and storage read the same."""

from __future__ import annotations

from enum import StrEnum


class LicenseStatus(StrEnum):
    """A license's derived ``status`` (``keyplane.licensing.status``), in Keygen's order."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    EXPIRING = "EXPIRING"
    EXPIRED = "EXPIRED"
    SUSPENDED = "SUSPENDED"
    BANNED = "BANNED"
    """Keygen's status of a license whose owner is banned; Keyplane has no bans, so no license
    is BANNED, but the filter accepts it (and finds nothing)."""


class Code(StrEnum):
    """A validation's result code (Keygen's, in Keygen's order of checking)."""

    VALID = "VALID"
    NOT_FOUND = "NOT_FOUND"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"
    OVERDUE = "OVERDUE"
    PRODUCT_SCOPE_MISMATCH = "PRODUCT_SCOPE_MISMATCH"
    PRODUCT_SCOPE_REQUIRED = "PRODUCT_SCOPE_REQUIRED"
    POLICY_SCOPE_MISMATCH = "POLICY_SCOPE_MISMATCH"
    POLICY_SCOPE_REQUIRED = "POLICY_SCOPE_REQUIRED"
    USER_SCOPE_MISMATCH = "USER_SCOPE_MISMATCH"
    USER_SCOPE_REQUIRED = "USER_SCOPE_REQUIRED"
    ENTITLEMENTS_SCOPE_EMPTY = "ENTITLEMENTS_SCOPE_EMPTY"
    ENTITLEMENTS_MISSING = "ENTITLEMENTS_MISSING"
    MACHINE_SCOPE_MISMATCH = "MACHINE_SCOPE_MISMATCH"
    MACHINE_SCOPE_REQUIRED = "MACHINE_SCOPE_REQUIRED"
    FINGERPRINT_SCOPE_EMPTY = "FINGERPRINT_SCOPE_EMPTY"
    FINGERPRINT_SCOPE_MISMATCH = "FINGERPRINT_SCOPE_MISMATCH"
    FINGERPRINT_SCOPE_REQUIRED = "FINGERPRINT_SCOPE_REQUIRED"
    COMPONENTS_SCOPE_EMPTY = "COMPONENTS_SCOPE_EMPTY"
    COMPONENTS_SCOPE_MISMATCH = "COMPONENTS_SCOPE_MISMATCH"
    COMPONENTS_SCOPE_REQUIRED = "COMPONENTS_SCOPE_REQUIRED"
    CHECKSUM_SCOPE_REQUIRED = "CHECKSUM_SCOPE_REQUIRED"
    VERSION_SCOPE_REQUIRED = "VERSION_SCOPE_REQUIRED"
    HEARTBEAT_NOT_STARTED = "HEARTBEAT_NOT_STARTED"
    HEARTBEAT_DEAD = "HEARTBEAT_DEAD"
    NO_MACHINE = "NO_MACHINE"
    NO_MACHINES = "NO_MACHINES"
    TOO_MANY_MACHINES = "TOO_MANY_MACHINES"
    TOO_MANY_CORES = "TOO_MANY_CORES"
    TOO_MUCH_MEMORY = "TOO_MUCH_MEMORY"
    TOO_MUCH_DISK = "TOO_MUCH_DISK"
    TOO_MANY_USERS = "TOO_MANY_USERS"
