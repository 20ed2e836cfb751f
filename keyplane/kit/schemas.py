"""The base of every request body: unknown fields are refused, so a typo never passes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class StrictInput(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


ResourceId = Annotated[str, Field(max_length=255)]
"""``data.id`` of a PATCH body: JSON:API clients send the id of the resource they change.
Keygen takes it and ignores it (``param :id, type: :string, optional: true, noop: true``):
the path names the resource."""
