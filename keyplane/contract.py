"""The published contract, ``/openapi.json``: FastAPI's description completed with what only
Keyplane knows.

FastAPI describes each route's parameters, request body and success answer (the routes
declare its model). What Keyplane adds to every route is derived here from the route itself
(the dependencies it takes, its path, its method), so a new route is described as completely
as the others without a word more on its decorator:

- its security schemes, from the credential dependency it takes;
- every error status it can answer, in the envelope of its API (``keyplane.kit.families.dialect``):
  FastAPI's own 422 (``{"detail": [...]}``), which Keyplane never sends, is taken out;
- the licensing API's media types (``application/vnd.api+json`` beside ``application/json``);
- Keygen's paging parameters on every list of the licensing API (a route whose answer is a
  ``ListDocument``), where the route does not declare them itself;
- the ``Keyplane-Version`` header of the API-key routes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, get_args

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from keyplane.api_keys.endpoints import negotiated_version
from keyplane.auth.scopes import Scope
from keyplane.credentials import versions
from keyplane.envelopes import ENVELOPES
from keyplane.kit import paging
from keyplane.kit.documents import ListDocument
from keyplane.kit.families import dialect
from keyplane.kit.jsonapi import JSON, JSONAPI
from keyplane.kit.nul import refuse_nul_characters
from keyplane.web.dependencies import (
    DbSession,
    authenticate,
    authenticate_bearer,
    current_account,
    optional_bearer,
)

REF = "#/components/schemas/"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <credential>`: an API key (`kp_...`), a token from "
        "`POST /tokens` (`kpt_...`) or an access token from `POST /oauth/token` (`kpa_...`).",
    },
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "`X-API-Key: <credential>`: the same credentials as `bearerAuth`.",
    },
    "oauth2": {
        "type": "oauth2",
        "description": "Client credentials: an API key's id (`client_id`) and the key "
        "(`client_secret`) for a short-lived access token with the key's scopes or fewer.",
        "flows": {
            "clientCredentials": {
                "tokenUrl": "/v1/oauth/token",
                "scopes": {scope.value: f"the {scope.value} scope" for scope in Scope},
            }
        },
    },
    "License": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Authorization: License <license key>` (enter `License <key>`): a license "
        "acting for itself on the licensing API, where its policy's `authenticationStrategy` "
        "is `LICENSE` or `MIXED`.",
    },
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "HTTP Basic: `email:password` on `POST /tokens`; `client_id:client_secret` "
        "on `POST /oauth/token`.",
    },
}
Requirement = dict[str, list[str]]
USER_CREDENTIALS: tuple[Requirement, ...] = ({"bearerAuth": []}, {"apiKeyHeader": []}, {"oauth2": []})
ANY_CREDENTIAL: tuple[Requirement, ...] = (*USER_CREDENTIALS, {"License": []})

ERRORS: dict[int, str] = {
    400: "Malformed input: invalid JSON, an unknown field or query parameter, a wrong type, a "
    "parameter out of range, a NUL character (`JSON_INVALID`, `PARAMETERS_INVALID`, "
    "`<NAME>_INVALID`, ...); on the licensing API also an `Accept` it cannot answer "
    "(`MIME_TYPE_INVALID`).",
    401: "No credential, or one that is malformed, unknown (another account's included), deleted, "
    "inactive or expired (`TOKEN_MISSING`, `TOKEN_FORMAT_INVALID`, `TOKEN_INVALID`, "
    "`TOKEN_REVOKED`, `TOKEN_INACTIVE`, `TOKEN_EXPIRED`, `LICENSE_INVALID`, ...).",
    403: "The credential may not do this: `IP_NOT_ALLOWED`, `INSUFFICIENT_SCOPE`, `ACCESS_DENIED` "
    "(the role's rules), `TOKEN_NOT_ALLOWED`, `LICENSE_NOT_ALLOWED`, ...",
    404: "The account, or a record the caller may see, does not exist (`NOT_FOUND`).",
    413: "The body is larger than `KEYPLANE_MAX_BODY_BYTES` (`BODY_TOO_LARGE`).",
    422: "Well-formed input that breaks a rule (`<FIELD>_TOO_LONG`, `KEY_TAKEN`, "
    "`POLICY_POOL_EMPTY`, `MACHINE_LIMIT_EXCEEDED`, ...).",
    429: "The credential's rate limit (or the sign-in limit) is spent for now (`RATE_LIMITED`).",
    503: "The database (or, with `KEYPLANE_RATE_LIMIT_FAIL=closed`, Redis) could not serve the "
    "request in time (`SERVICE_UNAVAILABLE`); nothing changed, retry after `Retry-After`.",
}
OAUTH_ERRORS: dict[int, str] = {
    400: "`invalid_request`, `invalid_scope` or `unsupported_grant_type` (RFC 6749 §5.2).",
    401: "`invalid_client`: the client credentials are missing, invalid, inactive or expired.",
    413: "`invalid_request`: the body is larger than `KEYPLANE_MAX_BODY_BYTES`.",
    429: "`rate_limited`: the key's rate limit is spent for now.",
    503: "`temporarily_unavailable`: retry after `Retry-After`.",
}
_INTEGER = {"schema": {"type": "integer"}}
HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "The scheme to use"}},
    429: {
        "Retry-After": {**_INTEGER, "description": "Seconds until the limit's window ends"},
        "X-RateLimit-Limit": _INTEGER,
        "X-RateLimit-Remaining": _INTEGER,
        "X-RateLimit-Reset": {**_INTEGER, "description": "When the window ends, in epoch seconds"},
    },
    503: {"Retry-After": {**_INTEGER, "description": "Seconds to wait before retrying"}},
}

_ONE_TO_HUNDRED = {"type": "integer", "minimum": 1, "maximum": paging.MAX_SIZE}
PAGING_PARAMETERS = (
    {
        "name": "limit",
        "in": "query",
        "description": "How many records, newest first (without `page[...]`).",
        "schema": {**_ONE_TO_HUNDRED, "default": 10},
    },
    {
        "name": "page[number]",
        "in": "query",
        "description": "Numbered paging: the page (with `links` first, prev, next, last and "
        "`links.meta`); use `page[cursor]` to go past page 100.",
        "schema": {"type": "integer", "minimum": 1, "maximum": paging.MAX_NUMBER},
    },
    {
        "name": "page[size]",
        "in": "query",
        "description": "Records per page with `page[number]` or `page[cursor]`.",
        "schema": _ONE_TO_HUNDRED,
    },
    {
        "name": "page[cursor]",
        "in": "query",
        "description": "Keyset paging: the id of the last record of the previous page (empty for "
        "the first page); `links.next` carries the next one.",
        "schema": {"type": "string"},
    },
    {
        "name": "order",
        "in": "query",
        "description": "`desc` (newest first, the default) or `asc`.",
        "schema": {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
    },
)
VERSION_PARAMETER = {
    "name": versions.VERSION_HEADER,
    "in": "header",
    "description": "The API version to serve this request at (default: the key's pinned version); "
    "echoed in the answer's header of the same name.",
    "schema": {"type": "string", "enum": sorted(versions.KNOWN)},
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What a route does that its description depends on."""

    path: str
    method: str
    calls: frozenset[Callable[..., Any]]
    """Every dependency the route runs, however deep."""
    declared: dict[int | str, dict[str, Any]]
    """The route's own ``responses``."""
    takes_body: bool

    @property
    def dialect(self) -> str:
        return dialect(self.path)

    def security(self) -> list[Requirement] | None:
        """The credentials the route takes; None when it authenticates by itself."""
        if optional_bearer in self.calls:
            return [{}, *ANY_CREDENTIAL]
        if authenticate_bearer in self.calls:
            return list(ANY_CREDENTIAL)
        if authenticate in self.calls:
            return list(USER_CREDENTIALS)
        return None

    def errors(self) -> set[int]:
        """Every error status the route can answer."""
        found = {int(status) for status in self.declared if str(status)[0] in "45"}
        if refuse_nul_characters in self.calls or self.takes_body:
            found.add(400)  # a NUL in a parameter; malformed input
        if self.dialect == "jsonapi" and self.path != "/v1/ping":
            found.add(400)  # an Accept the licensing API cannot answer (keyplane.negotiation)
        if self.security() is not None:
            found |= {401, 403, 429}
        if current_account in self.calls:
            found |= {404, 503}
        if _DATABASE in self.calls:
            found.add(503)
        if self.method in WRITES:
            # Every write's body is read (a NUL or lone surrogate in it is a 422, a 413 past
            # the cap), whether or not the route takes one.
            found |= {413} if self.dialect == "oauth" else {413, 422}
        return found


