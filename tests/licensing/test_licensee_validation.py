"""A license's users (its owner and its licensees) in validation, on SQLite and PostgreSQL:
the ``user`` scope names any of them, machines' owners are held to it, ``maxUsers`` gives
``TOO_MANY_USERS`` by the policy's overage strategy, the users count shows in the license's
``users`` relationship, and a license's owner and its machines' owners are license users.

Keygen's files: app/services/license_validation_service.rb (the ``user`` scope, the machine
and fingerprint owner checks, ``TOO_MANY_USERS``), app/models/license.rb (``users``,
``users_count``, the owner checks), app/models/machine.rb ("must be a valid license user"),
app/serializers/license_serializer.rb (the ``users`` relationship),
features/api/v1/licenses/actions/validations.feature,
features/api/v1/licenses/relationships/owner.feature and users.feature."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer
from tests.licensing.test_validation import fetch, validate, validate_key


async def _attach(client: httpx.AsyncClient, acme: Tenant, license_id: str, *ids: object) -> None:
    body = {"data": [{"type": "users", "id": str(user_id)} for user_id in ids]}
    response = await client.post(
        f"{acme.base}/licenses/{license_id}/users", json=body, headers=bearer(acme.key)
    )
    assert response.status_code == 200, response.text


async def _meta(client: httpx.AsyncClient, acme: Tenant, license_id: str, **scope: Any) -> dict[str, Any]:
    meta: dict[str, Any] = await validate(client, acme, license_id, scope=scope)
    return dict(meta["meta"])


async def _licensed(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, **policy: Any
) -> tuple[dict[str, Any], uuid.UUID, uuid.UUID]:
    """A license with an owner and one licensee, whose emails are ``owner-<tag>@example.test``
    and ``licensee-<tag>@example.test`` (``tag`` in the license's metadata)."""
    tag = uuid.uuid4().hex[:8]
    owner = await factories.user(app, acme, email=f"owner-{tag}@example.test")
    licensee = await factories.user(app, acme, email=f"licensee-{tag}@example.test")
    license = await factories.license(client, acme, policy=policy, owner=str(owner), metadata={"tag": tag})
    await _attach(client, acme, license["id"], licensee)
    return license, owner, licensee


async def test_user_scope_names_the_owner_or_a_licensee(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """license_validation_service.rb: ``license.owner_id == user`` or ``license.users`` has
    one by id or email; anyone else is ``USER_SCOPE_MISMATCH``. validate-key (the cached
    path) answers the same, and attaching a user changes its answer at once."""
    license, owner, licensee = await _licensed(app, client, acme)
    tag = license["attributes"]["metadata"]["tag"]
    emails = [f"owner-{tag}@example.test", f"licensee-{tag}@example.test", f"LICENSEE-{tag}@example.test"]
    for user in (str(owner), str(licensee), *emails):
        meta = await _meta(client, acme, license["id"], user=user)
        assert (meta["valid"], meta["code"]) == (True, "VALID"), user
    stranger = await factories.user(app, acme)
    meta = await _meta(client, acme, license["id"], user=str(stranger))
    assert (meta["valid"], meta["code"], meta["detail"]) == (
        False,
        "USER_SCOPE_MISMATCH",
        "user scope does not match",
    )

    key = license["attributes"]["key"]
    before = await validate_key(client, acme, key, scope={"user": str(stranger)})
    assert before["meta"]["code"] == "USER_SCOPE_MISMATCH"
    await _attach(client, acme, license["id"], stranger)
    after = await validate_key(client, acme, key, scope={"user": str(stranger)})
    assert (after["meta"]["valid"], after["meta"]["code"]) == (True, "VALID")


async def test_machine_scope_holds_the_machine_owner_to_the_user(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """license_validation_service.rb, machine scope: with a ``user`` scope, a machine that has
    an owner must be that user's ("user scope does not match (does not match associated
    machine owner)"); a machine without an owner matches any license user."""
    license, owner, licensee = await _licensed(app, client, acme, floating=True, maxMachines=5)
    owned = await factories.machine(client, acme, license["id"], owner=str(licensee))
    nobody = await factories.machine(client, acme, license["id"])
    meta = await _meta(client, acme, license["id"], machine=owned["id"], user=str(licensee))
    assert (meta["valid"], meta["code"]) == (True, "VALID")
    meta = await _meta(client, acme, license["id"], machine=owned["id"], user=str(owner))
    assert (meta["valid"], meta["code"], meta["detail"]) == (
        False,
        "USER_SCOPE_MISMATCH",
        "user scope does not match (does not match associated machine owner)",
    )
    meta = await _meta(client, acme, license["id"], machine=nobody["id"], user=str(owner))
    assert (meta["valid"], meta["code"]) == (True, "VALID")
    meta = await _meta(client, acme, license["id"], machine=owned["id"])
    assert (meta["valid"], meta["code"]) == (True, "VALID")


async def test_fingerprint_scope_holds_machine_owners_to_the_user(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """license_validation_service.rb, fingerprint scope: every matched live machine is the
    user's or nobody's ("user scope does not match (does not match associated machine
    owners)"), the same answer on validate-key."""
    license, owner, licensee = await _licensed(app, client, acme, floating=True, maxMachines=5)
    await factories.machine(client, acme, license["id"], "fp-licensee", owner=str(licensee))
    await factories.machine(client, acme, license["id"], "fp-nobody")
    for fingerprint, user, code in (
        ("fp-licensee", licensee, "VALID"),
        ("fp-nobody", owner, "VALID"),
        ("fp-licensee", owner, "USER_SCOPE_MISMATCH"),
    ):
        meta = await _meta(client, acme, license["id"], fingerprint=fingerprint, user=str(user))
        assert meta["code"] == code, (fingerprint, user)
    meta = await _meta(
        client, acme, license["id"], fingerprints=["fp-licensee", "fp-nobody"], user=str(owner)
    )
    assert meta["detail"] == "user scope does not match (does not match associated machine owners)"
    lean = await validate_key(
        client, acme, license["attributes"]["key"], scope={"fingerprint": "fp-licensee", "user": str(owner)}
    )
    assert (lean["meta"]["valid"], lean["meta"]["code"], lean["meta"]["detail"]) == (
        False,
        "USER_SCOPE_MISMATCH",
        "user scope does not match (does not match associated machine owners)",
    )


@pytest.mark.parametrize(
    ("overage", "users", "valid"),
    [
        ("NO_OVERAGE", 3, False),
        ("ALLOW_1_25X_OVERAGE", 3, False),
        ("ALLOW_1_5X_OVERAGE", 3, True),
        ("ALLOW_1_5X_OVERAGE", 4, False),
        ("ALLOW_2X_OVERAGE", 4, True),
        ("ALLOW_2X_OVERAGE", 5, False),
        ("ALWAYS_ALLOW_OVERAGE", 5, True),
    ],
)
async def test_too_many_users(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, overage: str, users: int, valid: bool
) -> None:
    """license_validation_service.rb: ``users_count`` (the licensees and the owner) past
    ``maxUsers`` is ``TOO_MANY_USERS`` ("has too many associated users"), valid only within the
    policy's overage; the quick validation and validate-key answer it too. The limit is lowered
    on the license after the users were attached (as an admin may)."""
    owner, *others = [await factories.user(app, acme) for _ in range(users)]
    policy = {"overageStrategy": overage}
    license = await factories.license(client, acme, policy=policy, owner=str(owner), maxUsers=users)
    await _attach(client, acme, license["id"], *others)
    meta = await _meta(client, acme, license["id"])
    assert (meta["valid"], meta["code"]) == (True, "VALID")
    lowered = {"data": {"type": "licenses", "attributes": {"maxUsers": 2}}}
    changed = await client.patch(
        f"{acme.base}/licenses/{license['id']}", json=lowered, headers=bearer(acme.key)
    )
    assert changed.status_code == 200, changed.text
    meta = await _meta(client, acme, license["id"])
    assert (meta["valid"], meta["code"], meta["detail"]) == (
        valid,
        "TOO_MANY_USERS",
        "has too many associated users",
    )
    quick = await client.get(
        f"{acme.base}/licenses/{license['id']}/actions/validate", headers=bearer(acme.key)
    )
    assert (quick.json()["meta"]["valid"], quick.json()["meta"]["code"]) == (valid, "TOO_MANY_USERS")
    lean = await validate_key(client, acme, license["attributes"]["key"])
    assert (lean["meta"]["valid"], lean["meta"]["code"]) == (valid, "TOO_MANY_USERS")


async def test_too_many_users_comes_after_scopes_and_before_machines(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """license_validation_service.rb's order: a failed scope answers first; ``TOO_MANY_USERS``
    comes before a strict policy's ``NO_MACHINE``."""
    license, _, _ = await _licensed(app, client, acme, strict=True, requireUserScope=True)
    lowered = {"data": {"type": "licenses", "attributes": {"maxUsers": 1}}}
    changed = await client.patch(
        f"{acme.base}/licenses/{license['id']}", json=lowered, headers=bearer(acme.key)
    )
    assert changed.status_code == 200, changed.text
    assert (await _meta(client, acme, license["id"]))["code"] == "USER_SCOPE_REQUIRED"
    stranger = await factories.user(app, acme)
    assert (await _meta(client, acme, license["id"], user=str(stranger)))["code"] == "USER_SCOPE_MISMATCH"
    users = await client.get(f"{acme.base}/licenses/{license['id']}/users", headers=bearer(acme.key))
    some = users.json()["data"][0]["id"]
    assert (await _meta(client, acme, license["id"], user=some))["code"] == "TOO_MANY_USERS"


async def test_users_count_in_the_license(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """license_serializer.rb: ``relationships.users`` links to the license's users, with
    ``meta.count`` its ``users_count`` (licensees plus the owner)."""
    ownerless = await factories.license(client, acme)
    users = ownerless["relationships"]["users"]
    assert users["meta"] == {"count": 0}
    assert users["links"]["related"] == f"/v1/accounts/{acme.id}/licenses/{ownerless['id']}/users"
    license, _, _ = await _licensed(app, client, acme)
    assert (await fetch(client, acme, license["id"]))["relationships"]["users"]["meta"] == {"count": 2}
    await _attach(client, acme, license["id"], await factories.user(app, acme))
    assert (await fetch(client, acme, license["id"]))["relationships"]["users"]["meta"] == {"count": 3}


async def test_owner_change_counts_toward_max_users(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """owner.feature "Admin attaches an owner to a license with a max users limit (NO_OVERAGE,
    exceeds limit)": 422 ``USER_LIMIT_EXCEEDED`` at ``/data/relationships/users``; within the
    limit 200. license.rb: a licensee cannot become the owner too (422 ``OWNER_INVALID``,
    "already exists (user is attached through users)")."""
    first, second, third = [await factories.user(app, acme) for _ in range(3)]
    license = await factories.license(client, acme, maxUsers=2)
    await _attach(client, acme, license["id"], first, second)
    url = f"{acme.base}/licenses/{license['id']}/owner"

    def owner(user_id: uuid.UUID) -> dict[str, Any]:
        return {"data": {"type": "users", "id": str(user_id)}}

    over = await client.put(url, json=owner(third), headers=bearer(acme.key))
    error = jsonapi_error(over, 422, "USER_LIMIT_EXCEEDED")["errors"][0]
    assert (error["detail"], error["source"]) == (
        "user count has exceeded maximum allowed for license (2)",
        {"pointer": "/data/relationships/users"},
    )
    taken = await client.put(url, json=owner(first), headers=bearer(acme.key))
    error = jsonapi_error(taken, 422, "OWNER_INVALID")["errors"][0]
    assert error["detail"] == "already exists (user is attached through users)"
    assert (await fetch(client, acme, license["id"]))["relationships"]["owner"]["data"] is None
    roomy = await factories.license(client, acme, maxUsers=3)
    await _attach(client, acme, roomy["id"], first, second)
    fits = await client.put(
        f"{acme.base}/licenses/{roomy['id']}/owner", json=owner(third), headers=bearer(acme.key)
    )
    assert fits.status_code == 200, fits.text
    assert fits.json()["data"]["relationships"]["owner"]["data"]["id"] == str(third)


async def test_a_machine_owner_is_a_license_user(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """machine.rb: a machine's owner is one of the license's users, its owner or a licensee;
    anyone else is 422 ``OWNER_INVALID`` ("must be a valid license user")."""
    license, owner, licensee = await _licensed(app, client, acme, floating=True, maxMachines=5)
    for user in (owner, licensee):
        made = await factories.machine(client, acme, license["id"], owner=str(user))
        assert made["relationships"]["owner"]["data"] == {"type": "users", "id": str(user)}
    stranger = await factories.user(app, acme)
    refused = await factories.activate(client, acme, license["id"], owner=str(stranger))
    error = jsonapi_error(refused, 422, "OWNER_INVALID")["errors"][0]
    assert (error["detail"], error["source"]) == (
        "must be a valid license user",
        {"pointer": "/data/relationships/owner"},
    )
