"""Error envelopes for routing errors and malformed input; malformed input is never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.auth.support import basic, jsonapi_error, oauth_error, plain_error
from tests.factories import PASSWORD, Tenant, bearer


async def test_unknown_route_is_404_in_jsonapi(client: httpx.AsyncClient) -> None:
    body = jsonapi_error(await client.get("/v1/nothing-here"), 404, "NOT_FOUND")
    assert body["errors"][0]["title"] == "Not found"
    jsonapi_error(await client.get("/nowhere"), 404, "NOT_FOUND")


async def test_unknown_route_under_api_keys_is_404_in_plain(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.get(f"{acme.base}/api-keys/a/b/c", headers=bearer(acme.key))
    plain_error(response, 404, "NOT_FOUND")


async def test_unknown_api_key_is_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    unknown = "01234567-89ab-7def-8123-456789abcdef"
    response = await client.get(f"{acme.base}/api-keys/{unknown}", headers=bearer(acme.key))
    body = plain_error(response, 404, "NOT_FOUND")
    assert body["error"]["message"] == "The requested API key was not found"


@pytest.mark.parametrize(
    "path",
    [
        "/api-keys/{secret}",
        "/licenses/{secret}",
        "/licenses/{secret}/actions/validate",
        "/machines/{secret}",
        "/users/{secret}",
        "/keys/{secret}",
        "/products/{secret}",
        "/policies/{secret}/pool",
        "/tokens/{secret}",
    ],
)
async def test_a_credential_pasted_into_a_path_never_comes_back(
    client: httpx.AsyncClient, acme: Tenant, path: str
) -> None:
    """An error names what was not found, never the value asked for: a credential (or a
    license key, a fingerprint) put in a URL by mistake must not be repeated in a body."""
    response = await client.get(acme.base + path.format(secret=acme.key), headers=bearer(acme.key))
    assert response.status_code in (400, 404), response.text
    assert acme.key not in response.text
    assert acme.key[3:15] not in response.text  # nor its lookup handle
    elsewhere = await client.get(f"/v1/accounts/{acme.key}/licenses", headers=bearer(acme.key))
    jsonapi_error(elsewhere, 404, "NOT_FOUND")
    assert acme.key not in elsewhere.text


@pytest.mark.parametrize(
    ("path", "plain"),
    [("/v1/api-keys/", True), ("/v1/licenses/", False), ("/v1/accounts/acme/licenses/", False)],
)
async def test_a_trailing_slash_is_404_never_a_redirect_to_the_host_sent(
    client: httpx.AsyncClient, acme: Tenant, path: str, plain: bool
) -> None:
    """A redirect to the slashless path would be built from ``Host``, which the client
    chooses (an open redirect to any host, for anyone who can plant a link)."""
    headers = {**bearer(acme.key), "Host": "evil.example"}
    for method in ("GET", "POST"):
        response = await client.request(method, path, headers=headers, json={})
        if plain:
            plain_error(response, 404, "NOT_FOUND")
        else:
            jsonapi_error(response, 404, "NOT_FOUND")
        assert "location" not in response.headers
        assert "evil.example" not in response.text


async def test_wrong_method_is_405(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.put("/v1/ping")
    body = jsonapi_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "PUT" in body["errors"][0]["detail"]
    assert "GET" in response.headers["allow"]
    plain = await client.put(f"{acme.base}/api-keys", headers=bearer(acme.key))
    plain_error(plain, 405, "METHOD_NOT_ALLOWED")
    # The ping itself still answers.
    assert (await client.get("/v1/ping")).json() == {"message": "pong"}


async def test_malformed_json_is_json_invalid(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.post(
        f"{acme.base}/api-keys",
        content=b'{"name": "broken",',
        headers=bearer(acme.key) | {"Content-Type": "application/json"},
    )
    body = plain_error(response, 400, "JSON_INVALID")
    assert body["error"]["message"] == "The request body is not valid JSON"
    listed = await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))
    assert listed.json()["total"] == 1


async def test_malformed_json_on_jsonapi_route(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.post(
        f"{acme.base}/tokens",
        content=b"{not json",
        headers=basic(acme.admin_email, PASSWORD) | {"Content-Type": "application/json"},
    )
    jsonapi_error(response, 400, "JSON_INVALID")


async def test_credential_check_comes_before_body_validation(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.post(f"{acme.base}/api-keys", json={"scopes": ["NOPE"], "bogus": 1})
    plain_error(response, 401, "TOKEN_MISSING")


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"[]", "application/json", 400, "BODY_INVALID"),
        (b'"a string"', "application/json", 400, "BODY_INVALID"),
        (b"null", "application/json", 400, "BODY_INVALID"),
        (b"name=x", "application/x-www-form-urlencoded", 400, "BODY_INVALID"),
        (b"\xff\xfe\x00", "application/json", 400, "JSON_INVALID"),
        (b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json", 400, "JSON_INVALID"),
        (b'{"scopes": [1, 2]}', "application/json", 422, "SCOPES_INVALID"),
        (b'{"scopes": "READ,NOPE"}', "application/json", 422, "SCOPES_INVALID"),
        (b'{"whitelistedIPs": "10.0.0.0/8"}', "application/json", 400, "WHITELISTED_IPS_INVALID"),
        (b'{"whitelistedIPs": ["10.0.0.1/8"]}', "application/json", 422, "WHITELISTED_IPS_INVALID"),
        (b'{"expiresAt": "tomorrow"}', "application/json", 400, "EXPIRES_AT_INVALID"),
        (b'{"userId": "not-a-uuid"}', "application/json", 400, "USER_ID_INVALID"),
        (b'{"name": "x", "unknown": 1}', "application/json", 400, "UNKNOWN_NOT_PERMITTED"),
    ],
    ids=[
        "array",
        "string",
        "null",
        "form",
        "not-utf8",
        "deep-nesting",
        "scope-numbers",
        "unknown-scope",
        "ips-not-list",
        "ips-host-bits",
        "expiry-words",
        "user-not-uuid",
        "unknown-field",
    ],
)
async def test_malformed_create_bodies_are_4xx_never_500(
    client: httpx.AsyncClient, acme: Tenant, content: bytes, content_type: str, status: int, code: str
) -> None:
    response = await client.post(
        f"{acme.base}/api-keys", content=content, headers=bearer(acme.key) | {"Content-Type": content_type}
    )
    plain_error(response, status, code)
    listed = await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))
    assert listed.json()["total"] == 1


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"limit": "abc"}, "LIMIT_INVALID"),
        ({"limit": "0"}, "LIMIT_INVALID"),
        ({"limit": "1000"}, "LIMIT_INVALID"),
        ({"offset": "-1"}, "OFFSET_INVALID"),
        ({"status": "sometimes"}, "STATUS_INVALID"),
        ({"startingAfter": "not-a-uuid"}, "STARTING_AFTER_INVALID"),
        ({"startingAfter": "01234567-89ab-7def-8123-456789abcdef"}, "STARTING_AFTER_INVALID"),
    ],
)
async def test_bad_query_parameters_are_400(
    client: httpx.AsyncClient, acme: Tenant, query: dict[str, str], code: str
) -> None:
    response = await client.get(f"{acme.base}/api-keys", params=query, headers=bearer(acme.key))
    body = plain_error(response, 400, code)
    assert body["error"]["field"] == next(iter(query))


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/api-keys/not-a-uuid", {}, 400, "KEY_ID_INVALID"),
        ("PATCH", "/api-keys/not-a-uuid", {"json": {"name": "x"}}, 400, "KEY_ID_INVALID"),
        ("DELETE", "/api-keys/%00", {}, 400, "KEY_ID_INVALID"),
        ("GET", "/api-keys", {"headers": {"Keyplane-Version": "yesterday"}}, 400, "API_VERSION_INVALID"),
        ("POST", "/api-keys/verify", {"json": {"key": "x" * 1000}}, 422, "KEY_TOO_LONG"),
        ("POST", "/api-keys/verify", {"json": {"key": "kp_x", "ip": "999.1.1.1"}}, 422, "IP_INVALID"),
    ],
    ids=["get-bad-id", "patch-bad-id", "delete-nul-id", "bad-version", "verify-long-key", "verify-bad-ip"],
)
async def test_odd_plain_requests_are_client_errors(
    client: httpx.AsyncClient,
    acme: Tenant,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
) -> None:
    # The parameters are shared by both backends' runs: read them, never pop.
    headers = bearer(acme.key) | kwargs.get("headers", {})
    rest = {name: value for name, value in kwargs.items() if name != "headers"}
    response = await client.request(method, f"{acme.base}{path}", headers=headers, **rest)
    plain_error(response, status, code)
    assert acme.key not in response.text


async def test_odd_jsonapi_requests_are_client_errors(client: httpx.AsyncClient, acme: Tenant) -> None:
    # Keygen answers 404 for a token id it does not have, whatever its shape
    # (features/api/v1/tokens/show.feature).
    bad_id = await client.get(f"{acme.base}/tokens/not-a-uuid", headers=bearer(acme.key))
    jsonapi_error(bad_id, 404, "NOT_FOUND")
    non_ascii = await client.get(f"{acme.base}/me", headers={b"X-API-Key": ("kp_" + "é" * 61).encode()})
    jsonapi_error(non_ascii, 401, "TOKEN_FORMAT_INVALID")
    huge = await client.get(f"{acme.base}/me", headers={"X-API-Key": "kp_" + "A" * 20000})
    jsonapi_error(huge, 401, "TOKEN_FORMAT_INVALID")


async def test_oauth_errors_use_rfc6749_shape(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.post(f"{acme.base}/oauth/token", data={"grant_type": "password"})
    oauth_error(response, 400, "unsupported_grant_type")


async def test_request_ids_are_unique(client: httpx.AsyncClient, acme: Tenant) -> None:
    first = plain_error(await client.get(f"{acme.base}/api-keys"), 401, "TOKEN_MISSING")
    second = plain_error(await client.get(f"{acme.base}/api-keys"), 401, "TOKEN_MISSING")
    assert first["requestId"] != second["requestId"]
