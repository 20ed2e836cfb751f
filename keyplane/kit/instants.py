"""Instants a client sends, or makes Keyplane compute, kept within what can be stored.

Python's ``datetime`` ends with the year 9999, so ``9999-12-31T23:59:59-14:00`` parses but
cannot be turned into UTC, and an expiry pushed past the end by a duration cannot be
computed at all: both raise ``OverflowError``. Every instant from a request goes through
``Instant`` (a 422 naming the field, like any other broken rule) and every shift of one
through ``later``, so neither can reach the database or a response.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

from keyplane.errors import InvalidResource

OUT_OF_RANGE = "must be before the year 10000"


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(OUT_OF_RANGE) from None


Instant = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""A timestamp with its offset, given in UTC; one past the year 9999 (in UTC) is refused."""


def later(start: datetime, seconds: int, *, code: str, pointer: str) -> datetime:
    """``start`` plus ``seconds``, or 422 ``code`` at ``pointer`` when that is past the year 9999."""
    try:
        return start + timedelta(seconds=seconds)
    except OverflowError:
        raise InvalidResource(OUT_OF_RANGE, code, pointer=pointer) from None


def add_months(when: datetime, months: int) -> datetime:
    """``when`` moved by whole calendar months, the day clamped to the month's last (a
    ``ValueError`` past the year 9999 or before the year 1)."""
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))
