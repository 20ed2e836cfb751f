"""Keygen's ``metadata[key]=value`` list filter as SQL, on SQLite and PostgreSQL alike.

A query string only carries text, so Keygen matches the value as sent or as the JSON value it
reads as: ``metadata[seats]=5`` finds ``{"seats": 5}`` and ``{"seats": "5"}``; ``true``,
``false`` and ``null`` find those JSON values and the strings. Keys are matched as stored
(Keyplane keeps metadata keys as the client sent them) and are letters, digits, ``_`` and
``-`` only (``keyplane.kit.query.metadata`` refuses others), so they go into a JSON path as is.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Numeric, and_, case, cast, func, or_

_INTEGER = re.compile(r"-?\d{1,18}")
_DECIMAL = re.compile(r"-?\d{1,18}\.\d{1,18}")


def _number(value: str) -> Decimal | None:
    if _INTEGER.fullmatch(value) or _DECIMAL.fullmatch(value):
        return Decimal(value)
    return None


def matches(column: Any, key: str, value: str, dialect: str) -> ColumnElement[bool]:
    """SQL for: the JSON object in ``column`` has ``key`` with ``value`` (as text or as the
    JSON value it reads as)."""
    number = _number(value)
    if dialect == "postgresql":
        member = column[key]
        kind = func.json_typeof(member)
        text = member.as_string()
        alternatives = [and_(kind == "string", text == value)]
        if value in ("true", "false"):
            alternatives.append(and_(kind == "boolean", text == value))
        if value == "null":
            alternatives.append(kind == "null")
        if number is not None:
            numeric = case((kind == "number", cast(text, Numeric)), else_=None)
            alternatives.append(numeric == number)
        return or_(*alternatives)
    path = f'$."{key}"'
    kind = func.json_type(column, path)
    got = func.json_extract(column, path)
    alternatives = [and_(kind == "text", got == value)]
    if value in ("true", "false", "null"):
        alternatives.append(kind == value)
    if number is not None:
        alternatives.append(and_(kind.in_(("integer", "real")), got == float(number)))
    return or_(*alternatives)
