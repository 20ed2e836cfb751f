"""Every validation result code, and Keygen's order: the first failure wins.

SUSPENDED, EXPIRED (REVOKE_ACCESS), OVERDUE, then the scopes (product, policy, user,
entitlements, machine, fingerprints), then a strict policy's machine limits, then EXPIRED
(other strategies) and VALID.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from keyplane.kit.timefmt import iso
from tests import factories
from tests.factories import Tenant, bearer
from tests.licensing.test_validation import (
    check_license,
    check_meta,
    code_of,
    validate,
    validate_key,
)

PAST = timedelta(minutes=-1)


def _when(delta: timedelta) -> str:
    return iso(clock.now() + delta)


async def _patch_license(
    client: httpx.AsyncClient, account: Tenant, license_id: str, **attributes: Any
) -> None:
    body = {"data": {"type": "licenses", "attributes": attributes}}
    response = await client.patch(
        f"{account.base}/licenses/{license_id}", json=body, headers=bearer(account.key)
    )
    assert response.status_code == 200, response.text


async def _ping(client: httpx.AsyncClient, account: Tenant, machine_id: str) -> None:
    response = await client.post(
        f"{account.base}/machines/{machine_id}/actions/ping", headers=bearer(account.key)
    )
    assert response.status_code == 200, response.text


# -- suspension, expiry, check-ins ---------------------------------------------------------


@pytest.mark.parametrize("strategy", ["RESTRICT_ACCESS", "REVOKE_ACCESS", "MAINTAIN_ACCESS", "ALLOW_ACCESS"])
async def test_suspended_beats_expired(client: httpx.AsyncClient, acme: Tenant, strategy: str) -> None:
    policy_id = await factories.policy(client, acme, expirationStrategy=strategy)
    license = await factories.license(client, acme, policy_id, suspended=True, expiry=_when(PAST))
    body = await validate_key(client, acme, license["attributes"]["key"], scope={"fingerprint": "nope"})
    check_meta(body, False, "SUSPENDED", scope={"fingerprint": "nope"})
    check_license(body, license)
    assert await code_of(client, acme, license["id"]) == (False, "SUSPENDED")


@pytest.mark.parametrize(
    ("strategy", "valid"),
    [("RESTRICT_ACCESS", False), ("REVOKE_ACCESS", False), ("MAINTAIN_ACCESS", True), ("ALLOW_ACCESS", True)],
)
async def test_expired_validity_follows_the_expiration_strategy(
    client: httpx.AsyncClient, acme: Tenant, strategy: str, valid: bool
) -> None:
    policy_id = await factories.policy(client, acme, expirationStrategy=strategy)
    license = await factories.license(client, acme, policy_id, expiry=_when(PAST))
    body = await validate_key(client, acme, license["attributes"]["key"])
    check_meta(body, valid, "EXPIRED")
    check_license(body, license)
    assert await code_of(client, acme, license["id"]) == (valid, "EXPIRED")
    # Not yet expired: valid.
    fresh = await factories.license(client, acme, policy_id, expiry=_when(timedelta(minutes=5)))
    assert await code_of(client, acme, fresh["id"]) == (True, "VALID")
    clock.advance(timedelta(minutes=6))
    assert await code_of(client, acme, fresh["id"]) == (valid, "EXPIRED")


async def test_revoke_access_expiry_comes_before_the_scopes(client: httpx.AsyncClient, acme: Tenant) -> None:
    revoking = await factories.policy(client, acme, expirationStrategy="REVOKE_ACCESS")
    restricting = await factories.policy(client, acme, expirationStrategy="RESTRICT_ACCESS")
    revoked = await factories.license(client, acme, revoking)
    restricted = await factories.license(client, acme, restricting)
    for license in (revoked, restricted):
        await factories.machine(client, acme, license["id"], "right")
        await _patch_license(client, acme, license["id"], expiry=_when(PAST))

    assert await code_of(client, acme, revoked["id"], fingerprint="wrong") == (False, "EXPIRED")
    assert await code_of(client, acme, restricted["id"], fingerprint="wrong") == (
        False,
        "FINGERPRINT_SCOPE_MISMATCH",
    )
    # With the right fingerprint both are plainly expired.
    assert await code_of(client, acme, revoked["id"], fingerprint="right") == (False, "EXPIRED")
    assert await code_of(client, acme, restricted["id"], fingerprint="right") == (False, "EXPIRED")
    # A required scope left out: REVOKE_ACCESS still says EXPIRED first.
    strict_revoking = await factories.policy(
        client, acme, expirationStrategy="REVOKE_ACCESS", requireProductScope=True
    )
    other = await factories.license(client, acme, strict_revoking, expiry=_when(PAST))
    assert await code_of(client, acme, other["id"]) == (False, "EXPIRED")


async def test_strict_machine_checks_come_before_a_restricted_expiry(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    restricting = await factories.policy(client, acme, strict=True)
    revoking = await factories.policy(client, acme, strict=True, expirationStrategy="REVOKE_ACCESS")
    restricted = await factories.license(client, acme, restricting, expiry=_when(PAST))
    revoked = await factories.license(client, acme, revoking, expiry=_when(PAST))
    assert await code_of(client, acme, restricted["id"]) == (False, "NO_MACHINE")
    assert await code_of(client, acme, revoked["id"]) == (False, "EXPIRED")
    await factories.machine(client, acme, restricted["id"], "fp")
    assert await code_of(client, acme, restricted["id"]) == (False, "EXPIRED")


async def test_overdue_check_in(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(
        client,
        acme,
        requireCheckIn=True,
        checkInInterval="DAY",
        checkInIntervalCount=1,
        requireProductScope=True,
    )
    license = await factories.license(client, acme, policy_id)
    product_id = license["relationships"]["product"]["data"]["id"]
    assert await code_of(client, acme, license["id"], product=product_id) == (True, "VALID")
    clock.advance(timedelta(hours=23))
    assert await code_of(client, acme, license["id"], product=product_id) == (True, "VALID")
    clock.advance(timedelta(days=1, hours=1))
    # OVERDUE comes before the scopes (here a missing required one and a wrong one).
    assert await code_of(client, acme, license["id"]) == (False, "OVERDUE")
    assert await code_of(client, acme, license["id"], product="nope", fingerprint="x") == (False, "OVERDUE")
    body = await validate_key(client, acme, license["attributes"]["key"])
    check_meta(body, False, "OVERDUE")
    # Quick validations see it too.
    quick = await client.get(
        f"{acme.base}/licenses/{license['id']}/actions/validate", headers=bearer(acme.key)
    )
    check_meta(quick.json(), False, "OVERDUE")

    response = await client.post(
        f"{acme.base}/licenses/{license['id']}/actions/check-in", headers=bearer(acme.key)
    )
    assert response.status_code == 200, response.text
    assert await code_of(client, acme, license["id"], product=product_id) == (True, "VALID")
    clock.advance(timedelta(hours=23))
    assert await code_of(client, acme, license["id"], product=product_id) == (True, "VALID")
    clock.advance(timedelta(hours=2))
    assert await code_of(client, acme, license["id"], product=product_id) == (False, "OVERDUE")


async def test_overdue_order_against_suspension_and_expiry(client: httpx.AsyncClient, acme: Tenant) -> None:
    check_in: dict[str, Any] = {"requireCheckIn": True, "checkInInterval": "DAY", "checkInIntervalCount": 1}
    revoking = await factories.policy(client, acme, expirationStrategy="REVOKE_ACCESS", **check_in)
    restricting = await factories.policy(client, acme, **check_in)
    suspended = await factories.license(client, acme, restricting, suspended=True)
    revoked = await factories.license(client, acme, revoking, expiry=_when(timedelta(days=1)))
    restricted = await factories.license(client, acme, restricting, expiry=_when(timedelta(days=1)))
    clock.advance(timedelta(days=2))
    assert await code_of(client, acme, suspended["id"]) == (False, "SUSPENDED")
    assert await code_of(client, acme, revoked["id"]) == (False, "EXPIRED")
    assert await code_of(client, acme, restricted["id"]) == (False, "OVERDUE")


# -- product, policy, user scopes ----------------------------------------------------------


async def test_product_and_policy_scopes(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    product_id = license["relationships"]["product"]["data"]["id"]
    policy_id = license["relationships"]["policy"]["data"]["id"]
    other_product = await factories.product(client, acme)
    other_policy = await factories.policy(client, acme, other_product)

    assert await code_of(client, acme, license["id"], product=product_id) == (True, "VALID")
    assert await code_of(client, acme, license["id"], product=other_product) == (
        False,
        "PRODUCT_SCOPE_MISMATCH",
    )
    assert await code_of(client, acme, license["id"], product="not-an-id") == (
        False,
        "PRODUCT_SCOPE_MISMATCH",
    )
    assert await code_of(client, acme, license["id"], policy=policy_id) == (True, "VALID")
    assert await code_of(client, acme, license["id"], policy=other_policy) == (False, "POLICY_SCOPE_MISMATCH")
    # Product is checked before policy.
    assert await code_of(client, acme, license["id"], product=other_product, policy=other_policy) == (
        False,
        "PRODUCT_SCOPE_MISMATCH",
    )
    assert await code_of(client, acme, license["id"], product=product_id, policy=other_policy) == (
        False,
        "POLICY_SCOPE_MISMATCH",
    )


async def test_required_product_and_policy_scopes(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(
        client, acme, policy={"requireProductScope": True, "requirePolicyScope": True}
    )
    product_id = license["relationships"]["product"]["data"]["id"]
    policy_id = license["relationships"]["policy"]["data"]["id"]
    assert await code_of(client, acme, license["id"]) == (False, "PRODUCT_SCOPE_REQUIRED")
    assert await code_of(client, acme, license["id"], policy=policy_id) == (False, "PRODUCT_SCOPE_REQUIRED")
    assert await code_of(client, acme, license["id"], product=product_id) == (False, "POLICY_SCOPE_REQUIRED")
    assert await code_of(client, acme, license["id"], product=product_id, policy="") == (
        False,
        "POLICY_SCOPE_REQUIRED",
    )
    assert await code_of(client, acme, license["id"], product=product_id, policy=policy_id) == (True, "VALID")
    body = await validate_key(client, acme, license["attributes"]["key"])
    check_meta(body, False, "PRODUCT_SCOPE_REQUIRED")


async def test_user_scope_by_id_or_email(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    email = "owner@acme.test"
    owner = str(await factories.user(app, acme, email=email))
    stranger = str(await factories.user(app, acme))
    license = await factories.license(client, acme, owner=owner)
    unowned = await factories.license(client, acme)

    assert await code_of(client, acme, license["id"], user=owner) == (True, "VALID")
    assert await code_of(client, acme, license["id"], user=email) == (True, "VALID")
    assert await code_of(client, acme, license["id"], user=stranger) == (False, "USER_SCOPE_MISMATCH")
    assert await code_of(client, acme, license["id"], user="someone@acme.test") == (
        False,
        "USER_SCOPE_MISMATCH",
    )
    assert await code_of(client, acme, unowned["id"], user=owner) == (False, "USER_SCOPE_MISMATCH")
    # The user scope comes after product and policy.
    other_policy = await factories.policy(client, acme)
    assert await code_of(client, acme, license["id"], user=stranger, policy=other_policy) == (
        False,
        "POLICY_SCOPE_MISMATCH",
    )


async def test_required_user_scope(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    owner = str(await factories.user(app, acme))
    license = await factories.license(client, acme, policy={"requireUserScope": True}, owner=owner)
    assert await code_of(client, acme, license["id"]) == (False, "USER_SCOPE_REQUIRED")
    assert await code_of(client, acme, license["id"], user="") == (False, "USER_SCOPE_REQUIRED")
    assert await code_of(client, acme, license["id"], user=owner) == (True, "VALID")


# -- entitlements ---------------------------------------------------------------------------


async def test_entitlements_scope(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    owner = str(await factories.user(app, acme))
    license = await factories.license(client, acme, owner=owner)
    assert await code_of(client, acme, license["id"], entitlements=[]) == (False, "ENTITLEMENTS_SCOPE_EMPTY")
    assert await code_of(client, acme, license["id"], entitlements=["FEATURE"]) == (
        False,
        "ENTITLEMENTS_MISSING",
    )
    # After the user scope, before the machine and fingerprint scopes.
    assert await code_of(client, acme, license["id"], entitlements=[], user="nobody@acme.test") == (
        False,
        "USER_SCOPE_MISMATCH",
    )
    assert await code_of(
        client, acme, license["id"], entitlements=["FEATURE"], fingerprint="x", machine="y"
    ) == (
        False,
        "ENTITLEMENTS_MISSING",
    )


# -- machine scope --------------------------------------------------------------------------


async def test_machine_scope(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, floating=True, maxMachines=3)
    license = await factories.license(client, acme, policy_id)
    other = await factories.license(client, acme, policy_id)
    assert await code_of(client, acme, license["id"], machine="whatever") == (False, "NO_MACHINES")
    machine = await factories.machine(client, acme, license["id"], "fp-1")
    elsewhere = await factories.machine(client, acme, other["id"], "fp-2")

    assert await code_of(client, acme, license["id"], machine=machine["id"]) == (True, "VALID")
    assert await code_of(client, acme, license["id"], machine=elsewhere["id"]) == (
        False,
        "MACHINE_SCOPE_MISMATCH",
    )
    assert await code_of(client, acme, license["id"], machine="fp-1") == (False, "MACHINE_SCOPE_MISMATCH")
    # The machine scope comes before the fingerprint scope.
    assert await code_of(client, acme, license["id"], machine=elsewhere["id"], fingerprint="fp-9") == (
        False,
        "MACHINE_SCOPE_MISMATCH",
    )
    assert await code_of(client, acme, license["id"], machine=machine["id"], fingerprint="fp-9") == (
        False,
        "FINGERPRINT_SCOPE_MISMATCH",
    )


async def test_machine_scope_on_a_node_locked_license_without_machines(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await factories.license(client, acme)
    assert await code_of(client, acme, license["id"], machine="whatever") == (False, "NO_MACHINE")


async def test_required_machine_scope(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme, policy={"requireMachineScope": True})
    assert await code_of(client, acme, license["id"]) == (False, "MACHINE_SCOPE_REQUIRED")
    machine = await factories.machine(client, acme, license["id"], "fp")
    assert await code_of(client, acme, license["id"], fingerprint="fp") == (False, "MACHINE_SCOPE_REQUIRED")
    assert await code_of(client, acme, license["id"], machine=machine["id"]) == (True, "VALID")


async def test_machine_scope_heartbeat(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(
        client, acme, requireHeartbeat=True, heartbeatDuration=120, heartbeatBasis="FROM_FIRST_PING"
    )
    license = await factories.license(client, acme, policy_id)
    machine = await factories.machine(client, acme, license["id"], "fp")
    assert await code_of(client, acme, license["id"], machine=machine["id"]) == (
        False,
        "HEARTBEAT_NOT_STARTED",
    )
    await _ping(client, acme, machine["id"])
    assert await code_of(client, acme, license["id"], machine=machine["id"]) == (True, "VALID")
    clock.advance(timedelta(seconds=119))
    assert await code_of(client, acme, license["id"], machine=machine["id"]) == (True, "VALID")
    clock.advance(timedelta(seconds=2))
    assert await code_of(client, acme, license["id"], machine=machine["id"]) == (False, "HEARTBEAT_DEAD")
    assert await code_of(client, acme, license["id"], fingerprint="fp") == (False, "HEARTBEAT_DEAD")
    # Without a machine or fingerprint scope the heartbeat is not checked (non-strict).
    assert await code_of(client, acme, license["id"]) == (True, "VALID")


async def test_heartbeat_not_checked_when_not_required(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    machine = await factories.machine(client, acme, license["id"], "fp")
    assert await code_of(client, acme, license["id"], machine=machine["id"]) == (True, "VALID")
    clock.advance(timedelta(days=30))
    assert await code_of(client, acme, license["id"], machine=machine["id"]) == (True, "VALID")


# -- fingerprint scope ----------------------------------------------------------------------


async def test_fingerprint_scope(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme)
    assert await code_of(client, acme, license["id"], fingerprints=[]) == (False, "FINGERPRINT_SCOPE_EMPTY")
    assert await code_of(client, acme, license["id"], fingerprint="fp") == (False, "NO_MACHINE")
    assert await code_of(client, acme, license["id"], fingerprints=["fp"]) == (False, "NO_MACHINE")
    await factories.machine(client, acme, license["id"], "fp")
    assert await code_of(client, acme, license["id"], fingerprint="fp") == (True, "VALID")
    assert await code_of(client, acme, license["id"], fingerprints=["fp"]) == (True, "VALID")
    assert await code_of(client, acme, license["id"], fingerprint="FP") == (
        False,
        "FINGERPRINT_SCOPE_MISMATCH",
    )
    assert await code_of(client, acme, license["id"], fingerprints=[]) == (False, "FINGERPRINT_SCOPE_EMPTY")
    # The fingerprint scope comes after the product scope.
    other_product = await factories.product(client, acme)
    assert await code_of(client, acme, license["id"], fingerprint="nope", product=other_product) == (
        False,
        "PRODUCT_SCOPE_MISMATCH",
    )


async def test_fingerprint_scope_on_a_floating_license_without_machines(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await factories.license(client, acme, policy={"floating": True, "maxMachines": 5})
    assert await code_of(client, acme, license["id"], fingerprint="fp") == (False, "NO_MACHINES")
    assert await code_of(client, acme, license["id"], fingerprints=["a", "b"]) == (False, "NO_MACHINES")
    assert await code_of(client, acme, license["id"], fingerprints=[]) == (False, "FINGERPRINT_SCOPE_EMPTY")


async def test_required_fingerprint_scope(client: httpx.AsyncClient, acme: Tenant) -> None:
    license = await factories.license(client, acme, policy={"requireFingerprintScope": True})
    await factories.machine(client, acme, license["id"], "fp")
    assert await code_of(client, acme, license["id"]) == (False, "FINGERPRINT_SCOPE_REQUIRED")
    assert await code_of(client, acme, license["id"], product="") == (False, "FINGERPRINT_SCOPE_REQUIRED")
    assert await code_of(client, acme, license["id"], fingerprint="fp") == (True, "VALID")
    body = await validate_key(client, acme, license["attributes"]["key"])
    check_meta(body, False, "FINGERPRINT_SCOPE_REQUIRED")


async def test_fingerprint_of_another_license_never_matches(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(
        client, acme, floating=True, maxMachines=5, machineMatchingStrategy="MATCH_ANY"
    )
    mine = await factories.license(client, acme, policy_id)
    theirs = await factories.license(client, acme, policy_id)
    await factories.machine(client, acme, mine["id"], "mine")
    await factories.machine(client, acme, theirs["id"], "theirs")
    assert await code_of(client, acme, mine["id"], fingerprint="theirs") == (
        False,
        "FINGERPRINT_SCOPE_MISMATCH",
    )
    assert await code_of(client, acme, mine["id"], fingerprints=["theirs"]) == (
        False,
        "FINGERPRINT_SCOPE_MISMATCH",
    )
    assert await code_of(client, acme, mine["id"], fingerprints=["theirs", "mine"]) == (True, "VALID")


MATCHING = [
    # strategy, fingerprints sent, valid
    ("MATCH_ANY", ["a"], True),
    ("MATCH_ANY", ["a", "x"], True),
    ("MATCH_ANY", ["x", "y"], False),
    ("MATCH_ANY", ["z"], False),
    ("MATCH_TWO", ["a"], True),
    ("MATCH_TWO", ["a", "x"], False),
    ("MATCH_TWO", ["a", "a", "x"], False),
    ("MATCH_TWO", ["a", "z"], False),
    ("MATCH_TWO", ["a", "b"], True),
    ("MATCH_TWO", ["a", "b", "x", "y", "w"], True),
    ("MATCH_MOST", ["a", "x"], True),
    ("MATCH_MOST", ["a", "x", "y"], False),
    ("MATCH_MOST", ["a", "b", "x"], True),
    ("MATCH_MOST", ["a", "b", "x", "y"], True),
    ("MATCH_MOST", ["a", "z", "x", "y"], False),
    ("MATCH_MOST", ["a", "a", "a", "x"], True),
    ("MATCH_MOST", ["a", "x", "x", "y", "y"], False),
    ("MATCH_ALL", ["a", "b", "c", "d"], True),
    ("MATCH_ALL", ["a", "b", "c", "x"], False),
    ("MATCH_ALL", ["a", "b", "z"], False),
    ("MATCH_ALL", ["a", "a", "b"], True),
    ("MATCH_ALL", ["c"], True),
]


@pytest.mark.parametrize(
    ("strategy", "fingerprints", "valid"),
    MATCHING,
    ids=[f"{strategy}-{'-'.join(sent)}" for strategy, sent, _ in MATCHING],
)
async def test_fingerprint_matching_strategies(
    client: httpx.AsyncClient, acme: Tenant, strategy: str, fingerprints: list[str], valid: bool
) -> None:
    """The license has a, b, c and d; another license of the same policy has z."""
    policy_id = await factories.policy(
        client, acme, floating=True, maxMachines=5, machineMatchingStrategy=strategy
    )
    license = await factories.license(client, acme, policy_id)
    other = await factories.license(client, acme, policy_id)
    for fingerprint in "abcd":
        await factories.machine(client, acme, license["id"], fingerprint)
    await factories.machine(client, acme, other["id"], "z")

    body = await validate(client, acme, license["id"], scope={"fingerprints": fingerprints})
    code = "VALID" if valid else "FINGERPRINT_SCOPE_MISMATCH"
    check_meta(body, valid, code, scope={"fingerprints": fingerprints})
    check_license(body, license)


async def test_matching_counts_only_live_machines(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(
        client,
        acme,
        floating=True,
        maxMachines=5,
        machineMatchingStrategy="MATCH_ALL",
        requireHeartbeat=True,
        heartbeatDuration=60,
        heartbeatCullStrategy="KEEP_DEAD",
    )
    license = await factories.license(client, acme, policy_id)
    a = await factories.machine(client, acme, license["id"], "a")
    b = await factories.machine(client, acme, license["id"], "b")
    await _ping(client, acme, a["id"])
    await _ping(client, acme, b["id"])
    assert await code_of(client, acme, license["id"], fingerprints=["a", "b"]) == (True, "VALID")
    clock.advance(timedelta(seconds=45))
    await _ping(client, acme, b["id"])
    clock.advance(timedelta(seconds=30))
    # a is dead now, b alive.
    assert await code_of(client, acme, license["id"], fingerprint="b") == (True, "VALID")
    assert await code_of(client, acme, license["id"], fingerprint="a") == (False, "HEARTBEAT_DEAD")
    assert (await code_of(client, acme, license["id"], fingerprints=["a", "b"]))[0] is False
    clock.advance(timedelta(seconds=60))
    assert await code_of(client, acme, license["id"], fingerprints=["a", "b"]) == (False, "HEARTBEAT_DEAD")


# -- a strict policy's limits ---------------------------------------------------------------


async def test_strict_license_needs_machines(client: httpx.AsyncClient, acme: Tenant) -> None:
    node_locked = await factories.license(client, acme, policy={"strict": True})
    policy_id = await factories.policy(client, acme, strict=True, floating=True, maxMachines=3)
    floating = await factories.license(client, acme, policy_id)
    assert await code_of(client, acme, node_locked["id"]) == (False, "NO_MACHINE")
    assert await code_of(client, acme, floating["id"]) == (False, "NO_MACHINES")
    body = await validate_key(client, acme, floating["attributes"]["key"], nonce=1)
    check_meta(body, False, "NO_MACHINES", nonce=1)
    await factories.machine(client, acme, node_locked["id"], "n")
    await factories.machine(client, acme, floating["id"], "f")
    assert await code_of(client, acme, node_locked["id"]) == (True, "VALID")
    assert await code_of(client, acme, floating["id"]) == (True, "VALID")
    assert await code_of(client, acme, floating["id"], fingerprint="f") == (True, "VALID")
    # A non-strict license needs none.
    plain = await factories.license(client, acme)
    assert await code_of(client, acme, plain["id"]) == (True, "VALID")


async def test_too_many_machines_within_overage_is_still_valid(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(
        client, acme, strict=True, floating=True, maxMachines=2, overageStrategy="ALLOW_2X_OVERAGE"
    )
    license = await factories.license(client, acme, policy_id)
    for fingerprint in ("a", "b"):
        await factories.machine(client, acme, license["id"], fingerprint)
    assert await code_of(client, acme, license["id"]) == (True, "VALID")
    await factories.machine(client, acme, license["id"], "c")
    assert await code_of(client, acme, license["id"]) == (True, "TOO_MANY_MACHINES")
    body = await validate_key(client, acme, license["attributes"]["key"], scope={"fingerprint": "c"})
    check_meta(body, True, "TOO_MANY_MACHINES", scope={"fingerprint": "c"})
    # Past the overage allowance (the license's own limit lowered to 1: allowance 2): invalid.
    await _patch_license(client, acme, license["id"], maxMachines=1)
    assert await code_of(client, acme, license["id"]) == (False, "TOO_MANY_MACHINES")


async def test_too_many_machines_without_overage_is_invalid(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, strict=True, floating=True, maxMachines=3)
    license = await factories.license(client, acme, policy_id)
    for fingerprint in ("a", "b", "c"):
        await factories.machine(client, acme, license["id"], fingerprint)
    assert await code_of(client, acme, license["id"]) == (True, "VALID")
    # Activation never goes past the limit; lowering the license's limit does.
    await _patch_license(client, acme, license["id"], maxMachines=2)
    assert await code_of(client, acme, license["id"]) == (False, "TOO_MANY_MACHINES")
    assert await code_of(client, acme, license["id"], fingerprint="a") == (False, "TOO_MANY_MACHINES")
    # Scope failures come first.
    assert await code_of(client, acme, license["id"], fingerprint="x") == (
        False,
        "FINGERPRINT_SCOPE_MISMATCH",
    )
    response = await client.delete(f"{acme.base}/machines/c", headers=bearer(acme.key))
    assert response.status_code == 204
    assert await code_of(client, acme, license["id"]) == (True, "VALID")


async def test_node_locked_overage(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, strict=True, overageStrategy="ALLOW_2X_OVERAGE")
    license = await factories.license(client, acme, policy_id)
    await factories.machine(client, acme, license["id"], "a")
    assert await code_of(client, acme, license["id"]) == (True, "VALID")
    await factories.machine(client, acme, license["id"], "b")
    assert await code_of(client, acme, license["id"]) == (True, "TOO_MANY_MACHINES")


async def test_always_allow_overage(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(
        client, acme, strict=True, floating=True, maxMachines=1, overageStrategy="ALWAYS_ALLOW_OVERAGE"
    )
    license = await factories.license(client, acme, policy_id)
    for fingerprint in ("a", "b", "c", "d"):
        await factories.machine(client, acme, license["id"], fingerprint)
    assert await code_of(client, acme, license["id"]) == (True, "TOO_MANY_MACHINES")


async def test_non_strict_license_ignores_its_machine_limit(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(
        client, acme, floating=True, maxMachines=2, overageStrategy="ALLOW_2X_OVERAGE"
    )
    license = await factories.license(client, acme, policy_id)
    for fingerprint in ("a", "b", "c", "d"):
        await factories.machine(client, acme, license["id"], fingerprint)
    await _patch_license(client, acme, license["id"], maxMachines=1)
    assert await code_of(client, acme, license["id"]) == (True, "VALID")
    assert await code_of(client, acme, license["id"], fingerprint="d") == (True, "VALID")


@pytest.mark.parametrize(
    ("overage", "cores", "valid"),
    [
        ("NO_OVERAGE", 5, False),
        ("ALLOW_1_25X_OVERAGE", 5, True),
        ("ALLOW_1_25X_OVERAGE", 6, False),
        ("ALLOW_1_5X_OVERAGE", 6, True),
        ("ALLOW_1_5X_OVERAGE", 7, False),
        ("ALLOW_2X_OVERAGE", 8, True),
        ("ALLOW_2X_OVERAGE", 9, False),
        ("ALWAYS_ALLOW_OVERAGE", 1000, True),
    ],
)
async def test_too_many_cores(
    client: httpx.AsyncClient, acme: Tenant, overage: str, cores: int, valid: bool
) -> None:
    """The license's maxCores lowered to 4 after its machine was activated."""
    policy_id = await factories.policy(
        client, acme, strict=True, floating=True, maxMachines=5, overageStrategy=overage
    )
    license = await factories.license(client, acme, policy_id)
    await factories.machine(client, acme, license["id"], "big", cores=cores)
    assert await code_of(client, acme, license["id"]) == (True, "VALID")
    await _patch_license(client, acme, license["id"], maxCores=4)
    assert await code_of(client, acme, license["id"]) == (valid, "TOO_MANY_CORES")
    assert await code_of(client, acme, license["id"], fingerprint="big") == (valid, "TOO_MANY_CORES")


