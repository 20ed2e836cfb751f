from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import DateTime, Dialect, MetaData, Numeric, String, TypeDecorator
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from keyplane.kit import clock
from keyplane.kit.ids import uuid7

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def stored_text(value: datetime) -> str:
    """The text SQLite's ``DATETIME`` stores for ``value``, made in one call: naive UTC with
    microseconds, character for character what SQLAlchemy makes (a test compares them).
    PostgreSQL reads the same text as a UTC ``timestamp`` (``keyplane.models.bulk``)."""
    return _utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; use keyplane.kit.clock")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on PostgreSQL and on SQLite alike.

    SQLite has no timezone type; storing naive UTC there keeps ordering and comparison
    correct, and every value read back is made aware again.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = _utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, ``stored_text``: SQLAlchemy's own processor fills a format from a
        dictionary of seven attributes, which cost a batch of events (each with its
        deliveries' three times) microseconds a value on the event loop."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            return None if value is None else stored_text(value)

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class Vocabulary(TypeDecorator[E]):
    """A column holding one word of a vocabulary (a ``StrEnum``), stored as its plain string.

    The rows hold exactly what a ``String`` column would; what the model reads back is the
    enum's member, so the rules compare members and ``mypy`` sees a missed case.
    """

    impl = String
    cache_ok = True

    def __init__(self, vocabulary: type[E], length: int) -> None:
        super().__init__(length)
        self.vocabulary = vocabulary

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.vocabulary(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.vocabulary(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Record(Base):
    """Columns every table has: a time-ordered UUID and its created/updated instants."""

    __abstract__ = True

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now)


class WholeNumber(TypeDecorator[int]):
    """A computed whole number read back as an ``int`` (a sum is a numeric on PostgreSQL)."""

    impl = Numeric
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class Total(FunctionElement[int]):
    """The sum of a column, 0 for no rows, that cannot overflow: memory and disk go up to
    2**63 - 1 each (Keygen's limits), and SQLite's ``sum`` stops with "integer overflow"
    past that (PostgreSQL's sum of a bigint is an exact numeric). SQLite's ``total`` is a
    float, exact below 2**53, and only compared with limits far below it."""

    type = WholeNumber()
    inherit_cache = True


@compiles(Total)
def _total_sum(element: Total, compiler: SQLCompiler, **kw: Any) -> str:
    return f"coalesce(sum({compiler.process(element.clauses, **kw)}), 0)"


@compiles(Total, "sqlite")
def _total_sqlite(element: Total, compiler: SQLCompiler, **kw: Any) -> str:
    return f"total({compiler.process(element.clauses, **kw)})"
