"""Users in Keygen's JSON:API shapes: request bodies (``data.type`` singular or plural) and
the user resource."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from keyplane.auth.scopes import USER_ROLES, Role
from keyplane.kit.documents import Document, InstantOut, MetadataOut, Output, SelfLink, ToOne
from keyplane.kit.schemas import StrictInput


def _person_role(role: Role) -> Role:
    if role not in USER_ROLES:
        raise ValueError("is not a role a user can have")
    return role


UserRole = Annotated[Role, AfterValidator(_person_role)]
Password = Annotated[str, Field(min_length=8, max_length=1024)]
PersonName = Annotated[str, Field(min_length=1, max_length=255)]


class UserCreateAttributes(StrictInput):
    email: Annotated[str, Field(min_length=3, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    password: Password | None = None
    first_name: PersonName | None = Field(default=None, alias="firstName")
    last_name: PersonName | None = Field(default=None, alias="lastName")
    role: UserRole = Role.USER


class UserUpdateAttributes(StrictInput):
    password: Password | None = None
    first_name: PersonName | None = Field(default=None, alias="firstName")
    last_name: PersonName | None = Field(default=None, alias="lastName")
    role: UserRole | None = None


class UserCreateData(StrictInput):
    type: Annotated[str, Field(pattern="^users?$")]
    attributes: UserCreateAttributes


class UserUpdateData(StrictInput):
    type: Annotated[str, Field(pattern="^users?$")]
    attributes: UserUpdateAttributes


class UserCreate(StrictInput):
    data: UserCreateData


class UserUpdate(StrictInput):
    data: UserUpdateData


# -- answers ---------------------------------------------------------------------------------


class UserAttributesOut(Output):
    fullName: str | None
    firstName: str | None
    lastName: str | None
    email: str
    status: Literal["ACTIVE"]
    role: str
    """``admin``, ``developer``, ``read-only``, ``support-agent``, ``sales-agent`` or ``user``."""
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class UserRelationships(Output):
    account: ToOne


class UserResource(Output):
    id: str
    type: Literal["users"]
    attributes: UserAttributesOut
    relationships: UserRelationships
    links: SelfLink


class OwnerDocument(Document[UserResource | None]):
    """A license's or a machine's owner: ``data: null`` when nobody owns it."""
