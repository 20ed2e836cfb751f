"""Who may do what with machines (Keygen's permission table), license-key authentication,
and tenant isolation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer


def _as_license(key: str) -> dict[str, str]:
    return {"Authorization": f"License {key}"}


_PATCH = {"data": {"type": "machines", "attributes": {"name": "Renamed"}}}
FLOATING: dict[str, Any] = {"floating": True, "maxMachines": 10}
"""The policy attributes these tests start from: room for every machine they activate."""


async def _all(client: httpx.AsyncClient, account: Tenant) -> set[str]:
    response = await client.get(f"{account.base}/machines?limit=100", headers=bearer(account.key))
    assert response.status_code == 200
    return {item["attributes"]["fingerprint"] for item in response.json()["data"]}


async def _name(client: httpx.AsyncClient, account: Tenant, machine: str) -> str | None:
    response = await client.get(f"{account.base}/machines/{machine}", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    name: str | None = response.json()["data"]["attributes"]["name"]
    return name


def _denied(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["title"] == "Access denied"


# -- staff ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "create", "update", "delete"),
    [
        ("admin", 201, 200, 204),
        ("developer", 201, 200, 204),
        ("sales-agent", 201, 200, 204),
        ("support-agent", 403, 403, 403),
        ("read-only", 403, 403, 403),
    ],
)
async def test_staff_roles(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str, create: int, update: int, delete: int
) -> None:
    _, key = await factories.role_key(app, client, acme, role)
    license_id = (
        await factories.license(
            client, acme, policy={**FLOATING, "requireHeartbeat": True, "heartbeatBasis": "FROM_FIRST_PING"}
        )
    )["id"]
    existing = (await factories.machine(client, acme, license_id, "existing"))["id"]
    url = f"{acme.base}/machines/{existing}"

    # Every staff role reads everything.
    listed = await client.get(f"{acme.base}/machines", headers=bearer(key))
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["data"]] == [existing]
    for path in (
        url,
        f"{acme.base}/machines/existing",
        f"{url}/license",
        f"{acme.base}/licenses/{license_id}/machines",
    ):
        assert (await client.get(path, headers=bearer(key))).status_code == 200, path

    created = await factories.activate(client, acme, license_id, "new", credential=key)
    assert created.status_code == create, created.text
    if create == 403:
        _denied(created)
    assert await _all(client, acme) == ({"existing", "new"} if create == 201 else {"existing"})

    patched = await client.patch(url, json=_PATCH, headers=bearer(key))
    assert patched.status_code == update, patched.text
    assert await _name(client, acme, existing) == ("Renamed" if update == 200 else None)

    pinged = await client.post(f"{url}/actions/ping", headers=bearer(key))
    assert pinged.status_code == update, pinged.text
    shown = await client.get(url, headers=bearer(acme.key))
    assert shown.json()["data"]["attributes"]["heartbeatStatus"] == (
        "ALIVE" if update == 200 else "NOT_STARTED"
    )

    deleted = await client.delete(url, headers=bearer(key))
    assert deleted.status_code == delete, deleted.text
    still_there = (await client.get(url, headers=bearer(acme.key))).status_code
    assert still_there == (404 if delete == 204 else 200)


# -- product tokens ------------------------------------------------------------------------


async def test_product_token_manages_its_own_products_machines(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    mine_product = await factories.product(client, acme)
    other_product = await factories.product(client, acme)
    token = await factories.product_token(client, acme, mine_product)
    mine_policy = await factories.policy(client, acme, mine_product, **FLOATING)
    other_policy = await factories.policy(client, acme, other_product, **FLOATING)
    mine = (await factories.license(client, acme, mine_policy))["id"]
    theirs = (await factories.license(client, acme, other_policy))["id"]
    their_machine = (await factories.machine(client, acme, theirs, "theirs"))["id"]

    created = await factories.activate(client, acme, mine, "mine", credential=token)
    assert created.status_code == 201, created.text
    machine = created.json()["data"]["id"]
    url = f"{acme.base}/machines/{machine}"
    assert (await client.get(url, headers=bearer(token))).status_code == 200
    listed = await client.get(f"{acme.base}/machines", headers=bearer(token))
    assert [item["id"] for item in listed.json()["data"]] == [machine]
    assert (await client.patch(url, json=_PATCH, headers=bearer(token))).status_code == 200
    assert (await client.post(f"{url}/actions/ping", headers=bearer(token))).status_code == 200

    # Another product's license: 403 to activate on (and the same for a made-up id).
    _denied(await factories.activate(client, acme, theirs, "sneaky", credential=token))
    _denied(await factories.activate(client, acme, str(uuid.uuid4()), "sneaky", credential=token))
    # Another product's machines do not exist for this token.
    their_url = f"{acme.base}/machines/{their_machine}"
    for response in (
        await client.get(their_url, headers=bearer(token)),
        await client.get(f"{acme.base}/machines/theirs", headers=bearer(token)),
        await client.patch(their_url, json=_PATCH, headers=bearer(token)),
        await client.post(f"{their_url}/actions/ping", headers=bearer(token)),
        await client.delete(their_url, headers=bearer(token)),
        await client.get(f"{acme.base}/licenses/{theirs}/machines", headers=bearer(token)),
    ):
        jsonapi_error(response, 404, "NOT_FOUND")
    assert await _name(client, acme, their_machine) is None
    assert await _all(client, acme) == {"mine", "theirs"}

    assert (await client.delete(url, headers=bearer(token))).status_code == 204
    assert await _all(client, acme) == {"theirs"}


# -- users ---------------------------------------------------------------------------------


async def test_user_activates_on_their_own_license(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    user_id, key = await factories.role_key(app, client, acme, "user")
    other_id = await factories.user(app, acme)
    policy_id = await factories.policy(client, acme, **FLOATING)
    mine = (await factories.license(client, acme, policy_id, owner=user_id))["id"]
    theirs = (await factories.license(client, acme, policy_id, owner=str(other_id)))["id"]
    unowned = (await factories.license(client, acme, policy_id))["id"]
    their_machine = (await factories.machine(client, acme, theirs, "theirs"))["id"]

    created = await factories.activate(client, acme, mine, "mine", credential=key)
    assert created.status_code == 201, created.text
    machine = created.json()["data"]["id"]
    # Activating does not make the user the machine's owner (Keygen's app/models/machine.rb).
    assert created.json()["data"]["relationships"]["owner"]["data"] is None
    url = f"{acme.base}/machines/{machine}"
    assert (await client.get(url, headers=bearer(key))).status_code == 200
    listed = await client.get(f"{acme.base}/machines", headers=bearer(key))
    assert [item["id"] for item in listed.json()["data"]] == [machine]
    assert (await client.get(f"{acme.base}/licenses/{mine}/machines", headers=bearer(key))).status_code == 200
    assert (await client.patch(url, json=_PATCH, headers=bearer(key))).status_code == 200
    assert (await client.post(f"{url}/actions/ping", headers=bearer(key))).status_code == 200

    # Someone else's license (or nobody's) is not theirs to activate on.
    _denied(await factories.activate(client, acme, theirs, "sneaky", credential=key))
    _denied(await factories.activate(client, acme, unowned, "sneaky", credential=key))
    their_url = f"{acme.base}/machines/{their_machine}"
    for response in (
        await client.get(their_url, headers=bearer(key)),
        await client.patch(their_url, json=_PATCH, headers=bearer(key)),
        await client.post(f"{their_url}/actions/ping", headers=bearer(key)),
        await client.delete(their_url, headers=bearer(key)),
        await client.get(f"{acme.base}/licenses/{theirs}/machines", headers=bearer(key)),
    ):
        jsonapi_error(response, 404, "NOT_FOUND")
    assert await _all(client, acme) == {"mine", "theirs"}

    assert (await client.delete(url, headers=bearer(key))).status_code == 204
    assert await _all(client, acme) == {"theirs"}


@pytest.mark.parametrize("where", ["license", "policy"])
async def test_user_may_not_touch_machines_of_a_protected_license(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, where: str
) -> None:
    user_id, key = await factories.role_key(app, client, acme, "user")
    policy_id = await factories.policy(client, acme, **FLOATING, protected=where == "policy")
    extra: dict[str, Any] = {"protected": True} if where == "license" else {}
    license_id = (await factories.license(client, acme, policy_id, owner=user_id, **extra))["id"]
    existing = (await factories.machine(client, acme, license_id, "staff-made"))["id"]

    _denied(await factories.activate(client, acme, license_id, "mine", credential=key))
    assert await _all(client, acme) == {"staff-made"}
    url = f"{acme.base}/machines/{existing}"
    assert (await client.get(url, headers=bearer(key))).status_code == 200
    _denied(await client.patch(url, json=_PATCH, headers=bearer(key)))
    _denied(await client.delete(url, headers=bearer(key)))
    assert await _all(client, acme) == {"staff-made"}


# -- licenses authenticating with their key ------------------------------------------------


@pytest.mark.parametrize("strategy", ["LICENSE", "MIXED"])
async def test_license_key_manages_its_own_machines(
    client: httpx.AsyncClient, acme: Tenant, strategy: str
) -> None:
    policy_id = await factories.policy(
        client, acme, **FLOATING, authenticationStrategy=strategy, requireHeartbeat=True
    )
    license = await factories.license(client, acme, policy_id)
    other = await factories.license(client, acme, policy_id)
    headers = _as_license(license["attributes"]["key"])
    their_machine = (await factories.machine(client, acme, other["id"], "theirs"))["id"]

    created = await factories.activate(client, acme, license["id"], "mine", headers=headers)
    assert created.status_code == 201, created.text
    machine = created.json()["data"]["id"]
    url = f"{acme.base}/machines/{machine}"

    shown = await client.get(url, headers=headers)
    assert shown.status_code == 200
    assert shown.json()["data"]["attributes"]["fingerprint"] == "mine"
    assert (await client.get(f"{acme.base}/machines/mine", headers=headers)).status_code == 200
    listed = await client.get(f"{acme.base}/machines", headers=headers)
    assert [item["id"] for item in listed.json()["data"]] == [machine]
    related = await client.get(f"{acme.base}/licenses/{license['id']}/machines", headers=headers)
    assert [item["id"] for item in related.json()["data"]] == [machine]
    own_license = await client.get(f"{url}/license", headers=headers)
    assert own_license.json()["data"]["id"] == license["id"]
    pinged = await client.post(f"{url}/actions/ping", headers=headers)
    assert pinged.status_code == 200, pinged.text
    assert pinged.json()["data"]["attributes"]["heartbeatStatus"] == "ALIVE"
    assert (await client.patch(url, json=_PATCH, headers=headers)).status_code == 200

    # Another license's machines do not exist for it; nor may it activate on that license.
    their_url = f"{acme.base}/machines/{their_machine}"
    for response in (
        await client.get(their_url, headers=headers),
        await client.get(f"{acme.base}/machines/theirs", headers=headers),
        await client.patch(their_url, json=_PATCH, headers=headers),
        await client.post(f"{their_url}/actions/ping", headers=headers),
        await client.delete(their_url, headers=headers),
        await client.get(f"{acme.base}/licenses/{other['id']}/machines", headers=headers),
    ):
        jsonapi_error(response, 404, "NOT_FOUND")
    _denied(await factories.activate(client, acme, other["id"], "sneaky", headers=headers))
    assert await _all(client, acme) == {"mine", "theirs"}

    deleted = await client.delete(url, headers=headers)
    assert deleted.status_code == 204, deleted.text
    jsonapi_error(await client.get(url, headers=headers), 404, "NOT_FOUND")
    assert await _all(client, acme) == {"theirs"}


async def test_license_key_works_on_the_bare_v1_routes(client: httpx.AsyncClient, acme: Tenant) -> None:
    """keygen-sdk and keygen-py call ``/v1/machines`` with the account in the header or
    implied; here the account segment is kept, as the client docs advise for local hosts."""
    policy_id = await factories.policy(client, acme, **FLOATING, authenticationStrategy="LICENSE")
    license = await factories.license(client, acme, policy_id)
    headers = _as_license(license["attributes"]["key"])
    created = await client.post(
        f"/v1/accounts/{acme.id}/machines",
        json=factories.document("machines", {"fingerprint": "fp"}, license=license["id"]),
        headers=headers,
    )
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("where", ["license", "policy"])
async def test_protected_license_key_may_not_activate(
    client: httpx.AsyncClient, acme: Tenant, where: str
) -> None:
    policy_id = await factories.policy(
        client, acme, **FLOATING, authenticationStrategy="LICENSE", protected=where == "policy"
    )
    extra: dict[str, Any] = {"protected": True} if where == "license" else {}
    license = await factories.license(client, acme, policy_id, **extra)
    headers = _as_license(license["attributes"]["key"])
    _denied(await factories.activate(client, acme, license["id"], "mine", headers=headers))
    assert await _all(client, acme) == set()
    # Staff still may; the license then reads it but may not deactivate it.
    machine = (await factories.machine(client, acme, license["id"], "staff-made"))["id"]
    assert (await client.get(f"{acme.base}/machines/{machine}", headers=headers)).status_code == 200
    _denied(await client.delete(f"{acme.base}/machines/{machine}", headers=headers))
    assert await _all(client, acme) == {"staff-made"}


async def test_token_strategy_refuses_license_keys(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, **FLOATING, authenticationStrategy="TOKEN")
    license = await factories.license(client, acme, policy_id)
    machine = (await factories.machine(client, acme, license["id"], "staff-made"))["id"]
    headers = _as_license(license["attributes"]["key"])
    for response in (
        await factories.activate(client, acme, license["id"], "mine", headers=headers),
        await client.get(f"{acme.base}/machines/{machine}", headers=headers),
        await client.delete(f"{acme.base}/machines/{machine}", headers=headers),
    ):
        jsonapi_error(response, 403, "LICENSE_NOT_ALLOWED")
    assert await _all(client, acme) == {"staff-made"}


async def test_unknown_license_key_is_401(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, **FLOATING, authenticationStrategy="LICENSE")
    license = await factories.license(client, acme, policy_id)
    headers = _as_license("NOT-A-REAL-KEY")
    jsonapi_error(
        await factories.activate(client, acme, license["id"], "fp", headers=headers), 401, "LICENSE_INVALID"
    )
    jsonapi_error(await client.get(f"{acme.base}/machines", headers=headers), 401, "LICENSE_INVALID")
    assert await _all(client, acme) == set()


async def test_suspended_license_key_is_refused(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, **FLOATING, authenticationStrategy="LICENSE")
    license = await factories.license(client, acme, policy_id, suspended=True)
    response = await factories.activate(
        client, acme, license["id"], "fp", headers=_as_license(license["attributes"]["key"])
    )
    jsonapi_error(response, 403, "LICENSE_SUSPENDED")
    assert await _all(client, acme) == set()


# -- no credential, other accounts ---------------------------------------------------------


async def test_no_credential_is_401(client: httpx.AsyncClient, acme: Tenant) -> None:
    license_id = (await factories.license(client, acme, policy=FLOATING))["id"]
    machine = (await factories.machine(client, acme, license_id, "fp"))["id"]
    url = f"{acme.base}/machines/{machine}"
    for response in (
        await factories.activate(client, acme, license_id, "anon", headers={}),
        await client.get(f"{acme.base}/machines"),
        await client.get(url),
        await client.patch(url, json=_PATCH),
        await client.post(f"{url}/actions/ping"),
        await client.delete(url),
    ):
        jsonapi_error(response, 401, "TOKEN_MISSING")
    assert await _all(client, acme) == {"fp"}


async def test_other_accounts_credentials_are_invalid_here(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    globex = await factories.tenant(app, "globex")
    license_id = (await factories.license(client, acme, policy=FLOATING))["id"]
    machine = (await factories.machine(client, acme, license_id, "fp"))["id"]
    url = f"{acme.base}/machines/{machine}"
    for response in (
        await factories.activate(client, acme, license_id, "foreign", credential=globex.key),
        await client.get(url, headers=bearer(globex.key)),
        await client.delete(url, headers=bearer(globex.key)),
    ):
        jsonapi_error(response, 401, "TOKEN_INVALID")
    assert await _all(client, acme) == {"fp"}


async def test_tenants_see_only_their_own_machines(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    globex = await factories.tenant(app, "globex")
    acme_license = (await factories.license(client, acme, policy=FLOATING))["id"]
    globex_license = (await factories.license(client, globex, policy=FLOATING))["id"]
    acme_machine = (await factories.machine(client, acme, acme_license, "shared-fp"))["id"]
    globex_machine = (await factories.machine(client, globex, globex_license, "shared-fp"))["id"]

    # Through their own account path, nothing of the other account exists.
    for response in (
        await client.get(f"{globex.base}/machines/{acme_machine}", headers=bearer(globex.key)),
        await client.delete(f"{globex.base}/machines/{acme_machine}", headers=bearer(globex.key)),
        await client.post(f"{globex.base}/machines/{acme_machine}/actions/ping", headers=bearer(globex.key)),
        await client.get(f"{globex.base}/licenses/{acme_license}/machines", headers=bearer(globex.key)),
    ):
        jsonapi_error(response, 404, "NOT_FOUND")
    by_fingerprint = await client.get(f"{globex.base}/machines/shared-fp", headers=bearer(globex.key))
    assert by_fingerprint.json()["data"]["id"] == globex_machine
    listed = await client.get(f"{globex.base}/machines", headers=bearer(globex.key))
    assert [item["id"] for item in listed.json()["data"]] == [globex_machine]
    filtered = await client.get(f"{globex.base}/machines?license={acme_license}", headers=bearer(globex.key))
    assert filtered.json()["data"] == []

    # Activating on the other account's license: that license does not exist here.
    response = await factories.activate(client, globex, acme_license, "cross", credential=globex.key)
    jsonapi_error(response, 422, "LICENSE_NOT_FOUND")
    assert await _all(client, acme) == {"shared-fp"}
    assert await _all(client, globex) == {"shared-fp"}
