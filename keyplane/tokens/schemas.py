"""JSON:API request body of ``POST /tokens`` (optional: name and expiry)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, field_validator

from keyplane.kit.schemas import StrictInput


class TokenAttributes(StrictInput):
    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    expiry: datetime | None = None

    @field_validator("expiry")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # A naive time would be stored as if it were UTC: refuse it rather than guess.
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a timezone (for example 2027-01-01T00:00:00Z)")
        return value


class TokenData(StrictInput):
    type: Annotated[str, Field(pattern="^tokens?$")] = "tokens"
    attributes: TokenAttributes = TokenAttributes()


class TokenRequest(StrictInput):
    data: TokenData = TokenData()