_DATABASE = get_args(DbSession)[1].dependency


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _facts(app: FastAPI) -> Iterator[Facts]:
    for context in routing.iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, routing.APIRoute) or not route.include_in_schema:
            continue
        api_route: Any = context  # delegates to the route, with the path it is served under
        calls = frozenset(_calls(api_route.dependant))
        for method in api_route.methods:
            yield Facts(
                api_route.path_format,
                method,
                calls,
                dict(api_route.responses or {}),
                api_route.body_field is not None,
            )


def _envelope_schemas() -> dict[str, Any]:
    _, schemas = models_json_schema(
        [(model, "serialization") for model in ENVELOPES.values()], ref_template=REF + "{model}"
    )
    return dict(schemas.get("$defs", {}))


def _error(facts: Facts, status: int) -> dict[str, Any]:
    kind = facts.dialect
    descriptions = OAUTH_ERRORS if kind == "oauth" else ERRORS
    own = facts.declared.get(status, {}).get("description")
    response: dict[str, Any] = {
        "description": own or descriptions.get(status, ERRORS.get(status, "Error")),
        "content": {
            JSONAPI if kind == "jsonapi" else JSON: {"schema": {"$ref": REF + ENVELOPES[kind].__name__}}
        },
    }
    if status in HEADERS and not (status == 401 and kind == "oauth"):
        response["headers"] = copy.deepcopy(HEADERS[status])
    return response


