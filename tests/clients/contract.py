"""Whether the Python client's models fit the server's contract (its ``/openapi.json``).

An answer the client reads fits when every field the client reads is in the server's schema,
with every type the server may send accepted by the client, and always sent when the client
requires it. A request the client sends fits when every field it may send is one the server
takes, with a type the server accepts, and every field the server requires is one the client
can send. Each misfit is one line naming the operation and the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]


def _resolve(schema: Schema, defs: Schema) -> Schema:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _alternatives(schema: Schema, defs: Schema) -> list[Schema]:
    schema = _resolve(schema, defs)
    nested = schema.get("anyOf") or schema.get("oneOf")
    if nested is None:
        return [schema]
    return [alternative for part in nested for alternative in _alternatives(part, defs)]


def _kind(schema: Schema) -> str:
    if "type" in schema:
        return str(schema["type"])
    if "enum" in schema:
        return "string" if all(isinstance(value, str) for value in schema["enum"]) else "any"
    return "any"


def _of(alternatives: list[Schema], kind: str) -> Schema | None:
    return next((schema for schema in alternatives if _kind(schema) == kind), None)


def _takes(taker: set[str], kind: str) -> bool:
    return "any" in taker or kind in taker or (kind == "integer" and "number" in taker)


def misfits(
    sender: Schema, sender_defs: Schema, taker: Schema, taker_defs: Schema, where: str, *, reading: bool
) -> Iterator[str]:
    """What ``sender`` may send that ``taker`` does not take, at ``where`` and below.
    ``reading``: the taker is the client, which reads only its own fields and ignores the
    rest; otherwise the taker is the server, which refuses a field it does not know."""
    sent, taken = _alternatives(sender, sender_defs), _alternatives(taker, taker_defs)
    taken_kinds = {_kind(schema) for schema in taken}
    for schema in sent:
        kind = _kind(schema)
        if not _takes(taken_kinds, kind):
            yield f"{where}: {kind} sent, {sorted(taken_kinds)} taken"
            continue
        match = _of(taken, kind) or _of(taken, "number") or {}
        if "enum" in schema and "enum" in match:
            extra = set(schema["enum"]) - set(match["enum"])
            if extra:
                yield f"{where}: values {sorted(extra)} are not taken"
        if kind == "array" and "items" in schema and "items" in match:
            yield from misfits(
                schema["items"], sender_defs, match["items"], taker_defs, f"{where}[]", reading=reading
            )
        if kind == "object":
            yield from _object_misfits(schema, sender_defs, match, taker_defs, where, reading=reading)


def _object_misfits(
    sender: Schema, sender_defs: Schema, taker: Schema, taker_defs: Schema, where: str, *, reading: bool
) -> Iterator[str]:
    sent, taken = sender.get("properties", {}), taker.get("properties", {})
    for name in sorted(set(taker.get("required", ())) - set(sender.get("required", ()))):
        yield f"{where}.{name}: required by the {'client' if reading else 'server'}, not always sent"
    for name in sorted(taken if reading else sent):
        if name not in sent:
            yield f"{where}.{name}: read by the client, absent from the server's answer"
        elif name not in taken:
            yield f"{where}.{name}: sent by the client, not a field the server takes"
        else:
            yield from misfits(
                sent[name], sender_defs, taken[name], taker_defs, f"{where}.{name}", reading=reading
            )


def _model_schema(model: type[BaseModel]) -> tuple[Schema, Schema]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    return schema, schema.get("$defs", {})


def answer_misfits(openapi: Schema, server: Schema, client: type[BaseModel], where: str) -> list[str]:
    """An answer: the server sends, the client reads. The client's fields with a default are
    optional to it; any other the server must always send."""
    schema, client_defs = _model_schema(client)
    defs = openapi["components"]["schemas"]
    return list(misfits(server, defs, schema, client_defs, where, reading=True))


def request_misfits(openapi: Schema, server: Schema, client: type[BaseModel], where: str) -> list[str]:
    """A request: the client sends, the server takes."""
    schema, client_defs = _model_schema(client)
    defs = openapi["components"]["schemas"]
    return list(misfits(schema, client_defs, server, defs, where, reading=False))
