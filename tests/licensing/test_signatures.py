"""Response signatures and signed license keys, checked the way a Keygen client checks them:
with the account's Ed25519 public key only (``GET /v1/accounts/{id}``, ``meta.keys.ed25519``).

Every ``/v1`` answer carries ``Date``, ``Digest``, their ``Keygen-`` twins and
``Keygen-Signature`` over ``(request-target) host date digest``, with the target and the
host exactly as the request sent them. ``ED25519_SIGN`` license keys are
``key/<base64url dataset>.<base64url signature>``, verifiable offline.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from sqlalchemy import select

from keyplane.models import Account
from keyplane.services import services_of
from tests import factories
from tests.factories import Tenant, bearer

HOST = "testserver"
SIGNED_HEADERS = "(request-target) host date digest"
RFC1123 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} GMT$"
)


# -- helpers ------------------------------------------------------------------------------------


async def _public_key(client: httpx.AsyncClient, account: Tenant) -> str:
    """The account's public key as Keygen clients take it (64 hex characters), from the API."""
    response = await client.get(f"/v1/accounts/{account.slug}", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["data"]["id"] == str(account.id)
    public = base64.b64decode(document["meta"]["keys"]["ed25519"], validate=True).decode()
    assert re.fullmatch(r"[0-9a-f]{64}", public), public
    return public


def _params(header: str) -> dict[str, str]:
    params = {}
    for part in header.split(", "):
        name, _, value = part.partition("=")
        assert value.startswith('"'), header
        assert value.endswith('"'), header
        params[name] = value[1:-1]
    return params


def _signing_text(method: str, target: str, host: str, date: str, digest: str) -> bytes:
    lines = [f"(request-target): {method.lower()} {target}", f"host: {host}", f"date: {date}"]
    return "\n".join([*lines, f"digest: {digest}"]).encode()


def _verify(
    response: httpx.Response,
    public: str,
    target: str,
    *,
    host: str = HOST,
    body: bytes | None = None,
    keyid: uuid.UUID | None = None,
) -> None:
    """Raise InvalidSignature unless ``response`` is signed by ``public`` for ``target`` and
    ``host`` (``body`` replaces the received body, to tamper with it)."""
    headers = response.headers
    content = response.content if body is None else body
    digest = "sha-256=" + base64.b64encode(hashlib.sha256(content).digest()).decode()
    assert headers["digest"] == headers["keygen-digest"]
    assert headers["date"] == headers["keygen-date"]
    params = _params(headers["keygen-signature"])
    assert set(params) == {"keyid", "algorithm", "signature", "headers"}
    assert params["algorithm"] == "ed25519"
    assert params["headers"] == SIGNED_HEADERS
    if keyid is not None:
        assert params["keyid"] == str(keyid)
    # What a client does: rebuild the text from what it sent and received, then verify.
    text = _signing_text(response.request.method, target, host, headers["date"], digest)
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))
    key.verify(base64.b64decode(params["signature"], validate=True), text)


def _assert_signed(
    response: httpx.Response, public: str, target: str, account: Tenant, *, host: str = HOST
) -> None:
    """Signed by ``account`` over ``target``; ``Digest`` is the body's; one RFC 1123 ``Date``."""
    assert response.headers.get_list("date") == [response.headers["keygen-date"]]
    assert RFC1123.match(response.headers["date"]), response.headers["date"]
    sent = parsedate_to_datetime(response.headers["date"])
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=1)
    digest = "sha-256=" + base64.b64encode(hashlib.sha256(response.content).digest()).decode()
    assert response.headers["digest"] == digest
    assert response.headers["keygen-digest"] == digest
    _verify(response, public, target, host=host, keyid=account.id)


def _b64url(text: str) -> bytes:
    """Strict base64url with padding, as Keygen's clients decode signed keys."""
    assert len(text) % 4 == 0, text
    assert re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text), text
    return base64.urlsafe_b64decode(text)


def _verify_key(key: str, public: str) -> bytes:
    """Offline check of an ``ED25519_SIGN`` license key: its dataset, or InvalidSignature."""
    signing_data, dot, signature = key.partition(".")
    assert dot, key
    assert signing_data.startswith("key/"), key
    encoded = signing_data.removeprefix("key/")
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(public)).verify(
        _b64url(signature), f"key/{encoded}".encode()
    )
    return _b64url(encoded)


