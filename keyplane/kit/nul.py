"""Text Keyplane cannot keep is refused wherever a client can send it: NUL characters, and
lone UTF-16 surrogates.

PostgreSQL cannot store U+0000 in text (SQLite can), so a name, an email or a lookup with one
would fail in the driver instead of answering. A JSON string may also spell half of a
surrogate pair (``"\\ud800"``): Python decodes it to a string no UTF-8 encoder accepts, so
storing it, hashing it or answering with it would fail. No identifier, key, email, name or
metadata Keyplane keeps can hold either, so every request is checked once, before its route
runs: a path or query parameter with a NUL is a 400, a JSON body string (or member name) with
either a 422 (a 400 ``invalid_request`` on ``/oauth/token``, as RFC 6749 answers), each
naming where it is, in the route's own error envelope, on either database. (Paths and query
strings are percent-decoded as UTF-8 with replacement, so no surrogate survives there.)
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import Request

from keyplane.errors import ENCODING_DETAIL, AppError, BadRequest, InvalidResource
from keyplane.errors import upper_snake as _upper_snake
from keyplane.kit.families import dialect, is_plain
from keyplane.kit.jsonapi import camel

NUL = "\x00"
MESSAGE = "must not contain NUL characters"
SURROGATE_MESSAGE = "must not contain unpaired UTF-16 surrogates"
_REFUSED = re.compile("[\x00\ud800-\udfff]")
"""What no kept text may hold (a surrogate pair in JSON decodes to one character above them)."""
ESCAPE = b"\\u"
"""How both appear in a JSON body: JSON allows a NUL in a string only escaped, and a lone
surrogate can only be written as an escape in a body that is valid UTF-8."""
ESCAPED = b"\\u0000"
"""A NUL in a JSON body. Lean handlers pass such a body on to the application, which refuses
it here; they need not look for surrogates: pydantic's JSON parser refuses a lone one, and
the body then goes to the application all the same."""
_ESCAPED = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def suspect(body: bytes) -> bool:
    """Whether a JSON body may hold text that is refused here (a cheap scan: almost no body
    has an escape at all, and those that do rarely escape a NUL or a surrogate)."""
    return ESCAPE in body and _ESCAPED.search(body) is not None


def _found(value: Any, path: tuple[str, ...]) -> tuple[tuple[str, ...], str] | None:
    """The path of the first string holding refused text (of the object, for a member name
    with some) and what is wrong with it, or None."""
    if isinstance(value, str):
        match = _REFUSED.search(value)
        if match is None:
            return None
        return path, MESSAGE if match.group() == NUL else SURROGATE_MESSAGE
    if isinstance(value, dict):
        for name, item in value.items():
            if _REFUSED.search(name):
                return _found(name, path)
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


def _undecodable(raw: bytes) -> bool:
    """Whether a percent-encoded path or query string spells bytes that are not UTF-8 (they
    would otherwise be read with replacement characters)."""
    if b"%" not in raw:
        return False
    try:
        unquote_to_bytes(raw).decode()
    except UnicodeDecodeError:
        return True
    return False


async def refuse_nul_characters(request: Request) -> None:
    """A route dependency of the whole application (it runs before any other). On the
    licensing API, a path or query string that is not UTF-8 is Keygen's 400
    ``ENCODING_INVALID`` as well."""
    plain = is_plain(request.url.path)
    scope = request.scope
    if not plain and (_undecodable(scope.get("raw_path") or b"") or _undecodable(scope["query_string"])):
        raise BadRequest(ENCODING_DETAIL, "ENCODING_INVALID")
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
    if not suspect(body):
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON: the route's own 400 follows
    found = _found(parsed, ())
    if found is not None:
        raise _refusal(request, *found)


def _refusal(request: Request, found: tuple[str, ...], message: str) -> AppError:
    kind = dialect(request.url.path)
    if "metadata" in found:
        # Member names below it are the client's own: point at the metadata, no deeper.
        found = found[: found.index("metadata") + 1]
    named = [part for part in found if not part.isdigit()]
    code = _code(named[-1] if named else "body")
    if kind == "oauth":
        return BadRequest(message, code)
    if kind == "plain":
        return InvalidResource(message, code, pointer=".".join(found))
    return InvalidResource(message, code, pointer="/" + "/".join(found))
