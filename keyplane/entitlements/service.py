"""Entitlements: CRUD with Keygen's rules (``app/models/entitlement.rb``) and permissions
(``app/policies/entitlement_policy.rb``).

Staff and product tokens see every entitlement of the account; an end customer, or a license
acting for itself, sees only the entitlements its licenses have (their own and their
policies'). Only admins and developers create, change and delete them. Deleting one detaches
it from every policy and license (the foreign keys cascade).
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.entitlements import repository
from keyplane.entitlements.schemas import EntitlementAttributes
from keyplane.errors import BadRequest, InvalidResource
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock, paging
from keyplane.licensing.access import Action, authorize, view
from keyplane.licensing.records import not_found
from keyplane.models import Entitlement, License
from keyplane.models.entitlement import code_key

_CODE = "/data/attributes/code"
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)
"""Keygen's ``UUID_RE``: a code may not look like an id, which it would be taken for."""
RESERVED = frozenset({"actions", "action"})
"""Keygen's ``EXCLUDED_ALIASES``: path words a code may not be."""


def visible(bearer: Bearer) -> list[ColumnElement[bool]]:
    """Conditions that keep a query to the entitlements the bearer may see."""
    conditions: list[ColumnElement[bool]] = [Entitlement.account_id == bearer.account.id]
    if bearer.is_staff or bearer.is_product:
        return conditions
    return [*conditions, repository.held_by(view(bearer, License))]


def _text(data: EntitlementAttributes, name: str) -> str:
    """A sent name or code, refused as Keygen's typed params refuse it: null or blank is a 400."""
    value: str | None = getattr(data, name)
    pointer = f"/data/attributes/{name}"
    if value is None:
        raise BadRequest("cannot be null", f"{name.upper()}_INVALID", pointer=pointer)
    if not value.strip():
        raise BadRequest("cannot be blank", f"{name.upper()}_MISSING", pointer=pointer)
    return value


def _check_sent(data: EntitlementAttributes, sent: set[str]) -> None:
    for name in ("name", "code"):
        if name in sent:
            _text(data, name)


def _apply(entitlement: Entitlement, data: EntitlementAttributes, sent: set[str]) -> None:
    if "name" in sent:
        entitlement.name = _text(data, "name")
    if "code" in sent:
        entitlement.code = _text(data, "code")
    if "metadata" in sent:
        entitlement.meta = data.metadata or {}


async def _check_code(session: AsyncSession, entitlement: Entitlement) -> None:
    """Keygen's validations of ``code``, in its order: not reserved, not taken (in any case),
    not a UUID."""
    code = entitlement.code
    if code in RESERVED:
        raise InvalidResource("is reserved", "CODE_NOT_ALLOWED", pointer=_CODE)
    if await repository.code_taken(session, entitlement):
        raise InvalidResource("has already been taken", "CODE_TAKEN", pointer=_CODE)
    if _UUID.fullmatch(code):
        raise InvalidResource("is invalid", "CODE_INVALID", pointer=_CODE)


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError:
        # Lost a race with a concurrent write of the same code.
        raise InvalidResource("has already been taken", "CODE_TAKEN", pointer=_CODE) from None


async def create(session: AsyncSession, bearer: Bearer, data: EntitlementAttributes) -> Entitlement:
    sent = {"name", "code", *data.model_fields_set}
    _check_sent(data, sent)
    authorize(bearer, "entitlements", Action.CREATE)
    entitlement = Entitlement(account_id=bearer.account.id, meta={})
    _apply(entitlement, data, sent)
    await _check_code(session, entitlement)
    entitlement.code_key = code_key(entitlement.code)
    session.add(entitlement)
    await _flush(session)
    await events.record(session, bearer, EventName.ENTITLEMENT_CREATED, entitlement.id)
    return entitlement


async def find(session: AsyncSession, bearer: Bearer, ref: str, *, lock: bool = False) -> Entitlement:
    """The entitlement with id or code ``ref`` the bearer may see, or 404."""
    found = await repository.by_ref(session, visible(bearer), ref, lock=lock)
    if found is None:
        raise not_found("entitlement")
    return found


async def get(session: AsyncSession, bearer: Bearer, ref: str) -> Entitlement:
    entitlement = await find(session, bearer, ref)
    authorize(bearer, "entitlements", Action.READ)
    return entitlement


async def listing(
    session: AsyncSession, bearer: Bearer, asked: paging.Listed[None]
) -> paging.Page[Entitlement]:
    authorize(bearer, "entitlements", Action.READ)
    return await repository.page(session, visible(bearer), asked.paging)


async def update(session: AsyncSession, bearer: Bearer, ref: str, data: EntitlementAttributes) -> Entitlement:
    sent = set(data.model_fields_set)
    _check_sent(data, sent)
    entitlement = await find(session, bearer, ref, lock=True)
    authorize(bearer, "entitlements", Action.UPDATE)
    _apply(entitlement, data, sent)
    await _check_code(session, entitlement)
    await events.record(session, bearer, EventName.ENTITLEMENT_UPDATED, entitlement.id, changed=entitlement)
    # Set after the event takes its diff: the folded code is bookkeeping, not an attribute.
    entitlement.code_key = code_key(entitlement.code)
    entitlement.updated_at = clock.now()
    await _flush(session)
    return entitlement


async def delete(session: AsyncSession, bearer: Bearer, ref: str) -> None:
    entitlement = await find(session, bearer, ref)
    authorize(bearer, "entitlements", Action.DELETE)
    await events.record(session, bearer, EventName.ENTITLEMENT_DELETED, entitlement.id)
    await session.delete(entitlement)
    await session.flush()