async def test_cores_within_the_limit_are_valid(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, strict=True, floating=True, maxMachines=5, maxCores=8)
    license = await factories.license(client, acme, policy_id)
    await factories.machine(client, acme, license["id"], "a", cores=4)
    await factories.machine(client, acme, license["id"], "b", cores=4)
    assert await code_of(client, acme, license["id"]) == (True, "VALID")
    # Machine limits come before core limits.
    await _patch_license(client, acme, license["id"], maxMachines=1, maxCores=2)
    assert await code_of(client, acme, license["id"]) == (False, "TOO_MANY_MACHINES")
    await _patch_license(client, acme, license["id"], maxMachines=2)
    assert await code_of(client, acme, license["id"]) == (False, "TOO_MANY_CORES")
    # A non-strict license does not count cores.
    loose = await factories.license(client, acme, policy={"floating": True, "maxMachines": 5})
    await factories.machine(client, acme, loose["id"], "a", cores=64)
    await _patch_license(client, acme, loose["id"], maxCores=1)
    assert await code_of(client, acme, loose["id"]) == (True, "VALID")


async def test_dead_machines_stop_counting_when_culled(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, strict=True, requireHeartbeat=True, heartbeatDuration=60)
    culled = await factories.license(client, acme, policy_id)
    keep_dead = await factories.policy(
        client,
        acme,
        strict=True,
        requireHeartbeat=True,
        heartbeatDuration=60,
        heartbeatCullStrategy="KEEP_DEAD",
    )
    kept = await factories.license(client, acme, keep_dead)
    for license in (culled, kept):
        machine = await factories.machine(client, acme, license["id"], "fp")
        await _ping(client, acme, machine["id"])
        assert await code_of(client, acme, license["id"]) == (True, "VALID")
    clock.advance(timedelta(minutes=2))
    assert await code_of(client, acme, culled["id"]) == (False, "NO_MACHINE")
    assert await code_of(client, acme, kept["id"]) == (True, "VALID")


