"""Timestamps on the wire: ISO-8601, UTC, milliseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def iso(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # "YYYY-MM-DDTHH:MM:SS.mmm+00:00" less the offset: half the cost of strftime, and every
    # licensing answer has a few of these.
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str)]
