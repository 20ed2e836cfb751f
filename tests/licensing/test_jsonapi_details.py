"""JSON:API details as Keygen answers them: ``data.id`` in a PATCH body, validate-key's legacy
``meta.encrypted``, a null ``scope.user``, unsupported content types, badly encoded text and
integers too large for their column."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer

ENCODING = "The request could not be completed because it contains an invalid byte sequence (check encoding)"
MIME = "The mime type of the request is not acceptable (check content-type and accept headers)"


async def _validate(client: httpx.AsyncClient, acme: Tenant, meta: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"{acme.base}/licenses/actions/validate-key", json={"meta": meta})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _products(client: httpx.AsyncClient, acme: Tenant) -> list[str]:
    listed = await client.get(f"{acme.base}/products", headers=bearer(acme.key))
    return [item["attributes"]["name"] for item in listed.json()["data"]]


async def test_a_patch_body_may_carry_the_resources_id(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen takes ``data.id`` in an update and ignores it: the path names the resource
    (app/controllers/api/v1/licenses_controller.rb, products_controller.rb, ...:
    ``param :id, type: :string, optional: true, noop: true``)."""
    product = await factories.product(client, acme)
    other = await factories.product(client, acme, name="Other")
    body = {"data": {"type": "products", "id": product, "attributes": {"name": "Renamed"}}}
    changed = await client.patch(f"{acme.base}/products/{product}", json=body, headers=bearer(acme.key))
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["attributes"]["name"] == "Renamed"
    # Another id changes nothing but the resource of the path, as in Keygen.
    body["data"] |= {"id": other, "attributes": {"name": "Again"}}
    again = await client.patch(f"{acme.base}/products/{product}", json=body, headers=bearer(acme.key))
    assert again.status_code == 200, again.text
    assert again.json()["data"]["id"] == product
    assert sorted(await _products(client, acme)) == ["Again", "Other"]
    license = await factories.license(client, acme)
    patch = {"data": {"type": "licenses", "id": license["id"], "attributes": {"name": "Named"}}}
    named = await client.patch(f"{acme.base}/licenses/{license['id']}", json=patch, headers=bearer(acme.key))
    assert named.status_code == 200, named.text
    assert named.json()["data"]["attributes"]["name"] == "Named"
    # It is a string, as Keygen types it.
    patch["data"]["id"] = 7
    refused = await client.patch(
        f"{acme.base}/licenses/{license['id']}", json=patch, headers=bearer(acme.key)
    )
    assert refused.status_code == 400, refused.text