async def test_every_scope_in_order(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """One license, every scope wrong; fixing them one by one shows the next failure."""
    owner = str(await factories.user(app, acme))
    policy_id = await factories.policy(client, acme, strict=True, floating=True, maxMachines=2)
    license = await factories.license(client, acme, policy_id, owner=owner)
    machine = await factories.machine(client, acme, license["id"], "fp")
    await factories.machine(client, acme, license["id"], "fp-2", cores=2)
    await _patch_license(client, acme, license["id"], maxMachines=1, maxCores=1)
    scope: dict[str, Any] = {
        "product": "wrong",
        "policy": "wrong",
        "user": "wrong",
        "entitlements": [],
        "machine": "wrong",
        "fingerprint": "wrong",
    }
    fixes: list[tuple[str, Any, str]] = [
        ("product", license["relationships"]["product"]["data"]["id"], "PRODUCT_SCOPE_MISMATCH"),
        ("policy", license["relationships"]["policy"]["data"]["id"], "POLICY_SCOPE_MISMATCH"),
        ("user", owner, "USER_SCOPE_MISMATCH"),
        ("entitlements", None, "ENTITLEMENTS_SCOPE_EMPTY"),
        ("machine", machine["id"], "MACHINE_SCOPE_MISMATCH"),
        ("fingerprint", "fp", "FINGERPRINT_SCOPE_MISMATCH"),
    ]
    for name, right, code in fixes:
        assert await code_of(client, acme, license["id"], **scope) == (False, code), name
        if right is None:
            del scope[name]
        else:
            scope[name] = right
    assert await code_of(client, acme, license["id"], **scope) == (False, "TOO_MANY_MACHINES")
    await _patch_license(client, acme, license["id"], maxMachines=2)
    assert await code_of(client, acme, license["id"], **scope) == (False, "TOO_MANY_CORES")
    await _patch_license(client, acme, license["id"], maxCores=10, expiry=_when(PAST))
    assert await code_of(client, acme, license["id"], **scope) == (False, "EXPIRED")
    await _patch_license(client, acme, license["id"], expiry=None)
    assert await code_of(client, acme, license["id"], **scope) == (True, "VALID")
    await _patch_license(client, acme, license["id"], suspended=True)
    assert await code_of(client, acme, license["id"], **scope) == (False, "SUSPENDED")


async def test_fingerprint_scope_heartbeats_in_keygens_order(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(
        client,
        acme,
        floating=True,
        maxMachines=5,
        requireHeartbeat=True,
        heartbeatDuration=60,
        heartbeatCullStrategy="KEEP_DEAD",
        heartbeatBasis="FROM_FIRST_PING",
    )
    license = await factories.license(client, acme, policy_id)
    machine = await factories.machine(client, acme, license["id"], "fp")
    # Matched, but it has never sent a heartbeat.
    assert await code_of(client, acme, license["id"], fingerprint="fp") == (False, "HEARTBEAT_NOT_STARTED")
    await _ping(client, acme, machine["id"])
    assert await code_of(client, acme, license["id"], fingerprint="fp") == (True, "VALID")
    clock.advance(timedelta(seconds=61))
    # Every fingerprint sent is a dead machine: the heartbeat is the reason.
    assert await code_of(client, acme, license["id"], fingerprint="fp") == (False, "HEARTBEAT_DEAD")
    # Not every one is: too few live matches is the reason.
    assert await code_of(client, acme, license["id"], fingerprints=["fp", "unknown"]) == (
        False,
        "FINGERPRINT_SCOPE_MISMATCH",
    )
