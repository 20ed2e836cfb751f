"""A NUL character anywhere a client sends text is a clear 4xx on both databases, never a
500 (PostgreSQL cannot store or compare U+0000 in text), and changes nothing."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from keyplane.models import Credential, Product, User
from keyplane.services import services_of
from tests.api_keys.helpers import assert_error
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer

NUL = "a\u0000b"
JSONAPI_BODY = {"Content-Type": "application/vnd.api+json"}


async def _rows(app: FastAPI, model: Any) -> int:
    async with services_of(app).db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"name": NUL}, "NAME_INVALID", "name"),
        ({"name": "x", "description": NUL}, "DESCRIPTION_INVALID", "description"),
        ({"name": "x", "metadata": {"plan": [NUL]}}, "METADATA_INVALID", "metadata"),
        ({"name": "x", "metadata": {NUL: "v"}}, "METADATA_INVALID", "metadata"),
        ({"name": "x", "whitelistedIPs": ["10.0.0.1", NUL]}, "WHITELISTED_IPS_INVALID", "whitelistedIPs.1"),
    ],
    ids=["name", "description", "metadata-value", "metadata-name", "list-item"],
)
async def test_api_key_bodies_with_nul_are_422_and_store_nothing(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, body: dict[str, Any], code: str, field: str
) -> None:
    before = await _rows(app, Credential)
    response = await client.post(f"{acme.base}/api-keys", json=body, headers=bearer(acme.key))
    assert_error(response, 422, code, field)
    assert await _rows(app, Credential) == before


async def test_verifying_a_key_with_nul_is_422(client: httpx.AsyncClient, acme: Tenant) -> None:
    for key in (NUL, "kp_" + NUL * 20):
        response = await client.post(
            f"{acme.base}/api-keys/verify", json={"key": key}, headers=bearer(acme.key)
        )
        assert_error(response, 422, "KEY_INVALID", "key")


@pytest.mark.parametrize(
    ("path", "code", "parameter"),
    [
        ("/licenses/a%00b", "LICENSE_INVALID", "license"),
        ("/users/a%00b@acme.test", "USER_INVALID", "user"),
        ("/machines/a%00b", "MACHINE_INVALID", "machine"),
        ("/products/a%00b", "PRODUCT_INVALID", "product"),
        ("/licenses?metadata[plan]=a%00b", "METADATA_INVALID", "metadata[plan]"),
        ("/machines?fingerprint=a%00b", "FINGERPRINT_INVALID", "fingerprint"),
        ("/users?roles[]=a%00b", "ROLES_INVALID", "roles[]"),
    ],
)
async def test_licensing_parameters_with_nul_are_400(
    client: httpx.AsyncClient, acme: Tenant, path: str, code: str, parameter: str
) -> None:
    body = jsonapi_error(await client.get(acme.base + path, headers=bearer(acme.key)), 400, code)
    assert body["errors"][0]["source"] == {"parameter": parameter}


async def test_api_key_path_and_query_with_nul_are_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    assert_error(
        await client.get(f"{acme.base}/api-keys/a%00b", headers=bearer(acme.key)),
        400,
        "KEY_ID_INVALID",
        "keyId",
    )
    response = await client.get(f"{acme.base}/api-keys?startingAfter=a%00b", headers=bearer(acme.key))
    assert_error(response, 400, "STARTING_AFTER_INVALID", "startingAfter")


async def test_an_account_named_with_nul_is_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    body = jsonapi_error(
        await client.get("/v1/accounts/a%00b/licenses", headers=bearer(acme.key)), 400, "ACCOUNT_INVALID"
    )
    assert body["errors"][0]["source"] == {"parameter": "account"}
    # With a signature asked for by key id, the signing layer looks the account up first.
    signed = {**bearer(acme.key), "Keygen-Accept-Signature": 'keyid="x", algorithm="ed25519"'}
    assert (await client.get("/v1/accounts/a%00b/licenses", headers=signed)).status_code == 400


@pytest.mark.parametrize(
    ("body", "code", "pointer"),
    [
        (
            {"data": {"type": "products", "attributes": {"name": NUL}}},
            "NAME_INVALID",
            "/data/attributes/name",
        ),
        (
            {"data": {"type": "products", "attributes": {"name": "x", "platforms": ["linux", NUL]}}},
            "PLATFORMS_INVALID",
            "/data/attributes/platforms/1",
        ),
        (
            {"data": {"type": "products", "attributes": {"name": "x", "metadata": {"k": NUL}}}},
            "METADATA_INVALID",
            "/data/attributes/metadata",
        ),
    ],
)
async def test_jsonapi_bodies_with_nul_are_422_and_store_nothing(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, body: dict[str, Any], code: str, pointer: str
) -> None:
    response = await client.post(
        f"{acme.base}/products", json=body, headers={**bearer(acme.key), **JSONAPI_BODY}
    )
    error = jsonapi_error(response, 422, code)["errors"][0]
    assert error["source"] == {"pointer": pointer}
    assert error["title"] == "Unprocessable resource"
    assert await _rows(app, Product) == 0


async def test_validating_a_license_key_with_nul_is_422(client: httpx.AsyncClient, acme: Tenant) -> None:
    url = f"{acme.base}/licenses/actions/validate-key"
    for meta, code, pointer in (
        ({"key": NUL}, "KEY_INVALID", "/meta/key"),
        ({"key": "ABC", "scope": {"fingerprint": NUL}}, "FINGERPRINT_INVALID", "/meta/scope/fingerprint"),
    ):
        response = await client.post(url, json={"meta": meta}, headers=JSONAPI_BODY)
        error = jsonapi_error(response, 422, code)["errors"][0]
        assert error["source"] == {"pointer": pointer}


async def test_a_user_with_nul_is_refused(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    before = await _rows(app, User)
    body = {"data": {"type": "users", "attributes": {"email": f"{NUL}@acme.test", "password": "long enough"}}}
    response = await client.post(
        f"{acme.base}/users", json=body, headers={**bearer(acme.key), **JSONAPI_BODY}
    )
    jsonapi_error(response, 422, "EMAIL_INVALID")
    assert await _rows(app, User) == before


async def test_signing_in_with_nul_in_the_email_is_a_failed_sign_in(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """A NUL makes the email no email: 401 ``EMAIL_REQUIRED``, as Keygen answers
    (features/api/v1/tokens/generate.feature, "Anonymous attempts to send a null byte
    within the email")."""
    basic = base64.b64encode(f"{acme.admin_email}\u0000:password".encode()).decode()
    response = await client.post(f"{acme.base}/tokens", headers={"Authorization": f"Basic {basic}"})
    jsonapi_error(response, 401, "EMAIL_REQUIRED")


async def test_an_escaped_backslash_before_u0000_is_ordinary_text(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """``\\\\u0000`` in JSON is a backslash and ``u0000``, not a NUL: accepted and kept."""
    response = await client.post(
        f"{acme.base}/api-keys", json={"name": "a\\u0000b"}, headers=bearer(acme.key)
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "a\\u0000b"


# -- lone surrogates -------------------------------------------------------------------------

LONE = "\\ud800"
"""Half a UTF-16 surrogate pair, as JSON spells it (no UTF-8 encoder takes it)."""
JSON_BODY = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "metadata",
    [f'{{"{LONE}": "v"}}', f'{{"plan": "a{LONE}"}}', f'{{"plan": ["x", "{LONE}"]}}'],
    ids=["name", "value", "list-item"],
)
async def test_metadata_with_a_lone_surrogate_is_422_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, metadata: str
) -> None:
    products = await _rows(app, Product)
    body = f'{{"data": {{"type": "products", "attributes": {{"name": "x", "metadata": {metadata}}}}}}}'
    response = await client.post(
        f"{acme.base}/products", content=body.encode(), headers={**bearer(acme.key), **JSONAPI_BODY}
    )
    error = jsonapi_error(response, 422, "METADATA_INVALID")["errors"][0]
    assert error["source"] == {"pointer": "/data/attributes/metadata"}
    assert error["detail"] == "must not contain unpaired UTF-16 surrogates"
    assert await _rows(app, Product) == products

    credentials = await _rows(app, Credential)
    plain = f'{{"name": "x", "metadata": {metadata}}}'
    response = await client.post(
        f"{acme.base}/api-keys", content=plain.encode(), headers={**bearer(acme.key), **JSON_BODY}
    )
    assert_error(response, 422, "METADATA_INVALID", "metadata")
    assert await _rows(app, Credential) == credentials


async def test_a_lone_surrogate_in_an_oauth_json_body_is_invalid_request(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    body = f'{{"grant_type": "client_credentials", "client_id": "{LONE}", "client_secret": "x"}}'
    response = await client.post(f"{acme.base}/oauth/token", content=body.encode(), headers=JSON_BODY)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


async def test_hot_routes_refuse_a_lone_surrogate_too(client: httpx.AsyncClient, acme: Tenant) -> None:
    verify = await client.post(
        f"{acme.base}/api-keys/verify",
        content=f'{{"key": "kp_{LONE}"}}'.encode(),
        headers={**bearer(acme.key), **JSON_BODY},
    )
    assert_error(verify, 422, "KEY_INVALID", "key")
    validate = await client.post(
        f"{acme.base}/licenses/actions/validate-key",
        content=f'{{"meta": {{"key": "{LONE}"}}}}'.encode(),
        headers=JSONAPI_BODY,
    )
    error = jsonapi_error(validate, 422, "KEY_INVALID")["errors"][0]
    assert error["source"] == {"pointer": "/meta/key"}


async def test_an_escaped_surrogate_pair_is_ordinary_text(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.post(
        f"{acme.base}/api-keys",
        content=b'{"name": "smile \\ud83d\\ude00"}',
        headers={**bearer(acme.key), **JSON_BODY},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "smile \U0001f600"
