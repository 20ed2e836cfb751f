"""The account's users (``/v1/users``), built once for both clients."""

from __future__ import annotations

from typing import Any

from keyplane_client import _wire as wire
from keyplane_client._calls import Call, Page, body, nothing
from keyplane_client.licensing import User, UserRole

_ONE = wire.one(wire.Document[wire.UserResource], User.of)
_LIST = wire.ListDocument[wire.UserResource]


def first_page(*, role: UserRole | None, page_size: int) -> Call[Page[User]]:
    return wire.listing("/v1/users", {"roles[]": role}, page_size, _LIST, User.of)


def get(id_or_email: str) -> Call[User]:
    return Call("GET", wire.quoted("users", id_or_email), _ONE, safe=True)


def create(
    *,
    email: str,
    password: str | None,
    first_name: str | None,
    last_name: str | None,
    role: UserRole | None,
) -> Call[User]:
    given = {"password": password, "first_name": first_name, "last_name": last_name, "role": role}
    attributes = wire.UserCreateAttributes(
        email=email, **{name: value for name, value in given.items() if value is not None}
    )
    request = wire.UserCreateBody(data=wire.UserCreateData(type="users", attributes=attributes))
    return Call("POST", "/v1/users", _ONE, body=body(request))


def update(user_id: str, changes: dict[str, Any]) -> Call[User]:
    """``changes``: the ``update`` arguments given (``UNSET`` ones left out by the caller)."""
    data = wire.UserUpdateData(type="users", attributes=wire.UserUpdateAttributes(**changes))
    return Call("PATCH", wire.quoted("users", user_id), _ONE, body=body(wire.UserUpdateBody(data=data)))


def delete(user_id: str) -> Call[None]:
    return Call("DELETE", wire.quoted("users", user_id), nothing, safe=True)
