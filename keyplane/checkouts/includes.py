"""The records a check-out may embed in its file (``include``), by Keygen's names
(``LicenseCheckoutService::ALLOWED_INCLUDES``, ``MachineCheckoutService::ALLOWED_INCLUDES``).

Each name has a loader that gives the resources it adds to the file's ``included``. A
``license.*`` include of a machine file embeds the license too (JSON:API's full linkage, as
Keygen's renderer does). Keyplane has no environments, so no license or machine has one:
that include is accepted and adds nothing, as Keygen's does for a record without one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import BadRequest
from keyplane.groups.schemas import group_resource
from keyplane.licenses.schemas import license_resource
from keyplane.models import Group, License, Machine, Policy, Product, User
from keyplane.policies.schemas import policy_resource
from keyplane.products.schemas import product_resource
from keyplane.users.schemas import user_resource

INCLUDE_INVALID = "CHECKOUT_INCLUDE_INVALID"
Resource = dict[str, Any]


@dataclass(slots=True)
class Subject:
    """What a file is about: a license (and its policy), and for a machine file the machine."""

    license: License
    policy: Policy
    machine: Machine | None = None


Loader = Callable[[AsyncSession, Subject], Awaitable[list[Resource]]]


async def _user(session: AsyncSession, user_id: object) -> list[Resource]:
    user = None if user_id is None else await session.get(User, user_id)
    return [] if user is None else [user_resource(user)]


async def _license(session: AsyncSession, subject: Subject) -> list[Resource]:
    return [license_resource(subject.license, subject.policy)]


async def _product(session: AsyncSession, subject: Subject) -> list[Resource]:
    product = await session.get(Product, subject.license.product_id)
    assert product is not None  # the foreign key holds it
    return [product_resource(product)]


async def _policy(session: AsyncSession, subject: Subject) -> list[Resource]:
    return [policy_resource(subject.policy)]


async def _license_owner(session: AsyncSession, subject: Subject) -> list[Resource]:
    return await _user(session, subject.license.owner_id)


async def _license_users(session: AsyncSession, subject: Subject) -> list[Resource]:
    """A license's users: its owner (the one user a license has here)."""
    return await _user(session, subject.license.owner_id)


async def _machine_owner(session: AsyncSession, subject: Subject) -> list[Resource]:
    assert subject.machine is not None
    return await _user(session, subject.machine.owner_id)


async def _group(session: AsyncSession, group_id: object) -> list[Resource]:
    group = None if group_id is None else await session.get(Group, group_id)
    return [] if group is None else [group_resource(group)]


async def _license_group(session: AsyncSession, subject: Subject) -> list[Resource]:
    return await _group(session, subject.license.group_id)


async def _machine_group(session: AsyncSession, subject: Subject) -> list[Resource]:
    assert subject.machine is not None
    return await _group(session, subject.machine.group_id)


async def _none_here(session: AsyncSession, subject: Subject) -> list[Resource]:
    """Records Keyplane does not have (environments; see the module's docstring), or that
    are not built yet: none to embed."""
    return []


LICENSE_INCLUDES: dict[str, Loader] = {
    "entitlements": _none_here,
    "environment": _none_here,
    "product": _product,
    "policy": _policy,
    "group": _license_group,
    "owner": _license_owner,
    "users": _license_users,
}
MACHINE_INCLUDES: dict[str, Loader] = {
    **{
        f"license.{name}": LICENSE_INCLUDES[name]
        for name in ("entitlements", "product", "policy", "owner", "users")
    },
    "license": _license,
    "components": _none_here,
    "environment": _none_here,
    "group": _machine_group,
    "owner": _machine_owner,
}
ALIASES = {"user": "owner", "license.user": "license.owner"}
"""Keygen's older names (``FIXME(ezekg) For backwards compatibility``)."""


def checked(asked: Iterable[str], allowed: dict[str, Loader]) -> tuple[str, ...]:
    """``asked`` with Keygen's older names replaced, each once; 400 ``CHECKOUT_INCLUDE_INVALID``
    when any is not one ``allowed``."""
    names = tuple(dict.fromkeys(ALIASES.get(name, name) for name in asked))
    if any(name not in allowed for name in names):
        raise BadRequest("invalid includes", INCLUDE_INVALID, parameter="include")
    return names


async def included(
    session: AsyncSession, subject: Subject, names: tuple[str, ...], allowed: dict[str, Loader]
) -> list[Resource]:
    """The resources ``names`` embed, each once, the license first when a ``license.*``
    include brings it."""
    loaders = list(dict.fromkeys(allowed[name] for name in names))
    if any(name.startswith("license.") for name in names) and _license not in loaders:
        loaders.insert(0, _license)
    found: dict[tuple[str, str], Resource] = {}
    for loader in loaders:
        for item in await loader(session, subject):
            found.setdefault((item["type"], item["id"]), item)
    return list(found.values())