async def test_validate_key_takes_keygens_legacy_encrypted_flag(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen's validate-key takes ``meta.encrypted`` (and ``legacyEncrypted``); true looks
    the key up as a legacy encrypted one, which no Keyplane license is (encrypted policies
    are refused), so it is ``NOT_FOUND``; false is an ordinary validation
    (app/controllers/api/v1/licenses/actions/validations_controller.rb;
    app/services/license_key_lookup_service.rb)."""
    license = await factories.license(client, acme)
    key = license["attributes"]["key"]
    plain = await _validate(client, acme, {"key": key, "encrypted": False})
    assert plain["meta"]["code"] == "VALID"
    assert plain["data"]["id"] == license["id"]
    for flag in ("encrypted", "legacyEncrypted"):
        legacy = await _validate(client, acme, {"key": key, flag: True})
        assert legacy["meta"]["valid"] is False
        assert legacy["meta"]["code"] == "NOT_FOUND"
        assert legacy["data"] is None
    # The flag did not teach the memory of validations that the key is unknown.
    assert (await _validate(client, acme, {"key": key}))["meta"]["code"] == "VALID"
    refused = await client.post(
        f"{acme.base}/licenses/actions/validate-key", json={"meta": {"key": key, "encrypted": "yes"}}
    )
    assert refused.status_code == 400, refused.text


async def test_a_null_user_scope_is_compared(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen compares ``scope.user`` whenever the key is sent, null included: null matches a
    license without an owner (and meets ``requireUserScope``), not one with an owner
    (app/services/license_validation_service.rb, ``scope.key?(:user)``)."""
    policy = await factories.policy(client, acme, requireUserScope=True)
    ownerless = await factories.license(client, acme, policy)
    owner = await factories.user(app, acme)
    owned = await factories.license(client, acme, policy, owner=owner)
    answer = await _validate(client, acme, {"key": ownerless["attributes"]["key"], "scope": {"user": None}})
    assert answer["meta"]["code"] == "VALID"
    assert answer["meta"]["scope"] == {"user": None}
    missing = await _validate(client, acme, {"key": ownerless["attributes"]["key"], "scope": {}})
    assert missing["meta"]["code"] == "USER_SCOPE_REQUIRED"
    mismatch = await _validate(client, acme, {"key": owned["attributes"]["key"], "scope": {"user": None}})
    assert mismatch["meta"]["code"] == "USER_SCOPE_MISMATCH"
    assert mismatch["meta"]["valid"] is False
    matched = await _validate(
        client, acme, {"key": owned["attributes"]["key"], "scope": {"user": str(owner)}}
    )
    assert matched["meta"]["code"] == "VALID"


@pytest.mark.parametrize(
    "content_type", ["vnd.api+xml", "application/xml", "application/octet-stream", "text/html"]
)
async def test_an_unsupported_content_type_is_mime_type_invalid(
    client: httpx.AsyncClient, acme: Tenant, content_type: str
) -> None:
    """Keygen: 400 ``MIME_TYPE_INVALID`` "The mime type of the request is not acceptable
    (check content-type and accept headers)" (features/api/v1/licenses/actions/
    validations.feature, "Anonymous validates a license key using an invalid content type";
    lib/keygen/middleware.rb). Only none, a form and ``text/plain`` are read as JSON."""
    license = await factories.license(client, acme)
    refused = await client.post(
        f"{acme.base}/licenses/actions/validate-key",
        content=json.dumps({"meta": {"key": license["attributes"]["key"]}}),
        headers={"Content-Type": content_type},
    )
    body = jsonapi_error(refused, 400, "MIME_TYPE_INVALID")
    assert body["errors"][0]["title"] == "Bad request"
    assert body["errors"][0]["detail"] == MIME
    created = await client.post(
        f"{acme.base}/products",
        content=json.dumps({"data": {"type": "products", "attributes": {"name": "App"}}}),
        headers={**bearer(acme.key), "Content-Type": content_type},
    )
    jsonapi_error(created, 400, "MIME_TYPE_INVALID")
    assert "App" not in await _products(client, acme)
    accept = await client.get(f"{acme.base}/products", headers={**bearer(acme.key), "Accept": "text/html"})
    assert jsonapi_error(accept, 400, "MIME_TYPE_INVALID")["errors"][0]["detail"] == MIME


async def test_a_body_that_is_not_utf8_is_encoding_invalid(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen: 400 ``ENCODING_INVALID`` for an invalid byte sequence (lib/keygen/middleware.rb
    ``RequestErrorWrapper``; app/controllers/application_controller.rb)."""
    body = b'{"data": {"type": "products", "attributes": {"name": "caf\xe9"}}}'
    refused = await client.post(
        f"{acme.base}/products",
        content=body,
        headers={**bearer(acme.key), "Content-Type": "application/json"},
    )
    answer = jsonapi_error(refused, 400, "ENCODING_INVALID")
    assert answer["errors"][0]["detail"] == ENCODING
    assert answer["errors"][0]["title"] == "Bad request"
    assert await _products(client, acme) == []
    validation = await client.post(
        f"{acme.base}/licenses/actions/validate-key", content=b'{"meta": {"key": "\xff\xfe"}}'
    )
    jsonapi_error(validation, 400, "ENCODING_INVALID")


@pytest.mark.parametrize("value", [2**31, 2**63, 10**30])
async def test_an_integer_too_large_is_400(client: httpx.AsyncClient, acme: Tenant, value: int) -> None:
    """Keygen: 400 "integer is too large" for a number past its column
    (app/controllers/application_controller.rb, ``rescue ActiveModel::RangeError``)."""
    policy = await factories.policy(client, acme)
    body = factories.document("licenses", {"maxMachines": value}, policy=policy)
    refused = await client.post(f"{acme.base}/licenses", json=body, headers=bearer(acme.key))
    answer = jsonapi_error(refused, 400, "MAX_MACHINES_TOO_LARGE")
    assert answer["errors"][0]["detail"] == "integer is too large"
    assert answer["errors"][0]["title"] == "Bad request"
    assert answer["errors"][0]["source"] == {"pointer": "/data/attributes/maxMachines"}
    listed = await client.get(f"{acme.base}/licenses", headers=bearer(acme.key))
    assert listed.json()["data"] == []
    # A bound of the resource's own stays a 422.
    small = factories.document("licenses", {"maxMachines": 0}, policy=policy)
    assert (
        await client.post(f"{acme.base}/licenses", json=small, headers=bearer(acme.key))
    ).status_code == 422


async def test_an_unknown_endpoint_is_keygens_not_found(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen's wording for a route it does not have (app/controllers/application_controller.rb
    ``render_not_found``; lib/keygen/middleware.rb)."""
    response = await client.get(f"{acme.base}/no-such-things", headers=bearer(acme.key))
    body = jsonapi_error(response, 404, "NOT_FOUND")
    assert body["errors"][0]["title"] == "Not found"
    assert body["errors"][0]["detail"] == (
        "The requested endpoint was not found (check your HTTP method, Accept header, and URL path)"
    )


@pytest.mark.parametrize(
    "path", ["/licenses?metadata[plan]=%FF", "/licenses/%C3%28", "/licenses?product=%E9t%E9"]
)
async def test_a_path_or_query_that_is_not_utf8_is_encoding_invalid(
    client: httpx.AsyncClient, acme: Tenant, path: str
) -> None:
    """Keygen: 400 ``ENCODING_INVALID`` for percent-encoded bytes that are not UTF-8, instead
    of a lookup with replacement characters (lib/keygen/middleware.rb, "invalid byte
    sequence"; app/controllers/application_controller.rb)."""
    response = await client.get(f"{acme.base}{path}", headers=bearer(acme.key))
    body = jsonapi_error(response, 400, "ENCODING_INVALID")
    assert body["errors"][0]["detail"] == ENCODING
    # Percent-encoded UTF-8 is ordinary text.
    fine = await client.get(f"{acme.base}/licenses?metadata[plan]=%C3%A9", headers=bearer(acme.key))
    assert fine.status_code == 200, fine.text
