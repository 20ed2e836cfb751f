"""JSON:API request bodies for pool keys (seeds 000 and 001)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from keyplane.kit.documents import InstantOut, Output, SelfLink, ToOne
from keyplane.kit.jsonapi import account_base, resource, to_one
from keyplane.kit.paging import listing_spec, no_filters, parser
from keyplane.kit.query import Items, Param, Spec, identifier, last
from keyplane.kit.schemas import ResourceId, StrictInput
from keyplane.kit.timefmt import iso
from keyplane.licensing.schemas import PolicyRelationship
from keyplane.models import PoolKey

if TYPE_CHECKING:
    from keyplane.keys.service import Added

# The minimum length is the service's check, after the reserved words (which are shorter):
# "actions" is KEY_NOT_ALLOWED, as in Keygen, not KEY_TOO_SHORT.
KeyString = Annotated[str, Field(max_length=1024)]
KeyType = Annotated[str, Field(pattern="^keys?$")]


class KeyAttributes(StrictInput):
    key: KeyString


class KeyRelationships(StrictInput):
    policy: PolicyRelationship


class KeyCreateData(StrictInput):
    type: KeyType
    attributes: KeyAttributes
    relationships: KeyRelationships


class KeyUpdateAttributes(StrictInput):
    key: KeyString | None = None


class KeyUpdateData(StrictInput):
    """No relationships: a key's policy never changes."""

    type: KeyType
    id: ResourceId | None = None
    attributes: KeyUpdateAttributes


class KeyCreate(StrictInput):
    data: KeyCreateData


IMPORT_BATCH = 1_000
"""The most keys one ``POST /policies/{id}/pool/import`` takes (a bigger list is sent in parts)."""


class ImportAttributes(StrictInput):
    key: str
    """Any string: a value that breaks the rule of a key (too long included) is refused alone,
    in the report, and the others are added."""


class ImportItem(StrictInput):
    type: KeyType
    attributes: ImportAttributes


class PoolImport(StrictInput):
    """``POST /policies/{id}/pool/import`` (a Keyplane extension): keys for the policy's pool."""

    data: Annotated[list[ImportItem], Field(min_length=1, max_length=IMPORT_BATCH)]


class KeyUpdate(StrictInput):
    data: KeyUpdateData


# -- the list's filters (Keygen's ``has_scope`` on keys) ------------------------------------

KEY_LIST: Spec = listing_spec(
    Param("product", "Only this product's keys (its id)"),
    Param("policy", "Only this policy's keys (its id)"),
)
POOL_LIST: Spec = listing_spec()
"""``/policies/{id}/pool`` takes paging alone, as Keygen's route does."""


@dataclass(frozen=True, slots=True)
class KeyFilters:
    product: uuid.UUID | None = None
    policy: uuid.UUID | None = None


def key_filters(items: Items) -> KeyFilters:
    product, policy = last(items, "product"), last(items, "policy")
    return KeyFilters(
        product=None if product is None else identifier(product, "product"),
        policy=None if policy is None else identifier(policy, "policy"),
    )


parse_key_list = parser(KEY_LIST, key_filters)
parse_pool_list = parser(POOL_LIST, no_filters)
# -- answers ---------------------------------------------------------------------------------


class KeyAttributesOut(Output):
    key: str
    created: InstantOut
    updated: InstantOut


class KeyRelationshipsOut(Output):
    account: ToOne
    product: ToOne
    policy: ToOne


class KeyResource(Output):
    """A key of a pooled policy's pool (seed 001's key object)."""

    id: str
    type: Literal["keys"]
    attributes: KeyAttributesOut
    relationships: KeyRelationshipsOut
    links: SelfLink


class ImportRefusal(Output):
    line: int
    """The item's position in the request's ``data``, from 1 (as a line the detail names)."""
    code: str
    """``KEY_TAKEN`` (another pool's key, or a repeat of an earlier item), ``KEY_CONFLICT`` (a
    license's key or id), ``KEY_TOO_SHORT``, ``KEY_TOO_LONG`` or ``KEY_NOT_ALLOWED``."""
    detail: str


class ImportReport(Output):
    added: int
    """How many keys joined the pool."""
    present: list[int]
    """The lines of the items whose key was already in this pool (left as it is)."""
    refused: list[ImportRefusal]


class ImportDocument(Output):
    """The report of an import: every item is added, present or refused."""

    meta: ImportReport


# -- rendering ------------------------------------------------------------------------------


def key_resource(record: PoolKey) -> dict[str, Any]:
    base = account_base(record.account_id)
    own = f"keys/{record.id}"
    return resource(
        base,
        "keys",
        record.id,
        {"key": record.key, "created": iso(record.created_at), "updated": iso(record.updated_at)},
        {
            "account": to_one(base, "accounts", record.account_id, ""),
            "product": to_one(base, "products", record.product_id, f"{own}/product"),
            "policy": to_one(base, "policies", record.policy_id, f"{own}/policy"),
        },
    )


def import_report(done: Added) -> dict[str, Any]:
    """An import's report (``done`` was given the items' positions, from 1, as its lines)."""
    refused = [{"line": item.line, "code": item.code, "detail": item.reason} for item in done.refused]
    return {"meta": {"added": len(done.added), "present": done.present, "refused": refused}}
