"""ORM models, one file per table. Importing this package registers every table."""

from keyplane.models.account import Account
from keyplane.models.base import Base
from keyplane.models.credential import Credential
from keyplane.models.user import User

__all__ = ["Account", "Base", "Credential", "User"]
