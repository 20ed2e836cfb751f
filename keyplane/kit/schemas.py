"""The base of every request body: unknown fields are refused, so a typo never passes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictInput(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
