"""JSON:API request documents, and creating a record with one (the licensing resources)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import httpx

from tests.factories.accounts import Tenant, bearer

RELATED = {
    "product": "products",
    "policy": "policies",
    "license": "licenses",
    "owner": "users",
    "user": "users",
}
"""The resource type each relationship name points at."""


def ref(type_: str, id_: str) -> dict[str, Any]:
    """A to-one relationship: ``{"data": {"type", "id"}}``."""
    return {"data": {"type": type_, "id": id_}}


def document(
    type_: str, attributes: dict[str, Any] | None = None, **related: str | uuid.UUID | None
) -> dict[str, Any]:
    """A request document; ``related`` maps relationship names (``policy``, ``owner``, ...) to
    ids, and leaves out those that are None."""
    relationships = {name: ref(RELATED[name], str(id_)) for name, id_ in related.items() if id_ is not None}
    data: dict[str, Any] = {"type": type_, "attributes": attributes or {}}
    if relationships:
        data["relationships"] = relationships
    return {"data": data}


async def post(
    client: httpx.AsyncClient,
    account: Tenant,
    type_: str,
    attributes: dict[str, Any],
    related: Mapping[str, str | uuid.UUID | None] | None = None,
    *,
    credential: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a record of ``type_``, with ``headers`` when given (``{}`` sends none), else with
    ``credential`` or the admin's key as a bearer; the response, whatever it is."""
    return await client.post(
        f"{account.base}/{type_}",
        json=document(type_, attributes, **(related or {})),
        headers=bearer(credential or account.key) if headers is None else headers,
    )


async def create(
    client: httpx.AsyncClient,
    account: Tenant,
    type_: str,
    attributes: dict[str, Any],
    related: Mapping[str, str | uuid.UUID | None] | None = None,
    *,
    credential: str | None = None,
) -> dict[str, Any]:
    """POST a record of ``type_`` (with the admin's key unless told); must be 201. Its ``data``."""
    response = await post(client, account, type_, attributes, related, credential=credential)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
