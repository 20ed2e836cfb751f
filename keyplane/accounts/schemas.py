"""The account in Keygen's JSON:API shape, with the public key its answers are signed with."""

from __future__ import annotations

from typing import Literal

from keyplane.kit.documents import Document, InstantOut, Output, SelfLink


class AccountAttributes(Output):
    name: str
    slug: str
    created: InstantOut
    updated: InstantOut


class AccountRelationships(Output):
    pass


class AccountResource(Output):
    id: str
    type: Literal["accounts"]
    attributes: AccountAttributes
    relationships: AccountRelationships
    links: SelfLink


class PublicKeys(Output):
    ed25519: str
    """Base64 of the 64 hex characters of the account's Ed25519 public key (Keygen clients'
    ``public_key``)."""


class AccountMeta(Output):
    keys: PublicKeys


class AccountDocument(Document[AccountResource]):
    meta: AccountMeta
