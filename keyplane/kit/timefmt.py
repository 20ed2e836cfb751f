"""Timestamps on the wire: ISO-8601, UTC, milliseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str)]
