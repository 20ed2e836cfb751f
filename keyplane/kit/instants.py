"""Instants a client sends, or makes Keyplane compute, kept within what can be stored.

Python's ``datetime`` ends with the year 9999, so ``9999-12-31T23:59:59-14:00`` parses but
cannot be turned into UTC, and an expiry pushed past the end by a duration cannot be
computed at all: both raise ``OverflowError``. Every instant from a request goes through
``Instant`` (a 422 naming the field, like any other broken rule) and every shift of one
through ``later``, so neither can reach the database or a response.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
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


SECONDS_PER_YEAR = 31_556_952
"""ActiveSupport's year: 365.2425 days (a Gregorian year on average)."""
SECONDS_PER_MONTH = 2_629_746
"""ActiveSupport's month: a twelfth of its year."""
_FIXED_PARTS = ((604_800, 7), (86_400, 1))
"""Weeks and days, in seconds and in days."""


@dataclass(frozen=True, slots=True)
class Parts:
    """A number of seconds split as ``ActiveSupport::Duration.build`` splits it: the
    largest calendar units first, each taking what it can, the rest left in seconds."""

    years: int
    months: int
    days: int
    """Weeks and days, together (a week is always seven days)."""
    seconds: int
    """Hours, minutes and seconds, together (a fixed number of seconds)."""


def parts(seconds: int) -> Parts:
    """``seconds`` (positive) in Keygen's calendar units: 31556952 is one year, 2629746 one
    month, 2716146 one month and one day, 31536000 (365 days) is 11 months, 30 days, 16794
    seconds."""
    years, rest = divmod(seconds, SECONDS_PER_YEAR)
    months, rest = divmod(rest, SECONDS_PER_MONTH)
    days = 0
    for unit, in_days in _FIXED_PARTS:
        count, rest = divmod(rest, unit)
        days += count * in_days
    return Parts(years, months, days, rest)


def plus_duration(start: datetime, seconds: int) -> datetime:
    """``start`` plus a policy's ``duration`` as Keygen adds it (``Time.current +
    ActiveSupport::Duration.build(duration)``): whole years, then whole months, each landing
    on the same day of the month (clamped to the month's last), then days, then the seconds
    left. A ``duration`` of 31556952 from 2025-03-10T12:00Z is 2026-03-10T12:00Z. Raises
    ``OverflowError`` past the year 9999."""
    split = parts(seconds)
    when = start
    # One step per unit, as ActiveSupport advances: a year from Feb 29 lands on Feb 28, and
    # a month more then lands on Mar 28 (not Mar 29).
    for months in (12 * split.years, split.months):
        if months:
            try:
                when = add_months(when, months)
            except ValueError:
                raise OverflowError("date value out of range") from None
    return when + timedelta(days=split.days, seconds=split.seconds)


def after_duration(start: datetime, seconds: int, *, code: str, pointer: str) -> datetime:
    """``plus_duration``, or 422 ``code`` at ``pointer`` when that is past the year 9999."""
    try:
        return plus_duration(start, seconds)
    except OverflowError:
        raise InvalidResource(OUT_OF_RANGE, code, pointer=pointer) from None


def add_months(when: datetime, months: int) -> datetime:
    """``when`` moved by whole calendar months, the day clamped to the month's last (a
    ``ValueError`` past the year 9999 or before the year 1)."""
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))
