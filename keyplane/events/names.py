"""The events Keyplane records (Keygen's names where Keygen has the event) and what they
happen to."""

from __future__ import annotations

from enum import StrEnum


class EventName(StrEnum):
    ACCOUNT_CREATED = "account.created"

    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DELETED = "user.deleted"
    USER_SIGN_IN_FAILED = "user.sign-in.failed"
    """A wrong password for the user's email (``POST /tokens``)."""
    USER_GROUP_UPDATED = "user.group.updated"

    TOKEN_GENERATED = "token.generated"
    TOKEN_REGENERATED = "token.regenerated"
    TOKEN_REVOKED = "token.revoked"

    API_KEY_CREATED = "api-key.created"
    API_KEY_UPDATED = "api-key.updated"
    API_KEY_DEACTIVATED = "api-key.deactivated"
    API_KEY_REACTIVATED = "api-key.reactivated"
    API_KEY_DELETED = "api-key.deleted"
    API_KEY_EXPIRING_SOON = "api-key.expiring-soon"
    API_KEY_UNUSED = "api-key.unused"
    API_KEY_AUTHENTICATION_REFUSED = "api-key.authentication.refused"
    """A deactivated, deleted or expired key was used on Keyplane's API, or a key from an
    address it may not be used from."""
    API_KEY_VERIFICATION_REFUSED = "api-key.verification.refused"
    """Such a key was presented to ``POST /api-keys/verify``."""

    PRODUCT_CREATED = "product.created"
    PRODUCT_UPDATED = "product.updated"
    PRODUCT_DELETED = "product.deleted"

    POLICY_CREATED = "policy.created"
    POLICY_UPDATED = "policy.updated"
    POLICY_DELETED = "policy.deleted"
    POLICY_POOL_POPPED = "policy.pool.popped"
    POLICY_POOL_LOW = "policy.pool.low"
    POLICY_POOL_EMPTY = "policy.pool.empty"
    POLICY_ENTITLEMENTS_ATTACHED = "policy.entitlements.attached"
    POLICY_ENTITLEMENTS_DETACHED = "policy.entitlements.detached"

    KEY_CREATED = "key.created"
    KEY_UPDATED = "key.updated"
    KEY_DELETED = "key.deleted"

    LICENSE_CREATED = "license.created"
    LICENSE_UPDATED = "license.updated"
    LICENSE_DELETED = "license.deleted"
    LICENSE_SUSPENDED = "license.suspended"
    LICENSE_REINSTATED = "license.reinstated"
    LICENSE_RENEWED = "license.renewed"
    LICENSE_REVOKED = "license.revoked"
    LICENSE_CHECKED_IN = "license.checked-in"
    LICENSE_CHECKED_OUT = "license.checked-out"
    LICENSE_VALIDATION_SUCCEEDED = "license.validation.succeeded"
    LICENSE_VALIDATION_FAILED = "license.validation.failed"
    LICENSE_EXPIRING_SOON = "license.expiring-soon"
    LICENSE_EXPIRED = "license.expired"
    LICENSE_CHECK_IN_OVERDUE = "license.check-in-overdue"
    LICENSE_USAGE_INCREMENTED = "license.usage.incremented"
    LICENSE_USAGE_DECREMENTED = "license.usage.decremented"
    LICENSE_USAGE_RESET = "license.usage.reset"
    LICENSE_POLICY_UPDATED = "license.policy.updated"
    LICENSE_OWNER_UPDATED = "license.owner.updated"
    LICENSE_GROUP_UPDATED = "license.group.updated"
    LICENSE_ENTITLEMENTS_ATTACHED = "license.entitlements.attached"
    LICENSE_ENTITLEMENTS_DETACHED = "license.entitlements.detached"

    ENTITLEMENT_CREATED = "entitlement.created"
    ENTITLEMENT_UPDATED = "entitlement.updated"
    ENTITLEMENT_DELETED = "entitlement.deleted"
    LICENSE_USERS_ATTACHED = "license.users.attached"
    LICENSE_USERS_DETACHED = "license.users.detached"

    MACHINE_CREATED = "machine.created"
    MACHINE_UPDATED = "machine.updated"
    MACHINE_DELETED = "machine.deleted"
    MACHINE_CHECKED_OUT = "machine.checked-out"
    MACHINE_HEARTBEAT_PING = "machine.heartbeat.ping"
    MACHINE_HEARTBEAT_DEAD = "machine.heartbeat.dead"
    MACHINE_HEARTBEAT_RESURRECTED = "machine.heartbeat.resurrected"
    MACHINE_GROUP_UPDATED = "machine.group.updated"

    GROUP_CREATED = "group.created"
    GROUP_UPDATED = "group.updated"
    GROUP_DELETED = "group.deleted"
    GROUP_OWNERS_ATTACHED = "group.owners.attached"
    GROUP_OWNERS_DETACHED = "group.owners.detached"

    COMPONENT_CREATED = "component.created"
    COMPONENT_UPDATED = "component.updated"
    COMPONENT_DELETED = "component.deleted"

    PROCESS_CREATED = "process.created"
    PROCESS_UPDATED = "process.updated"
    PROCESS_DELETED = "process.deleted"
    PROCESS_HEARTBEAT_PING = "process.heartbeat.ping"
    PROCESS_HEARTBEAT_DEAD = "process.heartbeat.dead"
    PROCESS_HEARTBEAT_RESURRECTED = "process.heartbeat.resurrected"

    # Keygen has no events of its own webhooks; these follow its naming.
    WEBHOOK_ENDPOINT_CREATED = "webhook-endpoint.created"
    WEBHOOK_ENDPOINT_UPDATED = "webhook-endpoint.updated"
    WEBHOOK_ENDPOINT_DELETED = "webhook-endpoint.deleted"
    WEBHOOK_EVENT_RETRIED = "webhook-event.retried"

    @property
    def resource(self) -> ResourceType:
        """What the event happens to: its name's first part (``license.usage.reset``: a license)."""
        return ResourceType(self.value.split(".", 1)[0])


class ResourceType(StrEnum):
    """What an event happened to (stored singular; JSON:API names it by its plural)."""

    ACCOUNT = "account"
    USER = "user"
    TOKEN = "token"
    API_KEY = "api-key"
    PRODUCT = "product"
    POLICY = "policy"
    KEY = "key"
    LICENSE = "license"
    MACHINE = "machine"
    GROUP = "group"
    ENTITLEMENT = "entitlement"
    PROCESS = "process"
    COMPONENT = "component"
    WEBHOOK_ENDPOINT = "webhook-endpoint"
    WEBHOOK_EVENT = "webhook-event"

    @property
    def plural(self) -> str:
        return _PLURALS[self]


_PLURALS = {
    ResourceType.ACCOUNT: "accounts",
    ResourceType.USER: "users",
    ResourceType.TOKEN: "tokens",
    ResourceType.API_KEY: "api-keys",
    ResourceType.PRODUCT: "products",
    ResourceType.POLICY: "policies",
    ResourceType.KEY: "keys",
    ResourceType.LICENSE: "licenses",
    ResourceType.MACHINE: "machines",
    ResourceType.GROUP: "groups",
    ResourceType.ENTITLEMENT: "entitlements",
    ResourceType.PROCESS: "processes",
    ResourceType.COMPONENT: "components",
    ResourceType.WEBHOOK_ENDPOINT: "webhook-endpoints",
    ResourceType.WEBHOOK_EVENT: "webhook-events",
}
