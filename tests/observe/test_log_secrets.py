"""A realistic session against a live ``keyplane serve``, then its whole log output
searched for every secret it handled: passwords, API keys, tokens, access tokens, license
keys and fingerprints never appear, whatever the route, the error or the log level."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.exc import IntegrityError

from keyplane.observe.logs import JsonFormatter, TextFormatter
from keyplane.services import services_of
from tests import live
from tests.factories import bearer, document

PASSWORD = "a long password, never logged"
LICENSE_KEY = "LOGSCAN-LICENSE-0001-XYZW"
FINGERPRINT = "fp-logscan-4c1d-9e2f-77aa"
J = {"Content-Type": "application/vnd.api+json"}


def _session(base: str, admin: str, email: str) -> tuple[list[str], int]:
    """Everything a vendor, its backend and its customers' apps do; (the secrets it
    handled, the number of requests made)."""
    made = 0

    def call(method: str, path: str, **options: Any) -> httpx.Response:
        nonlocal made
        made += 1
        return httpx.request(method, base + path, timeout=30, **options)

    secrets = [admin, PASSWORD, LICENSE_KEY, FINGERPRINT]
    signed_in = call("POST", "/v1/tokens", auth=(email, PASSWORD))
    assert signed_in.status_code == 201, signed_in.text
    secrets.append(signed_in.json()["data"]["attributes"]["token"])
    assert call("POST", "/v1/tokens", auth=(email, PASSWORD + "x")).status_code == 401
    created = call("POST", "/v1/api-keys", json={"name": "backend"}, headers=bearer(admin))
    assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], created.json()["id"]
    secrets.append(key)
    for _ in range(3):
        verified = call("POST", "/v1/api-keys/verify", json={"key": key}, headers=bearer(admin))
        assert verified.json()["code"] == "VALID", verified.text
    assert call("GET", f"/v1/api-keys/{key_id}", headers={"X-API-Key": key}).status_code == 200
    traded = call(
        "POST",
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": key_id, "client_secret": key},
    )
    assert traded.status_code == 200, traded.text
    secrets.append(traded.json()["access_token"])
    assert call("GET", "/v1/api-keys", headers=bearer(traded.json()["access_token"])).status_code == 200
    product = call(
        "POST",
        "/v1/products",
        json=document("products", {"name": "App"}),
        headers=bearer(admin) | J,
    )
    assert product.status_code == 201, product.text
    policy = call(
        "POST",
        "/v1/policies",
        json=document(
            "policies",
            {"name": "Pro", "authenticationStrategy": "LICENSE", "maxMachines": 2, "floating": True},
            product=product.json()["data"]["id"],
        ),
        headers=bearer(admin) | J,
    )
    assert policy.status_code == 201, policy.text
    license = call(
        "POST",
        "/v1/licenses",
        json=document("licenses", {"key": LICENSE_KEY}, policy=policy.json()["data"]["id"]),
        headers=bearer(admin) | J,
    )
    assert license.status_code == 201, license.text
    license_id = license.json()["data"]["id"]
    for _ in range(3):
        valid = call(
            "POST", "/v1/licenses/actions/validate-key", json={"meta": {"key": LICENSE_KEY}}, headers=J
        )
        assert valid.json()["meta"]["code"] == "VALID", valid.text
    assert call("GET", f"/v1/licenses/{LICENSE_KEY}", headers=bearer(admin)).status_code == 200
    as_license = {"Authorization": f"License {LICENSE_KEY}"} | J
    activated = call(
        "POST",
        "/v1/machines",
        json=document("machines", {"fingerprint": FINGERPRINT}, license=license_id),
        headers=as_license,
    )
    assert activated.status_code == 201, activated.text
    assert call("GET", f"/v1/machines/{FINGERPRINT}", headers=bearer(admin)).status_code == 200
    assert call("POST", f"/v1/licenses/{LICENSE_KEY}/actions/validate", headers=as_license).status_code == 200
    # Errors, with the secret in the path, the body or a header.
    assert call("GET", f"/v1/licenses/{LICENSE_KEY}-NOPE", headers=bearer(admin)).status_code == 404
    assert call("GET", f"/v1/nowhere/{LICENSE_KEY}/{FINGERPRINT}").status_code == 404
    assert (
        call("POST", "/v1/api-keys/verify", json={"key": key + "x"}, headers=bearer(admin)).status_code == 200
    )
    assert call("GET", "/v1/api-keys", headers=bearer(key[:-1] + "0")).status_code == 401
    assert (
        call(
            "POST", "/v1/machines", content=b"{not json " + FINGERPRINT.encode(), headers=as_license
        ).status_code
        == 400
    )
    assert call("GET", "/v1/api-keys", headers={"X-Request-Id": key}).status_code == 401
    return secrets, made


def test_no_secret_in_the_log_of_a_session(database_url: str, tmp_path: Path) -> None:
    env = live.environment(database_url, "logscan-server-secret-" + "s" * 32, tmp_path, log_level="debug")
    email = "owner@logscan.test"
    made = live.init(env, "logscan", email, PASSWORD)
    log = tmp_path / "serve.log"
    try:
        with live.serve(env, log) as base:
            secrets, requests = _session(base, made["apiKey"], email)
        text = log.read_text()
    finally:
        asyncio.run(live.empty(database_url))
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:6]}...) is in the log"
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [record for record in records if record["logger"] == "keyplane.access"]
    # One line per request (and the readiness polls of ``live.serve``).
    assert len([line for line in access if line["route"] != "/v1/ping"]) == requests
    assert {
        "/v1/licenses/{license}",
        "/v1/machines/{machine}",
        "/v1/licenses/{license}/actions/validate",
    } <= {line["route"] for line in access}


async def test_a_database_error_in_a_log_record_quotes_no_stored_value(app: FastAPI) -> None:
    """A unique violation's text on PostgreSQL quotes the row (``DETAIL: Key (key)=(...)``);
    a crash record that carries it leaves that line out, on either database."""
    value = "LOGSCAN-UNIQUE-" + "9" * 16
    scratch = Table("logscan_unique", MetaData(), Column("key", String, unique=True))
    database = services_of(app).db
    async with database.engine.begin() as connection:
        await connection.run_sync(scratch.create)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(scratch.insert(), [{"key": value}])
        with pytest.raises(IntegrityError) as raised:
            async with database.engine.begin() as connection:
                await connection.execute(scratch.insert(), [{"key": value}])
    finally:
        async with database.engine.begin() as connection:
            await connection.run_sync(scratch.drop)
    record = logging.LogRecord("keyplane", logging.ERROR, __file__, 1, "request.crashed", None, None)
    record.exc_info = (raised.type, raised.value, raised.tb)

    for formatter in (JsonFormatter(), TextFormatter()):
        text = formatter.format(record)
        assert "IntegrityError" in text
        assert value not in text
