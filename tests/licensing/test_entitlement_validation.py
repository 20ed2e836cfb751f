"""Validation's ``scope.entitlements``: Keygen's ENTITLEMENTS_SCOPE_EMPTY and
ENTITLEMENTS_MISSING, in Keygen's order, and what it costs.

Keygen: ``app/services/license_validation_service.rb`` (after the user scope, before the
machine scope: ``entitlements = scope[:entitlements].uniq``; empty is
ENTITLEMENTS_SCOPE_EMPTY; ``license.entitlements.where(code: entitlements).count !=
entitlements.size`` is ENTITLEMENTS_MISSING), ``app/models/license.rb`` (``entitlements``:
the license's own and its policy's), and the scope's typed params in
``app/controllers/api/v1/licenses/actions/validations_controller.rb`` (a list of strings).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from keyplane.licenses import validation
from keyplane.licenses.validation import Scope
from keyplane.licensing.vocab import Code
from keyplane.models import License, Policy
from keyplane.services import services_of
from tests import factories
from tests.factories import Tenant, bearer
from tests.licensing.test_validation import check_meta, code_of, validate_key

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def _plain_license() -> tuple[License, Policy]:
    """A valid non-strict license and its policy, as plain objects (``check`` reads columns)."""
    policy = SimpleNamespace(
        expiration_strategy="RESTRICT_ACCESS",
        require_check_in=False,
        require_product_scope=False,
        require_policy_scope=False,
        require_user_scope=False,
        require_machine_scope=False,
        require_fingerprint_scope=False,
        require_components_scope=False,
        require_checksum_scope=False,
        require_version_scope=False,
        require_heartbeat=False,
        strict=False,
        floating=False,
        max_users=None,
    )
    license = SimpleNamespace(
        suspended=False,
        expiry=None,
        product_id="p",
        policy_id="q",
        last_check_in=None,
        max_users=None,
        licensees_count=0,
    )
    return cast(License, license), cast(Policy, policy)


@pytest.mark.parametrize(
    ("asked", "entitled", "code"),
    [
        (None, frozenset(), Code.VALID),
        ([], frozenset(), Code.ENTITLEMENTS_SCOPE_EMPTY),
        (["A"], frozenset({"A"}), Code.VALID),
        (["A", "A"], frozenset({"A"}), Code.VALID),
        (["A", "B"], frozenset({"A"}), Code.ENTITLEMENTS_MISSING),
        (["a"], frozenset({"A"}), Code.ENTITLEMENTS_MISSING),
        ([""], frozenset(), Code.ENTITLEMENTS_MISSING),
    ],
)
def test_the_rule_without_http(asked: list[str] | None, entitled: frozenset[str], code: Code) -> None:
    """``check`` decides from the codes the license has among those asked for: every distinct
    code, exactly as written (an SQL ``IN``), must be there; an empty list is its own code."""
    license, policy = _plain_license()
    scope = Scope() if asked is None else Scope(entitlements=asked)
    result = validation.check(license, policy, [], None, scope, NOW, entitled)
    assert result.code == code
    assert result.valid is (code == Code.VALID)


async def _entitled_license(client: httpx.AsyncClient, account: Tenant, **attributes: Any) -> dict[str, Any]:
    """A license with BASIC through its policy and PRO of its own; TEAM exists, unattached."""
    policy_id = await factories.policy(client, account, **attributes)
    license = await factories.license(client, account, policy_id)
    basic = await factories.entitlement(client, account, "BASIC")
    pro = await factories.entitlement(client, account, "PRO")
    await factories.entitlement(client, account, "TEAM")
    assert (
        await factories.attach(client, account, f"policies/{policy_id}", [basic["id"]])
    ).status_code == 200
    assert (
        await factories.attach(client, account, f"licenses/{license['id']}", [pro["id"]])
    ).status_code == 200
    return license


async def test_entitlements_of_the_license_and_its_policy_validate(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await _entitled_license(client, acme)
    key = license["attributes"]["key"]
    for asked, valid, code in (
        (["BASIC"], True, "VALID"),
        (["PRO"], True, "VALID"),
        (["BASIC", "PRO", "PRO"], True, "VALID"),
        (["BASIC", "TEAM"], False, "ENTITLEMENTS_MISSING"),
        (["NOT_A_CODE"], False, "ENTITLEMENTS_MISSING"),
        (["basic"], False, "ENTITLEMENTS_MISSING"),
        ([], False, "ENTITLEMENTS_SCOPE_EMPTY"),
    ):
        scope = {"entitlements": asked}
        # validate-key (anonymous, as apps call it) and validate by id answer alike.
        body = await validate_key(client, acme, key, scope=scope)
        check_meta(body, valid, code, scope=scope)
        assert body["data"]["id"] == license["id"]
        assert await code_of(client, acme, license["id"], **scope) == (valid, code)


async def test_attaching_and_detaching_is_seen_by_the_next_validation(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await _entitled_license(client, acme)
    key = license["attributes"]["key"]
    scope = {"entitlements": ["TEAM"]}
    check_meta(await validate_key(client, acme, key, scope=scope), False, "ENTITLEMENTS_MISSING", scope=scope)
    listed = await client.get(f"{acme.base}/entitlements/TEAM", headers=bearer(acme.key))
    team = listed.json()["data"]["id"]
    assert (await factories.attach(client, acme, f"licenses/{license['id']}", [team])).status_code == 200
    check_meta(await validate_key(client, acme, key, scope=scope), True, "VALID", scope=scope)
    # Renaming the code is seen too: the old code is missing, the new one there.
    renamed = await client.patch(
        f"{acme.base}/entitlements/{team}",
        json={"data": {"type": "entitlements", "attributes": {"code": "TEAMS"}}},
        headers=bearer(acme.key),
    )
    assert renamed.status_code == 200
    check_meta(await validate_key(client, acme, key, scope=scope), False, "ENTITLEMENTS_MISSING", scope=scope)
    teams = {"entitlements": ["TEAMS"]}
    check_meta(await validate_key(client, acme, key, scope=teams), True, "VALID", scope=teams)
    assert (await factories.detach(client, acme, f"licenses/{license['id']}", [team])).status_code == 204
    check_meta(await validate_key(client, acme, key, scope=teams), False, "ENTITLEMENTS_MISSING", scope=teams)


async def test_keygens_order_around_the_entitlements_scope(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """After suspension, expiry and the product, policy and user scopes; before the machine
    and fingerprint scopes and a strict policy's machine checks."""
    owner = str(await factories.user(app, acme))
    policy_id = await factories.policy(client, acme, strict=True)
    license = await factories.license(client, acme, policy_id, owner=owner)
    [basic] = [await factories.entitlement(client, acme, "BASIC")]
    assert (await factories.attach(client, acme, f"policies/{policy_id}", [basic["id"]])).status_code == 200
    lid = license["id"]

    assert await code_of(client, acme, lid, user="someone@else.test", entitlements=["NOPE"]) == (
        False,
        "USER_SCOPE_MISMATCH",
    )
    assert await code_of(client, acme, lid, product="wrong", entitlements=[]) == (
        False,
        "PRODUCT_SCOPE_MISMATCH",
    )
    assert await code_of(client, acme, lid, entitlements=["NOPE"], fingerprint="fp", machine="m") == (
        False,
        "ENTITLEMENTS_MISSING",
    )
    # With the entitlement there, the next checks decide: the machine scope, then a strict
    # policy's machines.
    assert await code_of(client, acme, lid, entitlements=["BASIC"], machine="m") == (False, "NO_MACHINE")
    assert await code_of(client, acme, lid, entitlements=["BASIC"], user=owner) == (False, "NO_MACHINE")
    await factories.machine(client, acme, lid, "fp")
    assert await code_of(client, acme, lid, entitlements=["BASIC"], fingerprint="fp") == (True, "VALID")
    suspended = await client.post(f"{acme.base}/licenses/{lid}/actions/suspend", headers=bearer(acme.key))
    assert suspended.status_code == 200
    assert await code_of(client, acme, lid, entitlements=["NOPE"]) == (False, "SUSPENDED")