# -- response signatures ------------------------------------------------------------------------


async def test_the_account_answer_carries_its_public_key_and_is_signed_by_it(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    response = await client.get(f"/v1/accounts/{acme.id}", headers=bearer(acme.key))
    assert response.status_code == 200
    public = base64.b64decode(response.json()["meta"]["keys"]["ed25519"]).decode()
    assert public == await _public_key(client, acme)
    _assert_signed(response, public, f"/v1/accounts/{acme.id}", acme)


async def test_a_list_is_signed_over_the_target_with_its_query_string_as_sent(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    public = await _public_key(client, acme)
    await factories.product(client, acme)
    target = f"{acme.base}/products?limit=5"
    response = await client.get(target, headers=bearer(acme.key))
    assert response.status_code == 200
    assert len(response.json()["data"]) == 1
    _assert_signed(response, public, target, acme)
    # The query string is part of what is signed: without it, or reordered, nothing verifies.
    with pytest.raises(InvalidSignature):
        _verify(response, public, f"{acme.base}/products")
    with pytest.raises(InvalidSignature):
        _verify(response, public, f"{acme.base}/products?limit=6")


async def test_the_query_string_is_signed_byte_for_byte(client: httpx.AsyncClient, acme: Tenant) -> None:
    public = await _public_key(client, acme)
    target = f"{acme.base}/products?page%5Bsize%5D=5&page%5Bnumber%5D=1"
    response = await client.get(target, headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    _assert_signed(response, public, target, acme)
    with pytest.raises(InvalidSignature):
        _verify(response, public, f"{acme.base}/products?page[size]=5&page[number]=1")


async def test_a_created_answer_is_signed(client: httpx.AsyncClient, acme: Tenant) -> None:
    public = await _public_key(client, acme)
    response = await client.post(
        f"{acme.base}/products",
        json=factories.document("products", {"name": "Signed"}),
        headers=bearer(acme.key),
    )
    assert response.status_code == 201
    _assert_signed(response, public, f"{acme.base}/products", acme)


@pytest.mark.parametrize(
    ("method", "path", "authorized", "body", "status"),
    [
        ("GET", "/products/" + str(uuid.UUID(int=7)), True, None, 404),
        ("GET", "/products", False, None, 401),
        (
            "POST",
            "/products",
            True,
            factories.document("products", {"name": "X", "distributionStrategy": "FREE"}),
            422,
        ),
        ("POST", "/products", True, factories.document("products"), 400),
        ("DELETE", "/licenses/" + str(uuid.UUID(int=9)), True, None, 404),
    ],
    ids=["404", "401", "422", "400", "404-delete"],
)
async def test_errors_are_signed(
    client: httpx.AsyncClient,
    acme: Tenant,
    method: str,
    path: str,
    authorized: bool,
    body: dict[str, Any] | None,
    status: int,
) -> None:
    public = await _public_key(client, acme)
    headers = bearer(acme.key) if authorized else {}
    response = await client.request(method, f"{acme.base}{path}", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["errors"]
    _assert_signed(response, public, f"{acme.base}{path}", acme)


async def test_bare_v1_routes_are_signed_by_the_account_they_serve(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    public = await _public_key(client, acme)
    await factories.product(client, acme)
    response = await client.get("/v1/products?limit=5", headers=bearer(acme.key))
    assert response.status_code == 200
    assert len(response.json()["data"]) == 1
    _assert_signed(response, public, "/v1/products?limit=5", acme)

    anonymous = await client.get("/v1/products")
    assert anonymous.status_code == 401
    _assert_signed(anonymous, public, "/v1/products", acme)

    ping = await client.get("/v1/ping")
    assert ping.status_code == 200
    _assert_signed(ping, public, "/v1/ping", acme)


async def test_a_tampered_body_does_not_verify(client: httpx.AsyncClient, acme: Tenant) -> None:
    public = await _public_key(client, acme)
    response = await client.get(f"/v1/accounts/{acme.slug}", headers=bearer(acme.key))
    _verify(response, public, f"/v1/accounts/{acme.slug}")
    tampered = response.content.replace(b'"Acme"', b'"Evil"')
    assert tampered != response.content
    with pytest.raises(InvalidSignature):
        _verify(response, public, f"/v1/accounts/{acme.slug}", body=tampered)
    # Nor does a signature moved to another host.
    with pytest.raises(InvalidSignature):
        _verify(response, public, f"/v1/accounts/{acme.slug}", host="api.keygen.sh")


async def test_a_host_with_a_port_is_signed_as_sent(client: httpx.AsyncClient, acme: Tenant) -> None:
    public = await _public_key(client, acme)
    headers = {**bearer(acme.key), "Host": "127.0.0.1:8123"}
    response = await client.get(f"{acme.base}/products?limit=5", headers=headers)
    assert response.status_code == 200
    _assert_signed(response, public, f"{acme.base}/products?limit=5", acme, host="127.0.0.1:8123")
    # Keygen itself drops the port; Keyplane signs what the client sent, as the clients expect.
    with pytest.raises(InvalidSignature):
        _verify(response, public, f"{acme.base}/products?limit=5", host="127.0.0.1")


async def test_each_account_has_its_own_key(client: httpx.AsyncClient, app: FastAPI, acme: Tenant) -> None:
    globex = await factories.tenant(app, "globex")
    acme_public = await _public_key(client, acme)
    globex_public = await _public_key(client, globex)
    assert acme_public != globex_public

    response = await client.get(f"{acme.base}/products", headers=bearer(acme.key))
    _verify(response, acme_public, f"{acme.base}/products", keyid=acme.id)
    with pytest.raises(InvalidSignature):
        _verify(response, globex_public, f"{acme.base}/products")

    theirs = await client.get(f"{globex.base}/products", headers=bearer(globex.key))
    _assert_signed(theirs, globex_public, f"{globex.base}/products", globex)
    with pytest.raises(InvalidSignature):
        _verify(theirs, acme_public, f"{globex.base}/products")


async def test_the_private_key_is_not_stored_in_plaintext(
    client: httpx.AsyncClient, app: FastAPI, acme: Tenant
) -> None:
    public = await _public_key(client, acme)
    async with services_of(app).db.writer() as session:
        key = await services_of(app).keys.key(session, acme.id)
        row = (await session.execute(select(Account.__table__).where(Account.id == acme.id))).one()
    raw = key.seed()
    assert len(raw) == 32
    assert row.ed25519_public == public
    forms = [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw).rstrip(b"=")]
    for value in row:
        stored = value if isinstance(value, bytes) else str(value).encode()
        for form in forms:
            assert form not in stored


# -- Keygen-Accept-Signature --------------------------------------------------------------------


async def test_accept_signature_ed25519_is_honoured(client: httpx.AsyncClient, acme: Tenant) -> None:
    public = await _public_key(client, acme)
    for asked in ('algorithm="ed25519"', f'keyid="{acme.id}", algorithm="ed25519"'):
        headers = {**bearer(acme.key), "Keygen-Accept-Signature": asked}
        response = await client.get(f"{acme.base}/products", headers=headers)
        assert response.status_code == 200, asked
        _assert_signed(response, public, f"{acme.base}/products", acme)


async def test_accept_signature_with_another_algorithm_is_a_400(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    headers = {**bearer(acme.key), "Keygen-Accept-Signature": 'algorithm="rsa-sha256"'}
    response = await client.get(f"{acme.base}/products", headers=headers)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "SIGNATURE_INVALID"
    assert error["source"] == {"header": "Keygen-Accept-Signature"}
    # As Keygen: no signature of a kind the server cannot make, but still a Date.
    assert "keygen-signature" not in response.headers
    assert len(response.headers.get_list("date")) == 1
    assert RFC1123.match(response.headers["date"])


async def test_accept_signature_with_another_accounts_keyid_is_a_400(
    client: httpx.AsyncClient, app: FastAPI, acme: Tenant
) -> None:
    globex = await factories.tenant(app, "globex")
    asked = f'keyid="{globex.id}", algorithm="ed25519"'
    headers = {**bearer(acme.key), "Keygen-Accept-Signature": asked}
    response = await client.get(f"{acme.base}/products", headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "SIGNATURE_INVALID"
    # Signed with the account's key, as Keygen signs this refusal.
    _assert_signed(response, await _public_key(client, acme), f"{acme.base}/products", acme)
    # The account's own slug names it as well as its id.
    headers["Keygen-Accept-Signature"] = f'keyid="{acme.slug}", algorithm="ed25519"'
    assert (await client.get(f"{acme.base}/products", headers=headers)).status_code == 200


# -- signed license keys ------------------------------------------------------------------------


async def test_a_signed_key_verifies_offline_and_carries_the_records_ids(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    public = await _public_key(client, acme)
    product = await factories.product(client, acme, name="Signed")
    policy = await factories.policy(client, acme, product, scheme="ED25519_SIGN")
    license = await factories.license(client, acme, policy)
    key = license["attributes"]["key"]
    assert license["attributes"]["scheme"] == "ED25519_SIGN"
    assert re.fullmatch(r"key/[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+", key), key
    dataset = json.loads(_verify_key(key, public))
    assert dataset["account"]["id"] == str(acme.id)
    assert dataset["product"]["id"] == product
    assert dataset["policy"]["id"] == policy
    assert dataset["license"]["id"] == license["id"]
    assert dataset["license"]["created"] == license["attributes"]["created"]
    assert dataset["license"]["expiry"] is None

    # A single changed character in the dataset or the signature: not genuine.
    data, _, signature = key.partition(".")
    forged_data = data[:-2] + ("A" if data[-2] != "A" else "B") + data[-1]
    with pytest.raises(InvalidSignature):
        _verify_key(f"{forged_data}.{signature}", public)
    forged_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(InvalidSignature):
        _verify_key(f"{data}.{forged_signature}", public)


async def test_a_sent_key_is_the_template_of_the_signed_dataset(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    public = await _public_key(client, acme)
    policy = await factories.policy(client, acme, scheme="ED25519_SIGN")
    attributes = {"key": "{{id}}:{{expiry}}", "expiry": "2031-05-04T03:02:01.000Z"}
    body = {
        "data": {
            "type": "licenses",
            "attributes": attributes,
            "relationships": {"policy": factories.ref("policies", policy)},
        }
    }
    response = await client.post(f"{acme.base}/licenses", json=body, headers=bearer(acme.key))
    assert response.status_code == 201, response.text
    license = response.json()["data"]
    dataset = _verify_key(license["attributes"]["key"], public).decode()
    assert dataset == f"{license['id']}:{license['attributes']['expiry']}"
    assert license["attributes"]["expiry"] == "2031-05-04T03:02:01.000Z"


async def test_a_pooled_policy_cannot_sign_keys(client: httpx.AsyncClient, acme: Tenant) -> None:
    product = await factories.product(client, acme)
    body = {
        "data": {
            "type": "policies",
            "attributes": {"name": "Pooled", "usePool": True, "scheme": "ED25519_SIGN"},
            "relationships": {"product": factories.ref("products", product)},
        }
    }
    response = await client.post(f"{acme.base}/policies", json=body, headers=bearer(acme.key))
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["code"] == "SCHEME_NOT_SUPPORTED"
    assert error["source"] == {"pointer": "/data/attributes/scheme"}


async def test_a_signed_key_validates(client: httpx.AsyncClient, acme: Tenant) -> None:
    public = await _public_key(client, acme)
    policy = await factories.policy(client, acme, scheme="ED25519_SIGN")
    license = await factories.license(client, acme, policy)
    key = license["attributes"]["key"]
    target = f"{acme.base}/licenses/actions/validate-key"
    response = await client.post(target, json={"meta": {"key": key}})
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["meta"]["valid"] is True
    assert document["meta"]["code"] == "VALID"
    assert document["data"]["id"] == license["id"]
    _assert_signed(response, public, target, acme)

    # Any other key is no license.
    forged = await client.post(target, json={"meta": {"key": key.replace("key/", "key/A", 1)}})
    assert forged.json()["meta"]["code"] == "NOT_FOUND"
