"""Who may see and do what on the licensing API (Keygen's permission rules).

Resolution order: a bad credential is 401 (the dependency); a record outside the bearer's
view is 404 (``view`` conditions in every query); an action the role or the credential's
scopes do not allow is 403 (``authorize``, after the record was found).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ColumnElement, false, select

from keyplane.auth.principal import Bearer
from keyplane.auth.scopes import Role, Scope
from keyplane.errors import Forbidden
from keyplane.models import License, Machine, Policy, PoolKey, Product


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
    # Checking out a file (Keygen's ``check_out?``): read-only staff may not.
    "license files": {Action.UPDATE: _SALES | {Role.SUPPORT_AGENT}},
    "machine files": {Action.UPDATE: _SALES | {Role.SUPPORT_AGENT}},
}
# A product token manages its own product's records, but not products themselves.
PRODUCT_MAY = frozenset(
    {("products", Action.READ)}
    | {(resource, action) for resource in ("policies", "keys", "licenses", "machines") for action in Action}
    | {("usage", Action.UPDATE)}
    | {("pool", Action.READ), ("pool", Action.DELETE)}
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
    }
)
# A license acting for itself reads what leads to it; what it may change is decided per record.
LICENSE_MAY = USER_MAY


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
        noun = "the pool" if resource == "pool" else resource
        deed = _DEEDS.get(resource, f"{action.value} {noun}")
        raise Forbidden(f"You do not have permission to {deed} (role {bearer.role.value})", "ACCESS_DENIED")


def view(
    bearer: Bearer, model: type[Product | Policy | PoolKey | License | Machine]
) -> list[ColumnElement[bool]]:
    """Conditions that keep a query to the records the bearer may see."""
    conditions: list[ColumnElement[bool]] = [model.account_id == bearer.account.id]
    if bearer.is_staff:
        return conditions
    if bearer.is_product:
        column = model.id if issubclass(model, Product) else model.product_id
        return [*conditions, column == bearer.product_id]
    if bearer.is_license:
        mine = select(License).where(License.id == bearer.license_id)
    else:
        mine = select(License).where(
            License.account_id == bearer.account.id, License.owner_id == bearer.user_id
        )
    if model is License:
        own = License.id == bearer.license_id if bearer.is_license else License.owner_id == bearer.user_id
        return [*conditions, own]
    if model is Machine:
        return [*conditions, Machine.license_id.in_(mine.with_only_columns(License.id))]
    if model is Policy:
        return [*conditions, Policy.id.in_(mine.with_only_columns(License.policy_id))]
    if model is Product:
        return [*conditions, Product.id.in_(mine.with_only_columns(License.product_id))]
    return [*conditions, false()]
