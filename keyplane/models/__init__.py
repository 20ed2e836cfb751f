"""ORM models, one file per table. Importing this package registers every table."""

from keyplane.models.account import Account
from keyplane.models.base import Base
from keyplane.models.console_session import ConsoleSession
from keyplane.models.credential import Credential
from keyplane.models.entitlement import Entitlement
from keyplane.models.event import Event
from keyplane.models.group import Group
from keyplane.models.group_owner import GroupOwner
from keyplane.models.installation import Installation
from keyplane.models.invalidation import Invalidation
from keyplane.models.license import License
from keyplane.models.license_entitlement import LicenseEntitlement
from keyplane.models.license_user import LicenseUser
from keyplane.models.machine import Machine
from keyplane.models.machine_component import MachineComponent
from keyplane.models.machine_process import MachineProcess
from keyplane.models.notice import Notice
from keyplane.models.policy import Policy
from keyplane.models.policy_entitlement import PolicyEntitlement
from keyplane.models.pool_key import PoolKey
from keyplane.models.product import Product
from keyplane.models.user import User
from keyplane.models.webhook_endpoint import WebhookEndpoint
from keyplane.models.webhook_event import WebhookEvent

__all__ = [
    "Account",
    "Base",
    "ConsoleSession",
    "Credential",
    "Entitlement",
    "Event",
    "Group",
    "GroupOwner",
    "Installation",
    "Invalidation",
    "License",
    "LicenseEntitlement",
    "LicenseUser",
    "Machine",
    "MachineComponent",
    "MachineProcess",
    "Notice",
    "Policy",
    "PolicyEntitlement",
    "PoolKey",
    "Product",
    "User",
    "WebhookEndpoint",
    "WebhookEvent",
]
