"""JSON:API request bodies for pool keys (seeds 000 and 001)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from keyplane.kit.documents import InstantOut, Output, SelfLink, ToOne
from keyplane.kit.schemas import StrictInput
from keyplane.licensing.schemas import PolicyRelationship

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
    attributes: KeyUpdateAttributes


class KeyCreate(StrictInput):
    data: KeyCreateData


class KeyUpdate(StrictInput):
    data: KeyUpdateData


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
