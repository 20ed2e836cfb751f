"""Timestamps on the wire: ``iso`` remembers the last second it formatted, and must give what
formatting each value afresh gives, whatever order values come in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from keyplane.kit.timefmt import iso


def afresh(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def test_a_timestamp_is_utc_to_the_millisecond() -> None:
    assert iso(datetime(2026, 12, 3, 6, 5, 4, 321_987, tzinfo=UTC)) == "2026-12-03T06:05:04.321Z"
    assert iso(datetime(2026, 12, 3, 6, 5, 4, tzinfo=UTC)) == "2026-12-03T06:05:04.000Z"
    plus_two = timezone(timedelta(hours=2))
    assert iso(datetime(2026, 12, 3, 8, 5, 4, 999_999, tzinfo=plus_two)) == "2026-12-03T06:05:04.999Z"


def test_values_either_side_of_a_second_each_get_their_own() -> None:
    edge = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    values = [
        edge - timedelta(microseconds=1),
        edge,
        edge + timedelta(microseconds=999_999),
        edge + timedelta(seconds=1),
        edge,
        edge - timedelta(microseconds=1),
    ]
    assert [iso(value) for value in values] == [
        "2026-12-31T23:59:58.999Z",
        "2026-12-31T23:59:59.000Z",
        "2026-12-31T23:59:59.999Z",
        "2027-01-01T00:00:00.000Z",
        "2026-12-31T23:59:59.000Z",
        "2026-12-31T23:59:58.999Z",
    ]


def test_the_whole_range_and_random_order_match_formatting_afresh() -> None:
    extremes = [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ]
    picker = random.Random(5)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    values = [start + timedelta(microseconds=picker.randrange(3_000_000)) for _ in range(2_000)]
    for value in extremes + values:
        assert iso(value) == afresh(value), value
