"""NUL characters are refused wherever a client can send text.

PostgreSQL cannot store U+0000 in text (SQLite can), so a name, an email or a lookup with one
would fail in the driver instead of answering. No identifier, key, email or name Keyplane
keeps can hold one either, so every request is checked once, before its route runs: a path
or query parameter with one is a 400, a JSON body string (or member name) with one a 422,
each naming where it is, in the route's own error envelope, on either database.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from keyplane.errors import BadRequest, InvalidResource, is_plain
from keyplane.errors import upper_snake as _upper_snake
from keyplane.kit.jsonapi import camel

NUL = "\x00"
ESCAPED = b"\\u0000"
"""How a NUL appears in a JSON body: JSON allows it in a string only escaped."""
MESSAGE = "must not contain NUL characters"


def _found(value: Any, path: tuple[str, ...]) -> tuple[str, ...] | None:
    """The path of the first string holding a NUL (of the object, for a member name with one),
    or None."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for name, item in value.items():
            if NUL in name:
                return path
            found = _found(item, (*path, name))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _found(item, (*path, str(index)))
            if found is not None:
                return found
    return None


def _code(name: str) -> str:
    """``maxMachines`` or ``page[number]`` -> ``MAX_MACHINES_INVALID``, ``PAGE_INVALID``."""
    return f"{_upper_snake(name.split('[', 1)[0] or 'parameter')}_INVALID"


async def refuse_nul_characters(request: Request) -> None:
    """A route dependency of the whole application (it runs before any other)."""
    plain = is_plain(request.url.path)
    for name, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            raise BadRequest(MESSAGE, _code(name), parameter=camel(name) if plain else name)
    for name, value in request.query_params.multi_items():
        if NUL in name:
            raise BadRequest(f"Query parameter names {MESSAGE}", "PARAMETERS_INVALID")
        if NUL in value:
            raise BadRequest(MESSAGE, _code(name), parameter=name)
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    body = await request.body()
    if ESCAPED not in body:  # a cheap scan first: almost no body holds one
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON: the route's own 400 follows
    found = _found(parsed, ())
    if found is None:
        return
    if "metadata" in found:
        # Member names below it are the client's own: point at the metadata, no deeper.
        found = found[: found.index("metadata") + 1]
    named = [part for part in found if not part.isdigit()]
    code = _code(named[-1] if named else "body")
    raise InvalidResource(MESSAGE, code, pointer=".".join(found) if plain else "/" + "/".join(found))
