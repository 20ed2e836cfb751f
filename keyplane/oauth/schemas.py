"""The shapes of ``POST /oauth/token`` (RFC 6749 §4.4 and §5.1).

The endpoint reads its body itself (form-encoded or JSON, as RFC 6749 clients send it), so
``ClientCredentials`` documents that body rather than parsing it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import SkipJsonSchema

from keyplane import examples as example


class ClientCredentials(BaseModel):
    """A client credentials grant. The client may authenticate with HTTP Basic
    (``client_id:client_secret``) instead of the two fields."""

    model_config = ConfigDict(json_schema_extra=example.of(example.CLIENT_CREDENTIALS))

    grant_type: Literal["client_credentials"]
    client_id: str | SkipJsonSchema[None] = None
    """The API key's id."""
    client_secret: str | SkipJsonSchema[None] = None
    """The API key itself."""
    scope: str | SkipJsonSchema[None] = None
    """Space-separated scopes, at most the key's (default: all of them)."""


class AccessToken(BaseModel):
    """A short-lived bearer token with the key's scopes (or those asked for)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=example.of(example.ACCESS_TOKEN))

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    """Seconds until the token expires."""
    scope: str
    """The token's scopes, space-separated."""


def request_body() -> dict[str, Any]:
    """The endpoint's ``requestBody`` for OpenAPI: the same fields, form-encoded or JSON."""
    schema = ClientCredentials.model_json_schema()
    example = schema.pop("examples")[0]
    for field in schema["properties"].values():
        field.pop("default", None)  # an absent field is absent, not null
    media = {"schema": schema, "example": example}
    return {
        "required": True,
        "content": {"application/x-www-form-urlencoded": media, "application/json": media},
    }
