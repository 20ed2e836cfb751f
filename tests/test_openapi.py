"""The OpenAPI description at ``/openapi.json`` is the published contract: every operation
says what it answers (a typed document), every error it can answer in the envelope it really
sends, which credentials it takes, its paging parameters, and the main ones an example; and
the server's real answers match it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from keyplane.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, VerifyRequest, VerifyResult
from keyplane.checkouts.schemas import Checkout, LicenseFileDocument
from keyplane.components.schemas import ComponentCreate, ComponentDocument, ComponentResource
from keyplane.envelopes import JsonApiErrors, OAuthError, PlainError
from keyplane.groups.schemas import GroupChange, GroupCreate, GroupDocument
from keyplane.kit.documents import Document, ListDocument
from keyplane.license_tokens.schemas import LicenseTokenDocument, LicenseTokenRequest
from keyplane.licenses.schemas import (
    LicenseCreate,
    LicenseDocument,
    LicenseResource,
    ValidateKey,
    ValidationDocument,
)
from keyplane.machines.schemas import MachineCreate, MachineDocument
from keyplane.oauth.schemas import AccessToken, ClientCredentials
from keyplane.policies.schemas import PolicyResource
from keyplane.processes.schemas import ProcessCreate, ProcessDocument, ProcessResource
from keyplane.products.schemas import ProductResource
from keyplane.tokens.schemas import TokenDocument, TokenRequest
from tests import factories
from tests.factories import Tenant, bearer

Operation = tuple[str, str, dict[str, Any]]
PREFIXES = ("/v1/accounts/{account}", "/v1")
CREDENTIALS = {"bearerAuth", "apiKeyHeader", "oauth2", "License"}
WRITES = {"post", "put", "patch", "delete"}
USER_ONLY = {"users"}
"""Licensing resources only a user's credential reaches (no product token or license key;
tokens are read, regenerated and revoked by their bearer, whoever it is, as in Keygen)."""
LICENSING_USER_ROUTES = {"/users/{user}/group"}
"""Routes under ``/users`` that are the licensing API's (Keygen's user group relationship:
product tokens use them, and a license key is answered, with 404)."""


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def _operations(document: dict[str, Any]) -> list[Operation]:
    return [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def _template(path: str) -> str:
    """``/v1/accounts/{account}/licenses`` and ``/v1/licenses`` -> ``/licenses``."""
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            return path.removeprefix(prefix)
    return path


def _envelope(path: str) -> str:
    """The error envelope of the API ``path`` belongs to, as the README documents it."""
    family = _template(path).split("/")[1]
    if family == "oauth":
        return "OAuthError"
    if family in ("api-keys", "api-versions", "healthz", "readyz"):
        return "PlainError"
    return "JsonApiErrors"


def _ref(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        found: dict[str, Any] = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        schema = found
    return schema


def _schema_name(model: type[BaseModel]) -> str:
    return re.sub(r"[^a-zA-Z0-9.\-_]", "_", model.__name__)


async def test_every_path_parameter_is_declared(client: httpx.AsyncClient) -> None:
    paths = (await _document(client))["paths"]
    assert "/v1/accounts/{account}" in paths
    undeclared = []
    for path, operations in paths.items():
        named = set(re.findall(r"{([^}]+)}", path))
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            if declared != named:
                undeclared.append((method.upper(), path, sorted(named - declared)))
    assert undeclared == []


async def test_every_operation_answers_a_typed_document(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    untyped = []
    for method, path, operation in _operations(document):
        successes = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
        assert successes, (method, path)
        for status, response in successes.items():
            if status == "204":
                assert "content" not in response, (method, path)
                continue
            content = response.get("content", {})
            if not content or any(not _ref(document, media.get("schema", {})) for media in content.values()):
                untyped.append((method, path, status))
    assert untyped == []


async def test_every_error_is_documented_in_the_envelope_it_is_sent_in(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    missing = []
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        schemes = {name for requirement in operation["security"] for name in requirement}
        expected = {"400"}
        if schemes & CREDENTIALS:
            expected |= {"401", "403", "429"}
        if "basicAuth" in schemes:
            expected |= {"401", "429"}
        if method in WRITES:
            expected |= {"413"} if _envelope(path) == "OAuthError" else {"413", "422"}
        if path.startswith("/v1/accounts/{account}"):
            expected |= {"404", "503"}
        missing += [(method, path, status) for status in sorted(expected - set(responses))]
        for status, response in responses.items():
            if status[0] not in "45" or (path, status) == ("/readyz", "503"):
                continue
            media = "application/vnd.api+json" if _envelope(path) == "JsonApiErrors" else "application/json"
            assert list(response["content"]) == [media], (method, path, status)
            envelope = {"$ref": f"#/components/schemas/{_envelope(path)}"}
            assert response["content"][media]["schema"] == envelope, (method, path, status)
    assert missing == []


async def test_fastapis_validation_error_which_is_never_sent_is_nowhere(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    for name, schema in schemas.items():
        detail = schema.get("properties", {}).get("detail", {})
        assert detail.get("type") != "array", name
    assert "HTTPValidationError" not in str(document)


async def test_every_operation_says_which_credentials_it_takes(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKeyHeader"] == {
        **schemes["apiKeyHeader"],
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/v1/oauth/token"
    assert schemes["License"] == {
        **schemes["License"],
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
    }
    assert "License <" in schemes["License"]["description"]

    public = set()
    for method, path, operation in _operations(document):
        assert "security" in operation, (method, path)
        requirements = operation["security"]
        assert {name for r in requirements for name in r} <= set(schemes), (method, path)
        taken = {name for r in requirements for name in r}
        if not requirements or {} in requirements or {"basicAuth": []} in requirements:
            public.add((method.upper(), _template(path)))
        if (method.upper(), _template(path)) == ("POST", "/tokens"):
            # Email and password, or a user's token (Keygen's token authentication); never an
            # API key's or OAuth's power, nor a license's.
            assert requirements == [{"basicAuth": []}, {"bearerAuth": []}, {"apiKeyHeader": []}]
        elif taken & CREDENTIALS:
            assert {"bearerAuth", "apiKeyHeader", "oauth2"} <= taken, (method, path)
            # A license key authenticates on the licensing API, but not for users and tokens.
            template = _template(path)
            licensing = _envelope(path) == "JsonApiErrors" and (
                template.split("/")[1] not in USER_ONLY or template in LICENSING_USER_ROUTES
            )
            assert ("License" in taken) == licensing, (method, path)
    assert public == {
        ("GET", "/ping"),
        ("GET", "/api-versions"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("POST", "/tokens"),
        ("POST", "/oauth/token"),
        ("POST", "/licenses/actions/validate-key"),
    }


async def test_every_list_documents_its_paging(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    lists = 0
    for method, path, operation in _operations(document):
        schema = (
            operation["responses"]
            .get("200", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema", {})
        )
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        if schema.get("$ref", "").startswith("#/components/schemas/ListDocument"):
            lists += 1
            assert {"limit", "page[number]", "page[size]", "page[cursor]", "order"} <= names, (method, path)
    assert lists >= 24  # the eleven lists of the licensing API, under /v1 and under an account
    api_keys = document["paths"]["/v1/api-keys"]["get"]
    names = {p["name"] for p in api_keys["parameters"] if p["in"] == "query"}
    assert {"status", "limit", "offset", "startingAfter", "endingBefore"} <= names


MAIN_OPERATIONS = (
    ("post", "/api-keys"),
    ("post", "/api-keys/verify"),
    ("get", "/api-keys"),
    ("post", "/licenses"),
    ("post", "/licenses/actions/validate-key"),
    ("post", "/licenses/{license}/actions/check-out"),
    ("post", "/machines"),
    ("post", "/processes"),
    ("post", "/components"),
    ("post", "/oauth/token"),
    ("post", "/tokens"),
)


def _has_example(document: dict[str, Any], media: dict[str, Any]) -> bool:
    """An example beside the schema, or in it (or in the schema of an optional body)."""
    schemas = [media["schema"], *media["schema"].get("anyOf", [])]
    found = "example" in media or "examples" in media
    return found or any("examples" in _ref(document, schema) for schema in schemas)


async def test_the_main_operations_have_examples(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    for method, template in MAIN_OPERATIONS:
        operation = document["paths"]["/v1" + template][method]
        for media in operation.get("requestBody", {}).get("content", {}).values():
            assert _has_example(document, media), (method, template)
        success = next(r for status, r in operation["responses"].items() if status.startswith("2"))
        for media in success["content"].values():
            assert _has_example(document, media), (method, template)


EXAMPLED = (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    VerifyRequest,
    VerifyResult,
    LicenseCreate,
    LicenseDocument,
    ValidateKey,
    ValidationDocument,
    Checkout,
    LicenseFileDocument,
    MachineCreate,
    MachineDocument,
    ProcessCreate,
    ProcessDocument,
    ComponentCreate,
    ComponentDocument,
    ClientCredentials,
    AccessToken,
    TokenRequest,
    TokenDocument,
    LicenseTokenRequest,
    LicenseTokenDocument,
    GroupCreate,
    GroupChange,
    GroupDocument,
)


async def test_every_example_is_valid_for_its_model(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    with_examples = {
        name for name, schema in document["components"]["schemas"].items() if "examples" in schema
    }
    assert with_examples <= {_schema_name(model) for model in EXAMPLED}
    for model in EXAMPLED:
        examples = model.model_json_schema()["examples"]
        assert examples, model
        for example in examples:
            model.model_validate(example)


def _conforms(
    document: dict[str, Any], answer: httpx.Response, template: str, model: type[BaseModel]
) -> None:
    """``answer`` is what the contract says ``template`` answers with its status: the document
    names ``model`` for it, and the body is valid for ``model`` (which refuses unknown members)."""
    method = answer.request.method.lower()
    operation = document["paths"]["/v1/accounts/{account}" + template][method]
    response = operation["responses"][str(answer.status_code)]
    media = answer.headers["content-type"].split(";")[0]
    assert response["content"][media]["schema"] == {"$ref": f"#/components/schemas/{_schema_name(model)}"}
    model.model_validate(answer.json())


@pytest.mark.parametrize("accept", ["application/vnd.api+json", "application/json"])
async def test_licensing_answers_match_the_contract(
    client: httpx.AsyncClient, acme: Tenant, accept: str
) -> None:
    document = await _document(client)
    headers = {**bearer(acme.key), "Accept": accept}
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id, maxMachines=3, floating=True)
    body = {"data": {"type": "licenses", "relationships": {"policy": factories.ref("policies", policy_id)}}}
    created = await client.post(f"{acme.base}/licenses", json=body, headers=headers)
    _conforms(document, created, "/licenses", LicenseDocument)
    license = created.json()["data"]

    machine = {
        "data": {
            "type": "machines",
            "attributes": {"fingerprint": "4f:3a:9c:1e"},
            "relationships": {"license": factories.ref("licenses", license["id"])},
        }
    }
    activated = await client.post(f"{acme.base}/machines", json=machine, headers=headers)
    _conforms(document, activated, "/machines", MachineDocument)
    process = {
        "data": {
            "type": "processes",
            "attributes": {"pid": "4242"},
            "relationships": {"machine": factories.ref("machines", activated.json()["data"]["id"])},
        }
    }
    spawned = await client.post(f"{acme.base}/processes", json=process, headers=headers)
    _conforms(document, spawned, "/processes", ProcessDocument)
    pinged = await client.post(
        f"{acme.base}/processes/{spawned.json()['data']['id']}/actions/ping", headers=headers
    )
    _conforms(document, pinged, "/processes/{process}/actions/ping", ProcessDocument)
    _conforms(
        document,
        await client.get(f"{acme.base}/processes", headers=headers),
        "/processes",
        ListDocument[ProcessResource],
    )
    component = {
        "data": {
            "type": "components",
            "attributes": {"fingerprint": "E31EE496", "name": "MOBO"},
            "relationships": {"machine": factories.ref("machines", activated.json()["data"]["id"])},
        }
    }
    added = await client.post(f"{acme.base}/components", json=component, headers=headers)
    _conforms(document, added, "/components", ComponentDocument)
    _conforms(
        document,
        await client.get(f"{acme.base}/components", headers=headers),
        "/components",
        ListDocument[ComponentResource],
    )
    validated = await client.post(
        f"{acme.base}/licenses/actions/validate-key",
        json={"meta": {"key": license["attributes"]["key"], "nonce": 7, "scope": {"product": product_id}}},
        headers={"Accept": accept},
    )
    _conforms(document, validated, "/licenses/actions/validate-key", ValidationDocument)
    unknown = await client.post(
        f"{acme.base}/licenses/actions/validate-key",
        json={"meta": {"key": "NO-SUCH-KEY"}},
        headers={"Accept": accept},
    )
    _conforms(document, unknown, "/licenses/actions/validate-key", ValidationDocument)
    assert unknown.json()["data"] is None

    for query in ("", "?page[number]=1&page[size]=5", "?page[cursor]="):
        listed = await client.get(f"{acme.base}/licenses{query}", headers=headers)
        _conforms(document, listed, "/licenses", ListDocument[LicenseResource])
    _conforms(
        document,
        await client.get(f"{acme.base}/products", headers=headers),
        "/products",
        ListDocument[ProductResource],
    )
    policy = await client.get(f"{acme.base}/licenses/{license['id']}/policy", headers=headers)
    _conforms(document, policy, "/licenses/{license}/policy", Document[PolicyResource])

    refused = await client.get(f"{acme.base}/licenses", headers={**bearer("kp_nonsense"), "Accept": accept})
    _conforms(document, refused, "/licenses", JsonApiErrors)
    malformed = await client.post(f"{acme.base}/licenses", content=b"{", headers=headers)
    _conforms(document, malformed, "/licenses", JsonApiErrors)
    unprocessable = await client.post(
        f"{acme.base}/licenses",
        json={
            "data": {"type": "licenses", "relationships": {"policy": factories.ref("policies", product_id)}}
        },
        headers=headers,
    )
    _conforms(document, unprocessable, "/licenses", JsonApiErrors)
    assert [refused.status_code, malformed.status_code, unprocessable.status_code] == [401, 400, 422]


async def test_api_key_and_oauth_answers_match_the_contract(client: httpx.AsyncClient, acme: Tenant) -> None:
    document = await _document(client)
    created = await client.post(
        f"{acme.base}/api-keys", json={"name": "billing", "scopes": ["READ"]}, headers=bearer(acme.key)
    )
    _conforms(document, created, "/api-keys", ApiKeyCreated)
    key = created.json()
    _conforms(
        document,
        await client.get(f"{acme.base}/api-keys?limit=1", headers=bearer(acme.key)),
        "/api-keys",
        ApiKeyList,
    )
    verified = await client.post(
        f"{acme.base}/api-keys/verify", json={"key": key["key"]}, headers=bearer(acme.key)
    )
    _conforms(document, verified, "/api-keys/verify", VerifyResult)
    too_long = await client.post(
        f"{acme.base}/api-keys", json={"description": "x" * 201}, headers=bearer(acme.key)
    )
    _conforms(document, too_long, "/api-keys", PlainError)
    anonymous = await client.get(f"{acme.base}/api-keys")
    _conforms(document, anonymous, "/api-keys", PlainError)
    assert [too_long.status_code, anonymous.status_code] == [422, 401]

    form = {"grant_type": "client_credentials", "client_id": key["id"], "client_secret": key["key"]}
    _conforms(document, await client.post(f"{acme.base}/oauth/token", data=form), "/oauth/token", AccessToken)
    wrong = await client.post(f"{acme.base}/oauth/token", data={**form, "grant_type": "password"})
    _conforms(document, wrong, "/oauth/token", OAuthError)
    assert wrong.status_code == 400


ASSET = r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']|spec-url=["']([^"']+)["']"""
"""Where the pages load something from: scripts, styles, icons, the document."""


async def test_docs_and_redoc_load_nothing_from_another_host(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        answer = await client.get(page)
        assert answer.status_code == 200
        html = answer.text
        assert "http://" not in html, page
        assert "https://" not in html, page
        assets = re.findall(ASSET, html)
        urls = {next(part for part in found if part) for found in assets}
        assert urls, page
        for url in urls:
            assert url.startswith("/"), url
            assert not url.startswith("//"), url
            assert (await client.get(url)).status_code == 200, url
    swagger = (await client.get("/docs")).text
    assert "/docs/assets/swagger-ui-bundle.js" in swagger
    assert '"validatorUrl": null' in swagger


async def test_authorize_in_docs_offers_an_api_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    """What Swagger UI sends once a key is entered under "Authorize": the scheme's header."""
    schemes = (await _document(client))["components"]["securitySchemes"]
    header = schemes["apiKeyHeader"]["name"]
    answer = await client.get(f"{acme.base}/api-keys", headers={header: acme.key})
    assert answer.status_code == 200, answer.text


async def test_an_app_document_is_made_once(app: FastAPI) -> None:
    assert app.openapi() is app.openapi()
