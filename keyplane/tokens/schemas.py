"""JSON:API request body of ``POST /tokens`` (optional: name and expiry)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from keyplane.kit.instants import Instant
from keyplane.kit.schemas import StrictInput


class TokenAttributes(StrictInput):
    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    expiry: Instant | None = None


class TokenData(StrictInput):
    type: Annotated[str, Field(pattern="^tokens?$")] = "tokens"
    attributes: TokenAttributes = TokenAttributes()


class TokenRequest(StrictInput):
    data: TokenData = TokenData()
