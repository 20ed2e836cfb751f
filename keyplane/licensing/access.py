"""Who may see and do what on the licensing API (Keygen's permission rules).

Resolution order: a bad credential is 401 (the dependency); a record outside the bearer's
view is 404 (``view`` conditions in every query); an action the role or the credential's
scopes do not allow is 403 (``authorize``, after the record was found).
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import ColumnElement, false, or_, select

from keyplane.auth.principal import Bearer
from keyplane.auth.scopes import Role, Scope
from keyplane.errors import Forbidden
from keyplane.models import (
    License,
    LicenseUser,
    Machine,
    MachineComponent,
    MachineProcess,
    Policy,
    PoolKey,
    Product,
)


class Action(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


_SCOPE = {
    Action.READ: Scope.READ,
    Action.CREATE: Scope.CREATE,
    Action.UPDATE: Scope.UPDATE,
    Action.DELETE: Scope.DELETE,
}
_ADMINS = frozenset({Role.ADMIN, Role.DEVELOPER})
_SALES = _ADMINS | {Role.SALES_AGENT}

# Staff roles that may write each resource; every staff role may read everything.
STAFF_WRITERS: dict[str, dict[Action, frozenset[Role]]] = {
    "products": dict.fromkeys((Action.CREATE, Action.UPDATE, Action.DELETE), _ADMINS),
    "policies": dict.fromkeys((Action.CREATE, Action.UPDATE, Action.DELETE), _ADMINS),
    "keys": dict.fromkeys((Action.CREATE, Action.UPDATE, Action.DELETE), _ADMINS),
    "pool": {Action.DELETE: _ADMINS},
    "licenses": {
        Action.CREATE: _SALES,
        Action.UPDATE: _SALES | {Role.SUPPORT_AGENT},
        Action.DELETE: _SALES,
    },
    "machines": dict.fromkeys((Action.CREATE, Action.UPDATE, Action.DELETE), _SALES),
    "usage": dict.fromkeys((Action.UPDATE,), _SALES),
    "entitlements": dict.fromkeys((Action.CREATE, Action.UPDATE, Action.DELETE), _ADMINS),
    # Attaching and detaching entitlements (an UPDATE of the policy or license): Keygen's
    # Policies:: and Licenses::EntitlementPolicy let sales agents, not support agents.
    "policy-entitlements": {Action.UPDATE: _SALES},
    "license-entitlements": {Action.UPDATE: _SALES},
    # Checking out a file (Keygen's ``check_out?``): read-only staff may not.
    "license files": {Action.UPDATE: _SALES | {Role.SUPPORT_AGENT}},
    "machine files": {Action.UPDATE: _SALES | {Role.SUPPORT_AGENT}},
    "processes": {
        Action.CREATE: _SALES,
        Action.UPDATE: _SALES | {Role.SUPPORT_AGENT},
        Action.DELETE: _SALES,
    },
    "components": {
        Action.CREATE: _SALES,
        Action.UPDATE: _SALES | {Role.SUPPORT_AGENT},
        Action.DELETE: _SALES,
    },
    # Attaching and detaching a license's users changes the license (Keygen's
    # ``Licenses::UserPolicy`` lets every staff role; a credential still needs UPDATE).
    "license-users": {Action.UPDATE: _SALES | {Role.SUPPORT_AGENT, Role.READ_ONLY}},
    # A process's heartbeat (Keygen's ``process.heartbeat.ping``): admins and developers only.
    "process-heartbeats": {Action.UPDATE: _ADMINS},
}
# A product token manages its own product's records, but not products themselves.
PRODUCT_MAY = frozenset(
    {("products", Action.READ)}
    | {
        (resource, action)
        for resource in ("policies", "keys", "licenses", "machines", "processes", "components")
        for action in Action
    }
    | {("usage", Action.UPDATE), ("process-heartbeats", Action.UPDATE)}
    | {("license-users", action) for action in Action}
    | {("pool", Action.READ), ("pool", Action.DELETE)}
    | {("entitlements", Action.READ)}
    | {
        (attached, action)
        for attached in ("policy-entitlements", "license-entitlements")
        for action in (Action.READ, Action.UPDATE)
    }
    | {("license files", Action.UPDATE), ("machine files", Action.UPDATE)}
)
_DEEDS = {"license files": "check out this license", "machine files": "check out this machine"}
"""What a refusal says the bearer may not do, where "<action> <resource>" would not read."""
# End customers read what their licenses lead to; writes they may make are decided per record.
USER_MAY = frozenset(
    {
        ("products", Action.READ),
        ("policies", Action.READ),
        ("licenses", Action.READ),
        ("machines", Action.READ),
        # The entitlements of their licenses (the records in view say which).
        ("entitlements", Action.READ),
        ("license-entitlements", Action.READ),
        ("processes", Action.READ),
        ("components", Action.READ),
        ("license-users", Action.READ),
    }
)
# A license acting for itself reads what leads to it; what it may change is decided per record.
LICENSE_MAY = USER_MAY - {("license-users", Action.READ)}
"""Keygen's default license permissions leave out ``user.read``: a license may not list its users."""


