"""Timestamps on the wire: ISO-8601, UTC, milliseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer

_MILLISECONDS = tuple(f".{ms:03d}Z" for ms in range(1000))
"""The end of a timestamp, by its milliseconds."""

_last: tuple[int | None, str] = (None, "")
"""The last whole second formatted (as seconds since the epoch) and its text up to the
seconds: timestamps written together mostly fall in the same second. One tuple, replaced
whole, so a reader on another thread never pairs one second's number with another's text."""


def iso(value: datetime) -> str:
    global _last
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    micro = value.microsecond
    # ``timestamp`` is a float, off by far less than half a second anywhere in datetime's
    # range, so rounding gives the whole second exactly.
    second = round(value.timestamp() - micro / 1_000_000)
    last = _last
    if last[0] != second:
        # "YYYY-MM-DDTHH:MM:SS+00:00" less the offset. Formatting is most of what this
        # function costs, and every licensing answer has a few timestamps.
        last = _last = (second, value.isoformat(timespec="seconds")[:-6])
    return last[1] + _MILLISECONDS[micro // 1000]


def iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str)]
