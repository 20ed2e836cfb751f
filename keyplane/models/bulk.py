"""Many rows of one table inserted by one statement whose one parameter is a JSON array of
the rows: ``INSERT ... SELECT`` from SQLite's ``json_each`` or PostgreSQL's
``json_array_elements``. The event batch writes a second's validations and their webhook
deliveries this way.

An ``executemany`` of the same rows costs the event loop's thread SQLAlchemy's processing of
every value, and the database's thread one step per row, each of which lets go of Python's
lock and must take it back from a busy event loop. Here a row's values are turned into JSON
by one converter per column, the array is encoded by ``json.dumps`` (in C), and the database
parses and inserts every row in one step, without Python's lock.

The stored values are those of an ordinary insert: a UUID's 32 hex digits on SQLite (a
``uuid`` on PostgreSQL), a time's ``stored_text`` (a ``timestamptz`` on PostgreSQL), a JSON
column's document, and strings and integers as they are (a test compares them column by
column).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    TIMESTAMP,
    ColumnElement,
    Integer,
    String,
    Table,
    TypeDecorator,
    Uuid,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeEngine

from keyplane.models.base import UTCDateTime, stored_text

Convert = Callable[[Any], Any]


def json_uuid(value: uuid.UUID | None) -> str | None:
    """A UUID column's value in its JSON form: its 32 hex digits."""
    return None if value is None else value.hex


def json_time(value: datetime | None) -> str | None:
    """A time column's value in its JSON form: the text SQLite stores (``stored_text``)."""
    return None if value is None else stored_text(value)


def _kind(type_: TypeEngine[Any]) -> type[TypeEngine[Any]]:
    """The column type ``JsonRows`` knows ``type_`` as (a decorator's own, or its base)."""
    if isinstance(type_, UTCDateTime):
        return UTCDateTime
    if isinstance(type_, TypeDecorator):
        return _kind(type_.impl_instance)
    for kind in (Uuid, JSON, Integer, String):
        if isinstance(type_, kind):
            return kind
    raise TypeError(f"JsonRows does not insert a column of type {type_!r}")


_CONVERT: dict[type[TypeEngine[Any]], Convert | None] = {
    Uuid: json_uuid,
    UTCDateTime: json_time,
    JSON: None,
    Integer: None,
    String: None,
}
"""A column value's JSON form, by the column's kind (None: the value itself). A string
enumeration is a ``str``, and ``json.dumps`` writes its value."""


class JsonRows:
    """The insert of rows into ``columns`` of ``table``: each row a list of its values in
    their JSON form, in the order of ``columns`` (``row`` makes one from a mapping)."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._kinds = [_kind(table.c[name].type) for name in self.columns]
        self._convert = [(name, _CONVERT[kind]) for name, kind in zip(self.columns, self._kinds, strict=True)]
        self._statements: dict[str, Insert] = {}

    def row(self, values: Mapping[str, Any]) -> list[Any]:
        """``values`` (keyed by column) in their JSON form, in the order of ``columns``."""
        return [values[name] if to is None else to(values[name]) for name, to in self._convert]

    @staticmethod
    def encoded(rows: list[list[Any]]) -> dict[str, str]:
        """The statement's one parameter: ``rows`` (each in its JSON form, as ``row`` makes
        it) as one JSON array."""
        return {"rows": json.dumps(rows, separators=(",", ":"), ensure_ascii=False)}

    def statement(self, dialect: str) -> Insert:
        """The insert for the database ``dialect`` (``sqlite`` or ``postgresql``)."""
        found = self._statements.get(dialect)
        if found is None:
            found = self._statements[dialect] = self._build(dialect)
        return found

    def _build(self, dialect: str) -> Insert:
        rows = bindparam("rows", type_=String())
        if dialect == "sqlite":
            source = func.json_each(rows).table_valued("value")
        elif dialect == "postgresql":
            source = func.json_array_elements(cast(rows, JSON())).table_valued("value")
        else:
            raise ValueError(f"JsonRows does not know the dialect {dialect!r}")
        element = source.c.value
        values: list[ColumnElement[Any]] = []
        for index, (name, kind) in enumerate(zip(self.columns, self._kinds, strict=True)):
            at: ColumnElement[Any] = literal_column(str(index))
            if dialect == "sqlite":
                # A string, number or null is its SQL value; a document is its JSON text.
                values.append(func.json_extract(element, literal_column(f"'$[{index}]'")))
            elif kind is JSON:
                values.append(element.op("->")(at))
            elif kind is UTCDateTime:
                values.append(func.timezone("UTC", cast(element.op("->>")(at), TIMESTAMP(timezone=False))))
            elif kind is String:
                values.append(element.op("->>")(at))
            else:
                values.append(cast(element.op("->>")(at), self.table.c[name].type))
        return insert(self.table).from_select(list(self.columns), select(*values).select_from(source))