_NOUNS = {
    "pool": "the pool",
    "policy-entitlements": "entitlements of policies",
    "license-entitlements": "entitlements of licenses",
}


def authorize(bearer: Bearer, resource: str, action: Action, *, own: bool = False) -> None:
    """403 unless the bearer may take ``action`` on ``resource``.

    ``own`` says an end customer or a license acts on its own record where the rules let
    it (a license for themselves under an unprotected policy, its own machines).
    """
    if not bearer.has(_SCOPE[action]):
        raise Forbidden(
            f"This credential lacks the {_SCOPE[action].value} scope (or its owner's role does)",
            "INSUFFICIENT_SCOPE",
        )
    if bearer.is_staff:
        allowed = action is Action.READ or bearer.role in STAFF_WRITERS[resource].get(action, frozenset())
    elif bearer.is_product:
        allowed = (resource, action) in PRODUCT_MAY
    elif bearer.is_license:
        allowed = own or (resource, action) in LICENSE_MAY
    else:
        allowed = own or (resource, action) in USER_MAY
    if not allowed:
        noun = _NOUNS.get(resource, resource)
        deed = _DEEDS.get(resource, f"{action.value} {noun}")
        raise Forbidden(f"You do not have permission to {deed} (role {bearer.role.value})", "ACCESS_DENIED")


def owns_machine(
    bearer: Bearer, machine_owner_id: uuid.UUID | None, license_owner_id: uuid.UUID | None
) -> bool:
    """Whether an end customer owns a machine they see, or its license (Keygen's
    ``record.owner == bearer || record.license.owner == bearer``): a licensee who owns
    neither may read the machine and what is on it, not change it. True for other bearers,
    whose rights do not hang on ownership."""
    return bearer.role is not Role.USER or bearer.user_id in (machine_owner_id, license_owner_id)


def owns_machine_record(bearer: Bearer, protected: bool, owned: bool) -> bool:
    """Whether a license or an end customer acts on its own process or component (Keygen's
    ``MachineProcessPolicy``/``MachineComponentPolicy``): a license always, an end customer
    who ``owned`` the machine or its license (``owns_machine``) unless the license is
    ``protected``. Only records in the bearer's view get here."""
    return bearer.is_license or (bearer.role is Role.USER and owned and not protected)


def view(
    bearer: Bearer,
    model: type[Product | Policy | PoolKey | License | Machine | MachineProcess | MachineComponent],
) -> list[ColumnElement[bool]]:
    """Conditions that keep a query to the records the bearer may see."""
    conditions: list[ColumnElement[bool]] = [model.account_id == bearer.account.id]
    if bearer.is_staff:
        return conditions
    if bearer.is_product:
        column = model.id if issubclass(model, Product) else model.product_id
        return [*conditions, column == bearer.product_id]
    if bearer.is_license:
        yours = License.id == bearer.license_id
    else:
        # An end customer's licenses: those they own and those they are a licensee of
        # (Keygen's ``user.licenses``, whose machines, processes, components, policies and
        # products they see); what they may change stays with ownership.
        attached = select(LicenseUser.license_id).where(LicenseUser.user_id == bearer.user_id)
        yours = or_(License.owner_id == bearer.user_id, License.id.in_(attached))
    if model is License:
        return [*conditions, yours]
    mine = select(License).where(License.account_id == bearer.account.id, yours)
    if issubclass(model, (Machine, MachineProcess, MachineComponent)):
        return [*conditions, model.license_id.in_(mine.with_only_columns(License.id))]
    if model is Policy:
        return [*conditions, Policy.id.in_(mine.with_only_columns(License.policy_id))]
    if model is Product:
        return [*conditions, Product.id.in_(mine.with_only_columns(License.product_id))]
    return [*conditions, false()]
