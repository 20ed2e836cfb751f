"""JSON:API request body of ``POST /tokens`` (optional: name and expiry)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from keyplane.kit.instants import Instant
from keyplane.kit.paging import listing_spec, no_filters, parser
from keyplane.kit.query import Spec
from keyplane.kit.schemas import StrictInput


class TokenAttributes(StrictInput):
    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    expiry: Instant | None = None


class TokenData(StrictInput):
    type: Annotated[str, Field(pattern="^tokens?$")] = "tokens"
    attributes: TokenAttributes = TokenAttributes()


class TokenRequest(StrictInput):
    data: TokenData = TokenData()


TOKEN_LIST: Spec = listing_spec()
"""``/tokens`` takes paging alone, as Keygen's route does."""
parse_token_list = parser(TOKEN_LIST, no_filters)
