"""Metadata as Keygen keeps it: keys in lowerCamelCase, at most two levels of nesting; and
Keygen's ``metadata[key]=value`` list filter as SQL, on SQLite and PostgreSQL alike.

Keygen rewrites every key of a body, metadata's nested ones included, with Rails'
``underscore.parameterize(separator: '_')`` (``config/initializers/jsonapi.rb``) and shows
them ``camelize(:lower)`` (``app/serializers/license_serializer.rb``); Keyplane stores what
Keygen shows: ``example_key_1``, ``ExampleKey2`` and ``example key 4`` are kept as
``exampleKey1``, ``exampleKey2``, ``exampleKey4``. Two keys that become one keep the later
value, as in Keygen.

A query string only carries text, so Keygen matches the value as sent or as the JSON value it
reads as: ``metadata[seats]=5`` finds ``{"seats": 5}`` and ``{"seats": "5"}``; ``true``,
``false`` and ``null`` find those JSON values and the strings. A filter's key is normalised as
a stored key is (``metadata[seat_count]`` finds ``seatCount``); it is letters, digits, ``_``
and ``-`` only (``keyplane.kit.query.metadata`` refuses others), so it goes into a JSON path
as is.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Numeric, and_, case, cast, func, or_

MAX_DEPTH = 2
"""Keygen's ``depth: { maximum: 2 }`` on every ``metadata`` parameter."""
_UNDERSCORE_NEEDED = re.compile(r"[A-Z-]")
_WORD_BREAK = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])|(?<=[a-z\d])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^a-z0-9\-_]+", re.IGNORECASE)
_REPEATED = re.compile(r"_{2,}")
_PART = re.compile(r"_([a-z\d]*)", re.IGNORECASE)


def _ascii(text: str) -> str:
    # ActiveSupport's transliterate: accents dropped, anything else not ASCII a "?".
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if c.isascii() else "?" for c in kept)


def camel_key(key: str) -> str:
    """A metadata key as Keygen keeps and shows it: Rails' ``underscore``, then
    ``parameterize(separator: '_')``, then ``camelize(:lower)``."""
    word = key
    if _UNDERSCORE_NEEDED.search(word) or "::" in word:
        word = _WORD_BREAK.sub("_", word.replace("::", "/")).replace("-", "_").lower()
    word = _NOT_WORD.sub("_", _ascii(word))
    word = _REPEATED.sub("_", word).strip("_").lower()
    if not word:
        return word
    return word[0].lower() + _PART.sub(lambda part: part.group(1).capitalize(), word[1:])


def camel_keys(value: Any) -> Any:
    """``value`` with every key of every object in it (in lists too) as ``camel_key``."""
    if isinstance(value, dict):
        return {camel_key(str(key)): camel_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    return value


def too_deep(value: Any, depth: int = 0) -> list[str] | None:
    """The path of the first object or list nested deeper than ``MAX_DEPTH`` in ``value`` (a
    metadata object), as Keygen's typed_params finds it; None when none is."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if not isinstance(item, dict | list):
            continue
        if depth >= MAX_DEPTH:
            return [str(key)]
        below = too_deep(item, depth + 1)
        if below is not None:
            return [str(key), *below]
    return None


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
    key = camel_key(key)
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