async def test_the_quick_validation_checks_no_scope(client: httpx.AsyncClient, acme: Tenant) -> None:
    """``GET .../actions/validate`` is Keygen's quick validation: ``scope`` is false, so no
    scope is checked (license_validation_service.rb)."""
    license = await _entitled_license(client, acme)
    quick = await client.get(
        f"{acme.base}/licenses/{license['id']}/actions/validate", headers=bearer(acme.key)
    )
    assert quick.json()["meta"]["code"] == "VALID"


@contextmanager
def _statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the application sends while the block runs."""
    seen: list[str] = []
    engine = services_of(app).db.engine.sync_engine

    def note(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def test_entitlements_are_read_only_when_the_scope_asks(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """The validate hot path pays nothing for entitlements unless a scope names some: no
    statement touches them otherwise, and one does when it does."""
    license = await _entitled_license(client, acme)
    key = license["attributes"]["key"]
    without: list[dict[str, Any]] = [
        {},
        {"scope": {}},
        {"scope": {"entitlements": []}},
        {"scope": {"product": ""}},
    ]
    for meta in without:
        with _statements(app) as seen:
            await validate_key(client, acme, key, **meta)
            await code_of(client, acme, license["id"], **meta.get("scope", {}))
        assert not [s for s in seen if "entitlements" in s], meta
    with _statements(app) as seen:
        body = await validate_key(client, acme, key, scope={"entitlements": ["BASIC", "PRO"]})
    assert body["meta"]["code"] == "VALID"
    assert len([s for s in seen if "entitlements" in s]) == 1
    with _statements(app) as seen:
        assert await code_of(client, acme, license["id"], entitlements=["TEAM"]) == (
            False,
            "ENTITLEMENTS_MISSING",
        )
    assert len([s for s in seen if "entitlements" in s]) == 1


async def test_a_malformed_entitlements_scope_is_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    """The typed params: ``entitlements`` is an array of strings."""
    license = await factories.license(client, acme)
    for bad in ("BASIC", [1], {"code": "BASIC"}, [None]):
        response = await client.post(
            f"{acme.base}/licenses/actions/validate-key",
            json={"meta": {"key": license["attributes"]["key"], "scope": {"entitlements": bad}}},
        )
        assert response.status_code == 400, (bad, response.text)
