"""The answers of the operations endpoints (plain JSON)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """Every check is ``ok`` or says what is wrong; ``failing`` names those that are not."""

    status: Literal["ready", "unavailable"]
    checks: dict[str, str]
    failing: list[str] | None = None
    """Only when a check failed (the answer is then a 503 with ``Retry-After``)."""
