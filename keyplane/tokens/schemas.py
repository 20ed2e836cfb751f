"""Tokens in Keygen's JSON:API shapes: the body of ``POST /tokens`` (optional: name, expiry,
and the bearer to generate it for) and the token resource."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from keyplane import examples as example
from keyplane.auth.scopes import TokenKind
from keyplane.kit.documents import Document, InstantOut, Output, SelfLink, ToOne
from keyplane.kit.instants import Instant
from keyplane.kit.paging import listing_spec, no_filters, parser
from keyplane.kit.query import Spec
from keyplane.kit.schemas import StrictInput
from keyplane.licenses.schemas import LicenseResource
from keyplane.products.schemas import ProductResource
from keyplane.users.schemas import UserResource


class TokenAttributes(StrictInput):
    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    expiry: Instant | None = None
    """Absent: the bearer's default (two weeks for an end user, none for anyone else);
    ``null``: never expires."""


class BearerIdentifier(StrictInput):
    type: Annotated[str, Field(pattern="^(users?|products?|licenses?|environments?)$")]
    """Keygen's bearer types; only users are given tokens here (403 for the others: a
    product's tokens are made under ``/products/{id}/tokens``)."""
    id: uuid.UUID

    @property
    def is_user(self) -> bool:
        return self.type.startswith("user")


class BearerRelationship(StrictInput):
    data: BearerIdentifier


class TokenRelationshipsIn(StrictInput):
    bearer: BearerRelationship | None = None


class TokenData(StrictInput):
    type: Annotated[str, Field(pattern="^tokens?$")] = "tokens"
    attributes: TokenAttributes = TokenAttributes()
    relationships: TokenRelationshipsIn | None = None


class TokenRequest(StrictInput):
    model_config = ConfigDict(json_schema_extra=example.of(example.TOKEN_REQUEST))

    data: TokenData = TokenData()


TOKEN_LIST: Spec = listing_spec()
"""``/tokens`` takes paging alone, as Keygen's route does."""
parse_token_list = parser(TOKEN_LIST, no_filters)
# -- answers ---------------------------------------------------------------------------------


class TokenAttributesOut(Output):
    kind: TokenKind
    token: str | None = None
    """The secret: only in the answer that created the token, never again."""
    expiry: InstantOut | None
    name: str | None
    maxActivations: int | None = None
    """An activation token's: how many machines it may activate (null: no limit)."""
    activations: int | None = None
    """An activation token's: how many machines it has activated."""
    maxDeactivations: int | None = None
    """An activation token's: how many machines it may deactivate (null: no limit)."""
    deactivations: int | None = None
    """An activation token's: how many machines it has deactivated."""
    created: InstantOut
    updated: InstantOut


class TokenRelationships(Output):
    account: ToOne
    bearer: ToOne
    """The user the token acts for, the product of a product token, or the license of an
    activation token."""


class TokenResource(Output):
    id: str
    type: Literal["tokens"]
    attributes: TokenAttributesOut
    relationships: TokenRelationships
    links: SelfLink


MeResource = Annotated[UserResource | ProductResource | LicenseResource, Field(discriminator="type")]
"""Who ``GET /me`` says the credential belongs to: a user, a product token's product, or a
license authenticating with its key."""


class MeDocument(Document[MeResource]):
    pass


class TokenDocument(Document[TokenResource]):
    model_config = ConfigDict(json_schema_extra=example.of({"data": example.TOKEN_RESOURCE}))
