"""How times are stored (``keyplane.models.base.UTCDateTime``): on SQLite, the text its own
``DATETIME`` type would store, character for character, so that rows written before and
after compare and sort alike; naive times refused; every time read back aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATETIME

from keyplane.models.base import UTCDateTime

EAST = timezone(timedelta(hours=5, minutes=30))
WEST = timezone(timedelta(hours=-8))

TIMES = [
    datetime(2026, 12, 7, 20, 21, 0, 123456, tzinfo=UTC),
    datetime(2026, 12, 7, 20, 21, 0, tzinfo=UTC),  # no microseconds: still written, as zeros
    datetime(2026, 12, 8, 1, 51, 0, 7, tzinfo=EAST),  # another zone: stored as its UTC time
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=WEST),  # the next year in UTC
    datetime(1, 1, 1, 0, 0, 0, tzinfo=UTC),  # years padded to four digits
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.mark.parametrize("when", TIMES, ids=str)
def test_sqlite_stores_the_text_its_own_datetime_type_stores(when: datetime) -> None:
    dialect = sqlite.dialect()
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = DATETIME().bind_processor(dialect)  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
    assert ours is not None
    assert theirs is not None
    assert ours(when) == theirs(when.astimezone(UTC).replace(tzinfo=None))


def test_sqlite_stores_nothing_for_none_and_refuses_a_naive_time() -> None:
    dialect = sqlite.dialect()
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    assert process(None) is None
    with pytest.raises(ValueError, match="naive datetimes are not stored"):
        process(datetime(2026, 12, 7, 20, 21))


def test_times_written_on_sqlite_are_read_back_aware_and_compare_in_order() -> None:
    table = Table("times", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(table), [{"id": i, "at": when} for i, when in enumerate(TIMES)])
        stored: dict[int, str] = dict(connection.execute(text("SELECT id, at FROM times")).all())
        read = dict(connection.execute(select(table.c.id, table.c.at)).all())
        later = connection.execute(select(table.c.id).where(table.c.at > TIMES[1]).order_by(table.c.at))
        after_second = [row[0] for row in later]
    assert stored[0] == "2026-12-07 20:21:00.123456"
    assert stored[1] == "2026-12-07 20:21:00.000000"
    assert stored[2] == "2026-12-07 20:21:00.000007"
    assert stored[3] == "2027-01-01 07:59:59.999999"
    assert all(read[i] == when and read[i].tzinfo is UTC for i, when in enumerate(TIMES))
    # Bound as parameters, times compare with the stored text in time order.
    assert after_second == [2, 0, 3, 5]
