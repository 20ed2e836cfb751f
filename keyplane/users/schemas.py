"""Users in Keygen's JSON:API shapes: request bodies (``data.type`` singular or plural) and
the user resource."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from keyplane.auth.scopes import USER_ROLES, Role
from keyplane.kit import passwords
from keyplane.kit.documents import (
    Document,
    InstantOut,
    MetadataOut,
    Output,
    SelfLink,
    ToOne,
)
from keyplane.kit.jsonapi import account_base, to_one
from keyplane.kit.paging import listing_spec, parser
from keyplane.kit.query import Items, Param, Spec, boolean, choice, every, identifier, last, reference, refuse
from keyplane.kit.schemas import ResourceId, StrictInput
from keyplane.kit.timefmt import iso
from keyplane.models import User


def _person_role(role: Role) -> Role:
    if role not in USER_ROLES:
        raise ValueError("is not a role a user can have")
    return role


UserRole = Annotated[Role, AfterValidator(_person_role)]
Password = Annotated[str, Field(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)]
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
    id: ResourceId | None = None
    attributes: UserUpdateAttributes


class UserCreate(StrictInput):
    data: UserCreateData


class UserUpdate(StrictInput):
    data: UserUpdateData


# -- the list's filters (Keygen's ``has_scope`` on users that this model can answer) ----------


class UserStatus(StrEnum):
    """A user's ``status`` as Keygen names them; Keyplane's users are all ACTIVE (it has no bans)."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    BANNED = "BANNED"


USER_STATUSES = tuple(UserStatus)

USER_LIST: Spec = listing_spec(
    Param("roles[]", "Only users with one of these roles (repeat it: roles[]=admin&roles[]=user)", many=True),
    Param("status", "ACTIVE, INACTIVE or BANNED (every Keyplane user is ACTIVE)"),
    Param("product", "Only users owning a license of this product (its id)"),
    Param("group", "Only this group's users (its id)"),
    Param("license", "Only the owner of this license (its id or key)"),
    Param("assigned", "true: only users owning a license; false: only users owning none"),
    Param("active", "Same as assigned (Keygen's older name)"),
)


@dataclass(frozen=True, slots=True)
class UserFilters:
    roles: frozenset[Role] = frozenset()
    status: UserStatus | None = None
    product: uuid.UUID | None = None
    group: uuid.UUID | None = None
    license: str | None = None
    assigned: bool | None = None


def user_filters(items: Items) -> UserFilters:
    roles = set()
    for value in every(items, "roles[]"):
        role = value.strip().lower().replace("_", "-")
        if role not in {r.value for r in USER_ROLES}:
            raise refuse("roles[]", f"must be one of: {', '.join(sorted(r.value for r in USER_ROLES))}")
        roles.add(Role(role))
    status, product, license = last(items, "status"), last(items, "product"), last(items, "license")
    group = last(items, "group")
    assigned_name = "assigned" if last(items, "assigned") is not None else "active"
    assigned = last(items, assigned_name)
    return UserFilters(
        roles=frozenset(roles),
        status=None if status is None else UserStatus(choice(status, USER_STATUSES, "status")),
        product=None if product is None else identifier(product, "product"),
        group=None if group is None else identifier(group, "group"),
        license=None if license is None else reference(license, "license"),
        assigned=None if assigned is None else boolean(assigned, assigned_name),
    )


parse_user_list = parser(USER_LIST, user_filters)
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
    group: ToOne


class UserResource(Output):
    id: str
    type: Literal["users"]
    attributes: UserAttributesOut
    relationships: UserRelationships
    links: SelfLink


class OwnerDocument(Document[UserResource | None]):
    """A license's or a machine's owner: ``data: null`` when nobody owns it."""


# -- rendering ------------------------------------------------------------------------------


def user_resource(user: User) -> dict[str, Any]:
    base = account_base(user.account_id)
    full_name = " ".join(part for part in (user.first_name, user.last_name) if part) or None
    return {
        "id": str(user.id),
        "type": "users",
        "attributes": {
            "fullName": full_name,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "email": user.email,
            "status": "ACTIVE",
            "role": user.role,
            "metadata": {},
            "created": iso(user.created_at),
            "updated": iso(user.updated_at),
        },
        "relationships": {
            "account": to_one(base, "accounts", user.account_id, ""),
            "group": to_one(base, "groups", user.group_id, f"users/{user.id}/group"),
        },
        "links": {"self": f"{base}/users/{user.id}"},
    }