def _is_list(facts: Facts) -> bool:
    for answer in facts.declared.values():
        model = answer.get("model")
        if isinstance(model, type) and issubclass(model, BaseModel) and issubclass(model, ListDocument):
            return True
    return False


def _add_parameters(operation: dict[str, Any], wanted: tuple[dict[str, Any], ...]) -> None:
    present = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
    extra = [copy.deepcopy(p) for p in wanted if (p["in"], p["name"]) not in present]
    if extra:
        operation["parameters"] = [*operation.get("parameters", []), *extra]


def _both_media_types(content: dict[str, Any]) -> dict[str, Any]:
    """The licensing API answers and reads ``application/vnd.api+json`` as well as JSON."""
    if JSON in content and JSONAPI not in content:
        return {JSONAPI: content[JSON], **content}
    return content


def _complete(operation: dict[str, Any], facts: Facts) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for key in list(responses):
        if key[0] in "45" and "model" not in facts.declared.get(int(key), {}):
            del responses[key]  # FastAPI's 422, or a declared status without its envelope
    for status in sorted(facts.errors()):
        if "model" not in facts.declared.get(status, {}):
            responses[str(status)] = _error(facts, status)
    security = facts.security()
    if security is not None:
        operation["security"] = security
    elif "security" not in operation:
        operation["security"] = []  # public: no credential needed
    if facts.dialect == "jsonapi":
        for key, response in responses.items():
            if key[0] == "2" and "content" in response:
                response["content"] = _both_media_types(response["content"])
        if "requestBody" in operation:
            body = operation["requestBody"]
            body["content"] = _both_media_types(body["content"])
        if _is_list(facts):
            _add_parameters(operation, PAGING_PARAMETERS)
    if negotiated_version in facts.calls:
        _add_parameters(operation, (VERSION_PARAMETER,))


def complete(app: FastAPI, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (FastAPI's description of ``app``) completed in place."""
    for facts in _facts(app):
        operation = document["paths"].get(facts.path, {}).get(facts.method.lower())
        if operation is not None:
            _complete(operation, facts)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unsent in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unsent, None)
    schemas.update(_envelope_schemas())
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    return document
