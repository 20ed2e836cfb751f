"""A policy's ``duration`` is added as Keygen adds it: ``Time.current +
ActiveSupport::Duration.build(duration)`` (keygen-sh/keygen-api app/models/license.rb,
``set_expiry_on_creation``, ``renew!``, ``set_expiry_on_first_*!``; Rails 8.1's
activesupport/lib/active_support/duration.rb, ``build`` and ``sum``).

The rule: the seconds are split into whole years of 31556952 s, then whole months of
2629746 s, then weeks and days, and what is left stays seconds. Years and months are added on
the calendar (the same day of the month, clamped to the month's last; years first, then
months, each in its own step), days as whole days, and the rest as seconds. So 31556952
lands on the same date and time a year later, while 31536000 (365 days in seconds) is 11
months, 30 days and 16794 seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyplane.errors import InvalidResource
from keyplane.kit.instants import Parts, after_duration, parts, plus_duration

YEAR = 31_556_952
MONTH = 2_629_746
DAY = 86_400


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "split"),
    [
        (DAY, Parts(0, 0, 1, 0)),
        (14 * DAY, Parts(0, 0, 14, 0)),
        (30 * DAY, Parts(0, 0, 30, 0)),
        (MONTH, Parts(0, 1, 0, 0)),
        (MONTH + DAY, Parts(0, 1, 1, 0)),
        (3 * MONTH, Parts(0, 3, 0, 0)),
        (YEAR, Parts(1, 0, 0, 0)),
        (365 * DAY, Parts(0, 11, 30, 16_794)),
        (2 * YEAR + DAY + 61, Parts(2, 0, 1, 61)),
        (2_147_483_647, Parts(68, 0, 18, 55_711)),
    ],
)
def test_seconds_split_as_activesupport_builds_them(seconds: int, split: Parts) -> None:
    assert parts(seconds) == split


@pytest.mark.parametrize(
    ("start", "seconds", "expiry"),
    [
        # A year of Keygen's seconds is the same date and time a year later.
        ("2025-03-10T12:00:00", YEAR, "2026-03-10T12:00:00"),
        ("2025-12-31T23:59:59.123456", YEAR, "2026-12-31T23:59:59.123456"),
        # A month lands on the same day of the next month, clamped to its last day.
        ("2025-03-10T12:00:00", MONTH, "2025-04-10T12:00:00"),
        ("2025-01-31T08:00:00", MONTH, "2025-02-28T08:00:00"),
        ("2024-01-31T08:00:00", MONTH, "2024-02-29T08:00:00"),
        ("2025-11-30T00:00:00", 3 * MONTH, "2026-02-28T00:00:00"),
        ("2025-01-31T00:00:00", MONTH + DAY, "2025-03-01T00:00:00"),
        # A leap day a year on is Feb 28; a month more then is Mar 28 (years, then months).
        ("2024-02-29T10:00:00", YEAR, "2025-02-28T10:00:00"),
        ("2024-02-29T10:00:00", YEAR + MONTH, "2025-03-28T10:00:00"),
        ("2024-02-29T10:00:00", 2 * YEAR, "2026-02-28T10:00:00"),
        # Days and weeks are whole days; what is not a whole day stays seconds.
        ("2025-03-10T12:00:00", DAY, "2025-03-11T12:00:00"),
        ("2025-03-10T12:00:00", 30 * DAY, "2025-04-09T12:00:00"),
        ("2025-03-10T12:00:00", 365 * DAY, "2026-03-12T16:39:54"),
    ],
)
def test_a_duration_lands_where_keygen_puts_it(start: str, seconds: int, expiry: str) -> None:
    assert plus_duration(_at(start), seconds) == _at(expiry)


def test_past_the_year_9999_is_a_422_naming_the_field() -> None:
    with pytest.raises(InvalidResource) as raised:
        after_duration(
            _at("9999-06-01T00:00:00"), YEAR, code="EXPIRY_INVALID", pointer="/data/attributes/expiry"
        )
    assert raised.value.code == "EXPIRY_INVALID"
    with pytest.raises(OverflowError):
        plus_duration(_at("9999-12-31T00:00:00"), 2 * DAY)
