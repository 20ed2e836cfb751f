"""Refusals that matter are in the event log (in batches): a deactivated, deleted, expired or
IP-refused API key used on Keyplane's API or presented to verify, and a wrong password."""

from __future__ import annotations

import base64

import httpx
from fastapi import FastAPI

from tests.events.support import logged
from tests.factories import PASSWORD, Tenant, api_key, bearer


async def test_a_deactivated_key_used_on_the_api(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    created = await api_key(client, acme, name="retired")
    url = f"{acme.base}/api-keys/{created['id']}"
    assert (await client.patch(url, json={"status": "inactive"}, headers=bearer(acme.key))).status_code == 200

    refused = await client.get(
        f"{acme.base}/api-keys", headers={**bearer(str(created["key"])), "X-Request-Id": "r-1"}
    )
    assert refused.status_code == 401
    # One id for the request: the caller's X-Request-Id, in the error body, the response and the event.
    assert refused.json()["requestId"] == "r-1"
    assert refused.headers["x-request-id"] == "r-1"

    [entry] = await logged(app, client, acme, "api-key.authentication.refused")
    assert entry["attributes"]["metadata"] == {"code": "INACTIVE"}
    assert entry["relationships"]["resource"]["data"] == {"type": "api-keys", "id": created["id"]}
    assert entry["relationships"]["whodunnit"]["data"] == {"type": "api-keys", "id": created["id"]}
    assert entry["relationships"]["request"]["data"]["id"] == "r-1"


async def test_an_ip_refused_key(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await api_key(client, acme, name="office", whitelistedIPs=["10.0.0.0/8"])

    refused = await client.get(f"{acme.base}/api-keys", headers=bearer(str(created["key"])))
    assert refused.status_code == 403

    [entry] = await logged(app, client, acme, "api-key.authentication.refused")
    assert entry["attributes"]["metadata"] == {"code": "IP_NOT_ALLOWED"}


async def test_a_deleted_key_presented_to_verify_each_time(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    created = await api_key(client, acme, name="gone")
    assert (
        await client.delete(f"{acme.base}/api-keys/{created['id']}", headers=bearer(acme.key))
    ).status_code == 204
    for _ in range(2):  # the second answer comes from memory
        verified = await client.post(
            f"{acme.base}/api-keys/verify", json={"key": created["key"]}, headers=bearer(acme.key)
        )
        assert verified.json()["code"] == "REVOKED"

    entries = await logged(app, client, acme, "api-key.verification.refused")
    assert len(entries) == 2
    for entry in entries:
        assert entry["attributes"]["metadata"] == {"code": "REVOKED"}
        assert entry["relationships"]["resource"]["data"] == {"type": "api-keys", "id": created["id"]}
        assert entry["relationships"]["whodunnit"]["data"]["type"] == "api-keys"


async def test_unknown_keys_and_valid_ones_are_not_noted(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    created = await api_key(client, acme, name="fine")
    for key in (str(created["key"]), "kp_" + "x" * 61):
        await client.post(f"{acme.base}/api-keys/verify", json={"key": key}, headers=bearer(acme.key))

    assert (
        await logged(app, client, acme, "api-key.verification.refused", "api-key.authentication.refused")
        == []
    )


async def test_a_wrong_password_is_noted_for_the_user(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    for password in ("wrong-password", PASSWORD):
        basic = base64.b64encode(f"{acme.admin_email}:{password}".encode()).decode()
        await client.post(f"{acme.base}/tokens", headers={"Authorization": f"Basic {basic}"})
    unknown = base64.b64encode(b"nobody@acme.test:whatever").decode()
    assert (
        await client.post(f"{acme.base}/tokens", headers={"Authorization": f"Basic {unknown}"})
    ).status_code == 401

    [entry] = await logged(app, client, acme, "user.sign-in.failed")
    assert entry["relationships"]["resource"]["data"] == {"type": "users", "id": str(acme.admin_id)}
    assert entry["relationships"]["whodunnit"] == {"data": None}
    [signed_in] = await logged(app, client, acme, "token.generated")
    assert signed_in["relationships"]["whodunnit"]["data"] == {"type": "users", "id": str(acme.admin_id)}
