"""License tokens (Keygen's activation tokens): issuing them, who may, and the machines they
activate and deactivate within their counts, under concurrency too (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer

FLOATING = {"floating": True, "maxMachines": 100}
KEYGEN_TOKENS = "keygen-api features/api/v1/licenses/relationships/tokens.feature"


async def _token(client: httpx.AsyncClient, acme: Tenant, license_id: str) -> dict[str, Any]:
    response = await client.get(f"{acme.base}/tokens", headers=bearer(acme.key))
    found = [t for t in response.json()["data"] if t["relationships"]["bearer"]["data"]["id"] == license_id]
    assert len(found) == 1
    token: dict[str, Any] = found[0]
    return token


async def _machines(client: httpx.AsyncClient, acme: Tenant, license_id: str) -> int:
    response = await client.get(
        f"{acme.base}/licenses/{license_id}/machines?limit=100", headers=bearer(acme.key)
    )
    return len(response.json()["data"])


async def test_admin_generates_an_activation_token(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (features/api/v1/licenses/relationships/tokens.feature, "Admin generates a
    license token"): 200, kind ``activation-token``, no expiry, null maxima, zero counts;
    app/serializers/token_serializer.rb: the bearer is the license."""
    license = await factories.license(client, acme)
    response = await client.post(f"{acme.base}/licenses/{license['id']}/tokens", headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    attributes = data["attributes"]
    assert attributes["kind"] == "activation-token"
    assert attributes["token"].startswith("kpt_")
    assert {k: attributes[k] for k in ("expiry", "maxActivations", "maxDeactivations")} == dict.fromkeys(
        ("expiry", "maxActivations", "maxDeactivations")
    )
    assert (attributes["activations"], attributes["deactivations"]) == (0, 0)
    assert data["relationships"]["bearer"]["data"] == {"type": "licenses", "id": license["id"]}
    # Listed and read again, never with its secret.
    listed = await client.get(f"{acme.base}/licenses/{license['id']}/tokens", headers=bearer(acme.key))
    assert [t["id"] for t in listed.json()["data"]] == [data["id"]]
    assert "token" not in listed.json()["data"][0]["attributes"]
    one = await client.get(
        f"{acme.base}/licenses/{license['id']}/tokens/{data['id']}", headers=bearer(acme.key)
    )
    assert one.status_code == 200
    assert one.json()["data"]["attributes"]["kind"] == "activation-token"
    assert (await _token(client, acme, license["id"]))["attributes"]["kind"] == "activation-token"
    # The event log has it.
    events = await client.get(f"{acme.base}/event-logs?limit=100", headers=bearer(acme.key))
    assert "token.generated" in [e["attributes"]["event"] for e in events.json()["data"]]


@pytest.mark.parametrize("name", ["maxActivations", "maxDeactivations"])
async def test_negative_maximum_is_422(client: httpx.AsyncClient, acme: Tenant, name: str) -> None:
    """Keygen (tokens.feature, "...with a negative max activation count"): 422
    ``MAX_ACTIVATIONS_INVALID``, "must be greater than or equal to 0"."""
    license = await factories.license(client, acme)
    body = {"data": {"type": "tokens", "attributes": {name: -1}}}
    response = await client.post(
        f"{acme.base}/licenses/{license['id']}/tokens", json=body, headers=bearer(acme.key)
    )
    code = "MAX_ACTIVATIONS_INVALID" if name == "maxActivations" else "MAX_DEACTIVATIONS_INVALID"
    error = jsonapi_error(response, 422, code)["errors"][0]
    assert error["detail"] == "must be greater than or equal to 0"
    assert error["source"] == {"pointer": f"/data/attributes/{name}"}
    listed = await client.get(f"{acme.base}/licenses/{license['id']}/tokens", headers=bearer(acme.key))
    assert listed.json()["data"] == []


async def test_unknown_attribute_is_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (tokens.feature, "...sends invalid attributes"): a bearer of one's choosing is 400."""
    license = await factories.license(client, acme)
    body = {"data": {"type": "tokens", "attributes": {"bearerId": str(acme.admin_id), "bearerType": "users"}}}
    response = await client.post(
        f"{acme.base}/licenses/{license['id']}/tokens", json=body, headers=bearer(acme.key)
    )
    assert response.status_code == 400, response.text


async def test_who_may_generate_and_read(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (app/policies/licenses/token_policy.rb; tokens.feature): admin, developer,
    sales agent and the license's product generate; support agents and read-only read; a
    user, even the owner, gets 403 on their license; another product's license is 404."""
    product = await factories.product(client, acme)
    policy = await factories.policy(client, acme, product)
    owner, owner_key = await factories.role_key(app, client, acme, "user")
    license = await factories.license(client, acme, policy, owner=owner)
    url = f"{acme.base}/licenses/{license['id']}/tokens"
    for role, create, read in (
        ("developer", 200, 200),
        ("sales-agent", 200, 200),
        ("support-agent", 403, 200),
        ("read-only", 403, 200),
    ):
        _, key = await factories.role_key(app, client, acme, role)
        assert (await client.post(url, headers=bearer(key))).status_code == create, role
        assert (await client.get(url, headers=bearer(key))).status_code == read, role
    jsonapi_error(await client.post(url, headers=bearer(owner_key)), 403, "ACCESS_DENIED")
    jsonapi_error(await client.get(url, headers=bearer(owner_key)), 403, "ACCESS_DENIED")
    mine = await factories.product_token(client, acme, product)
    assert (await client.post(url, headers=bearer(mine))).status_code == 200
    other = await factories.product_token(client, acme, await factories.product(client, acme))
    jsonapi_error(await client.post(url, headers=bearer(other)), 404, "NOT_FOUND")
    # A license token may not read its license's tokens either.
    token = (await factories.license_token(client, acme, license["id"]))["attributes"]["token"]
    jsonapi_error(await client.get(url, headers=bearer(token)), 403, "ACCESS_DENIED")


async def test_token_activates_and_deactivates_within_its_counts(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen (features/api/v1/machines/create.feature, "License creates a machine for a
    protected license" and "...hit their activation limit"; machines/destroy.feature,
    "...hit their deactivation limit"; app/controllers/api/v1/machines_controller.rb):
    a license token activates machines of its license, protected or not, and each counts;
    past ``maxActivations`` 422 ``ACTIVATIONS_LIMIT_EXCEEDED`` "exceeds maximum allowed (1)"
    on ``/data/attributes/activations``, and nothing is made; likewise deactivations."""
    license = await factories.license(client, acme, policy=FLOATING, protected=True)
    data = await factories.license_token(client, acme, license["id"], maxActivations=1, maxDeactivations=1)
    headers = bearer(data["attributes"]["token"])
    first = await factories.activate(client, acme, license["id"], "one", headers=headers)
    assert first.status_code == 201, first.text
    over = await factories.activate(client, acme, license["id"], "two", headers=headers)
    error = jsonapi_error(over, 422, "ACTIVATIONS_LIMIT_EXCEEDED")["errors"][0]
    assert error["detail"] == "exceeds maximum allowed (1)"
    assert error["title"] == "Unprocessable resource"
    assert error["source"] == {"pointer": "/data/attributes/activations"}
    assert await _machines(client, acme, license["id"]) == 1
    staff_made = await factories.machine(client, acme, license["id"], "staff")
    gone = await client.delete(f"{acme.base}/machines/{first.json()['data']['id']}", headers=headers)
    assert gone.status_code == 204, gone.text
    refused = await client.delete(f"{acme.base}/machines/{staff_made['id']}", headers=headers)
    error = jsonapi_error(refused, 422, "DEACTIVATIONS_LIMIT_EXCEEDED")["errors"][0]
    assert error["detail"] == "exceeds maximum allowed (1)"
    assert error["source"] == {"pointer": "/data/attributes/deactivations"}
    assert await _machines(client, acme, license["id"]) == 1
    counts = (await _token(client, acme, license["id"]))["attributes"]
    assert (counts["activations"], counts["deactivations"]) == (1, 1)


async def test_a_failed_activation_spends_nothing(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (machines/create.feature, "...with a duplicate fingerprint"): FINGERPRINT_TAKEN,
    and the token's activations stay 0; another license's machine is refused and counts
    nothing ("License creates a machine for another license")."""
    license = await factories.license(client, acme, policy=FLOATING)
    other = await factories.license(client, acme, policy=FLOATING)
    await factories.machine(client, acme, license["id"], "taken")
    data = await factories.license_token(client, acme, license["id"], maxActivations=1)
    headers = bearer(data["attributes"]["token"])
    jsonapi_error(
        await factories.activate(client, acme, license["id"], "taken", headers=headers),
        422,
        "FINGERPRINT_TAKEN",
    )
    refused = await factories.activate(client, acme, other["id"], "elsewhere", headers=headers)
    assert refused.status_code in (403, 404), refused.text
    assert (await _token(client, acme, license["id"]))["attributes"]["activations"] == 0
    assert (
        await factories.activate(client, acme, license["id"], "fresh", headers=headers)
    ).status_code == 201


async def test_policy_must_allow_token_authentication(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (machines/create.feature, "License activates a machine with a token (auth
    strategy not allowed)" and "(no auth strategy)"; app/controllers/concerns/authentication.rb):
    403 ``TOKEN_NOT_ALLOWED`` "Token authentication is not allowed by policy" under LICENSE or
    NONE; TOKEN and MIXED allow it."""
    for strategy, status in (("LICENSE", 403), ("NONE", 403), ("TOKEN", 201), ("MIXED", 201)):
        license = await factories.license(
            client, acme, policy={**FLOATING, "authenticationStrategy": strategy}
        )
        token = (await factories.license_token(client, acme, license["id"]))["attributes"]["token"]
        response = await factories.activate(client, acme, license["id"], headers=bearer(token))
        if status == 403:
            error = jsonapi_error(response, 403, "TOKEN_NOT_ALLOWED")["errors"][0]
            assert error["detail"] == "Token authentication is not allowed by policy"
        else:
            assert response.status_code == 201, (strategy, response.text)


async def test_token_reads_its_license_and_dies_with_it(client: httpx.AsyncClient, acme: Tenant) -> None:
    """A license token acts as its license (``GET /me`` is the license); deleting the license
    deletes its tokens; a revoked token is refused at once."""
    license = await factories.license(client, acme)
    token = (await factories.license_token(client, acme, license["id"]))["attributes"]["token"]
    me = await client.get(f"{acme.base}/me", headers=bearer(token))
    assert me.json()["data"]["id"] == license["id"]
    assert (await client.get(f"{acme.base}/licenses", headers=bearer(token))).json()["data"][0][
        "id"
    ] == license["id"]
    # Not a credential of the API-key surface.
    jsonapi_error(await client.get(f"{acme.base}/users", headers=bearer(token)), 403, "TOKEN_NOT_ALLOWED")
    second = await factories.license_token(client, acme, license["id"])
    revoked = await client.delete(f"{acme.base}/tokens/{second['id']}", headers=bearer(acme.key))
    assert revoked.status_code == 204
    jsonapi_error(
        await client.get(f"{acme.base}/me", headers=bearer(second["attributes"]["token"])),
        401,
        "TOKEN_REVOKED",
    )
    assert (
        await client.delete(f"{acme.base}/licenses/{license['id']}", headers=bearer(acme.key))
    ).status_code == 204
    jsonapi_error(await client.get(f"{acme.base}/me", headers=bearer(token)), 401, "TOKEN_INVALID")


@pytest.mark.parametrize("maximum", [1, 5])
async def test_concurrent_activations_stop_at_the_maximum(
    client: httpx.AsyncClient, acme: Tenant, maximum: int
) -> None:
    """Exactly ``maxActivations`` of many concurrent activations succeed; the rest are 422
    ``ACTIVATIONS_LIMIT_EXCEEDED`` (one conditional UPDATE of the count)."""
    license = await factories.license(client, acme, policy=FLOATING)
    data = await factories.license_token(client, acme, license["id"], maxActivations=maximum)
    headers = bearer(data["attributes"]["token"])
    responses = await asyncio.gather(
        *(factories.activate(client, acme, license["id"], f"fp-{n}", headers=headers) for n in range(16))
    )
    won = [r for r in responses if r.status_code == 201]
    assert len(won) == maximum
    for response in responses:
        if response.status_code != 201:
            jsonapi_error(response, 422, "ACTIVATIONS_LIMIT_EXCEEDED")
    assert await _machines(client, acme, license["id"]) == maximum
    assert (await _token(client, acme, license["id"]))["attributes"]["activations"] == maximum


async def test_concurrent_deactivations_stop_at_the_maximum(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Exactly ``maxDeactivations`` of many concurrent deactivations succeed."""
    license = await factories.license(client, acme, policy=FLOATING)
    machines = [await factories.machine(client, acme, license["id"], f"m-{n}") for n in range(8)]
    data = await factories.license_token(client, acme, license["id"], maxDeactivations=3)
    headers = bearer(data["attributes"]["token"])
    responses = await asyncio.gather(
        *(client.delete(f"{acme.base}/machines/{m['id']}", headers=headers) for m in machines)
    )
    assert sorted(r.status_code for r in responses) == [204] * 3 + [422] * 5
    assert await _machines(client, acme, license["id"]) == 5


async def test_named_token_with_an_expiry(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (tokens.feature, "Admin generates a named license token" and "...with a set
    expiry"): the name and expiry are kept as sent, even an expiry in the past (that token
    is then refused, 401 ``TOKEN_EXPIRED``)."""
    license = await factories.license(client, acme)
    data = await factories.license_token(
        client, acme, license["id"], name="Client Token", expiry="2016-10-05T22:53:37.000Z"
    )
    assert data["attributes"]["name"] == "Client Token"
    assert data["attributes"]["expiry"] == "2016-10-05T22:53:37.000Z"
    jsonapi_error(
        await client.get(f"{acme.base}/me", headers=bearer(data["attributes"]["token"])), 401, "TOKEN_EXPIRED"
    )
