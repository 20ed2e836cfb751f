"""ORM models, one file per table. Importing this package registers every table."""

from keyplane.models.account import Account
from keyplane.models.base import Base
from keyplane.models.credential import Credential
from keyplane.models.event import Event
from keyplane.models.group import Group
from keyplane.models.installation import Installation
from keyplane.models.invalidation import Invalidation
from keyplane.models.license import License
from keyplane.models.machine import Machine
from keyplane.models.notice import Notice
from keyplane.models.policy import Policy
from keyplane.models.pool_key import PoolKey
from keyplane.models.product import Product
from keyplane.models.user import User
from keyplane.models.webhook_endpoint import WebhookEndpoint
from keyplane.models.webhook_event import WebhookEvent

__all__ = [
    "Account",
    "Base",
    "Credential",
    "Event",
    "Group",
    "Installation",
    "Invalidation",
    "License",
    "Machine",
    "Notice",
    "Policy",
    "PoolKey",
    "Product",
    "User",
    "WebhookEndpoint",
    "WebhookEvent",
]
