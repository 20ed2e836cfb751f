"""Behaviours an app written for Keygen relies on beyond the core: check-in intervals,
heartbeat bases, what end users may do with their licenses, machines' owners and sizes,
signed-key templates and the account-scoped ping. Each test cites the Keygen source
(keygen-sh/keygen-api) that states the behaviour."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from keyplane.licensing.status import next_check_in, overdue
from keyplane.models import License, Policy
from keyplane.models.policy import CheckInInterval
from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer, ref
from tests.licensing.test_validation import check_meta, denied, fetch

BIGINT = 9_223_372_036_854_775_807


async def _policy_attributes(client: httpx.AsyncClient, acme: Tenant, policy_id: str) -> dict[str, Any]:
    response = await client.get(f"{acme.base}/policies/{policy_id}", headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    attributes: dict[str, Any] = response.json()["data"]["attributes"]
    return attributes


async def _post_policy(client: httpx.AsyncClient, acme: Tenant, **attributes: Any) -> httpx.Response:
    body = factories.document(
        "policies", {"name": "P", **attributes}, product=await factories.product(client, acme)
    )
    return await client.post(f"{acme.base}/policies", json=body, headers=bearer(acme.key))


# -- check-in intervals ---------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["day", "week", "month", "year"])
async def test_check_in_interval_takes_keygens_words(
    client: httpx.AsyncClient, acme: Tenant, interval: str
) -> None:
    """app/models/policy.rb: ``check_in_interval`` in ``%w[day week month year]``."""
    policy_id = await factories.policy(
        client, acme, requireCheckIn=True, checkInInterval=interval, checkInIntervalCount=2
    )
    assert (await _policy_attributes(client, acme, policy_id))["checkInInterval"] == interval
    license = await factories.license(client, acme, policy_id)
    checked = await client.post(
        f"{acme.base}/licenses/{license['id']}/actions/check-in", headers=bearer(acme.key)
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["data"]["attributes"]["nextCheckIn"] is not None


async def test_an_unknown_check_in_interval_is_refused(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await _post_policy(
        client, acme, requireCheckIn=True, checkInInterval="fortnight", checkInIntervalCount=1
    )
    error = jsonapi_error(response, 422, "CHECK_IN_INTERVAL_NOT_ALLOWED")["errors"][0]
    assert error["source"] == {"pointer": "/data/attributes/checkInInterval"}
    # The upper-case words Keyplane took before still read as Keygen's.
    legacy = await _post_policy(
        client, acme, requireCheckIn=True, checkInInterval="MONTH", checkInIntervalCount=1
    )
    assert legacy.status_code == 201, legacy.text
    assert legacy.json()["data"]["attributes"]["checkInInterval"] == "month"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("interval", "count", "now", "late"),
    [
        # Overdue once the last check-in is before the interval counted back from now
        # (``last_check_in_at < 1.month.ago``): a month back from Feb 28 noon is Jan 28 noon.
        ("month", 1, "2025-02-28T12:00:00", False),
        ("month", 1, "2025-03-01T00:00:01", True),
        ("year", 1, "2026-01-30T23:59:59", False),
        ("year", 1, "2026-01-31T00:00:01", True),
        ("week", 2, "2025-02-14T00:00:00", False),
        ("week", 2, "2025-02-14T00:00:01", True),
        ("day", 3, "2025-02-03T00:00:01", True),
    ],
)
def test_check_in_overdue_counts_the_interval_back_from_now(
    interval: str, count: int, now: str, late: bool
) -> None:
    """app/models/license.rb ``check_in_overdue?`` and ``next_check_in_at``."""
    checked_in = _at("2025-01-31T00:00:00")
    license = cast(License, SimpleNamespace(last_check_in=checked_in, created_at=checked_in))
    policy = cast(
        Policy,
        SimpleNamespace(
            require_check_in=True, check_in_interval=CheckInInterval(interval), check_in_interval_count=count
        ),
    )
    assert overdue(license, policy, _at(now)) is late
    if interval == "month":
        assert next_check_in(license, policy) == _at("2025-02-28T00:00:00")


# -- heartbeats -----------------------------------------------------------------------------


async def test_a_policy_requiring_heartbeats_counts_them_from_activation(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """app/models/policy.rb ``set_default_heartbeat_basis``: FROM_CREATION when heartbeats are
    required, FROM_FIRST_PING otherwise (and whatever is sent wins)."""
    required = await factories.policy(client, acme, requireHeartbeat=True, heartbeatDuration=600)
    assert (await _policy_attributes(client, acme, required))["heartbeatBasis"] == "FROM_CREATION"
    optional = await factories.policy(client, acme)
    assert (await _policy_attributes(client, acme, optional))["heartbeatBasis"] == "FROM_FIRST_PING"
    chosen = await factories.policy(client, acme, requireHeartbeat=True, heartbeatBasis="FROM_FIRST_PING")
    assert (await _policy_attributes(client, acme, chosen))["heartbeatBasis"] == "FROM_FIRST_PING"

    license = await factories.license(client, acme, required)
    machine = await factories.machine(client, acme, license["id"], "fp")
    assert machine["attributes"]["heartbeatStatus"] == "ALIVE"
    validated = await client.post(
        f"{acme.base}/licenses/{license['id']}/actions/validate",
        json={"meta": {"scope": {"fingerprint": "fp"}}},
        headers=bearer(acme.key),
    )
    check_meta(validated.json(), True, "VALID", scope={"fingerprint": "fp"})


async def test_from_creation_makes_a_machine_alive_without_required_heartbeats(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """app/models/machine.rb: ``last_heartbeat_at ||= Time.current`` on create ``if:
    :heartbeat_from_creation?``, whatever ``requireHeartbeat`` says."""
    policy_id = await factories.policy(client, acme, heartbeatBasis="FROM_CREATION", heartbeatDuration=120)
    license = await factories.license(client, acme, policy_id)
    machine = await factories.machine(client, acme, license["id"], "fp")
    assert machine["attributes"]["heartbeatStatus"] == "ALIVE"
    assert machine["attributes"]["lastHeartbeat"] is not None
    clock.advance(timedelta(seconds=121))
    shown = await client.get(f"{acme.base}/machines/{machine['id']}", headers=bearer(acme.key))
    assert shown.json()["data"]["attributes"]["heartbeatStatus"] == "DEAD"


# -- end users ------------------------------------------------------------------------------


async def test_an_end_user_checks_in_their_own_unprotected_license(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """app/policies/license_policy.rb ``check_in?``: ``Role(:user) if record.owner == bearer``
    -> ``!record.protected?``."""
    user_id, key = await factories.role_key(app, client, acme, "user")
    check_in: dict[str, Any] = {"requireCheckIn": True, "checkInInterval": "day", "checkInIntervalCount": 1}
    open_policy = await factories.policy(client, acme, **check_in)
    guarded_policy = await factories.policy(client, acme, protected=True, **check_in)
    mine = await factories.license(client, acme, open_policy, owner=user_id)
    guarded = await factories.license(client, acme, guarded_policy, owner=user_id)
    theirs = await factories.license(client, acme, open_policy)

    checked = await client.post(f"{acme.base}/licenses/{mine['id']}/actions/check-in", headers=bearer(key))
    assert checked.status_code == 200, checked.text
    assert (await fetch(client, acme, mine["id"]))["attributes"]["lastCheckIn"] is not None
    denied(await client.post(f"{acme.base}/licenses/{guarded['id']}/actions/check-in", headers=bearer(key)))
    assert (await fetch(client, acme, guarded["id"]))["attributes"]["lastCheckIn"] is None
    jsonapi_error(
        await client.post(f"{acme.base}/licenses/{theirs['id']}/actions/check-in", headers=bearer(key)),
        404,
        "NOT_FOUND",
    )


def _license_body(policy_id: str, owner: str | None) -> dict[str, Any]:
    relationships: dict[str, Any] = {"policy": ref("policies", policy_id)}
    if owner is not None:
        relationships["user"] = ref("users", owner)
    return {"data": {"type": "licenses", "relationships": relationships}}


async def _license_count(client: httpx.AsyncClient, acme: Tenant) -> int:
    listed = await client.get(f"{acme.base}/licenses?limit=100", headers=bearer(acme.key))
    return len(listed.json()["data"])


async def test_an_end_user_creates_only_licenses_they_own(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """features/api/v1/licenses/create.feature: "User attempts to create a license without a
    user" (403), "... for another user" (403), "... with mismatched policy/user IDs" (422)."""
    user_id, key = await factories.role_key(app, client, acme, "user")
    policy_id = await factories.policy(client, acme)
    url = f"{acme.base}/licenses"
    denied(await client.post(url, json=_license_body(policy_id, None), headers=bearer(key)))
    denied(await client.post(url, json=_license_body(policy_id, str(acme.admin_id)), headers=bearer(key)))
    # No owner is a 403 whatever the policy names.
    denied(await client.post(url, json=_license_body(user_id, None), headers=bearer(key)))
    mismatched = await client.post(url, json=_license_body(user_id, user_id), headers=bearer(key))
    jsonapi_error(mismatched, 422, "POLICY_NOT_FOUND")
    assert await _license_count(client, acme) == 0
    created = await client.post(url, json=_license_body(policy_id, user_id), headers=bearer(key))
    assert created.status_code == 201, created.text
    assert created.json()["data"]["relationships"]["owner"]["data"]["id"] == user_id
    assert await _license_count(client, acme) == 1


# -- machines -------------------------------------------------------------------------------


@pytest.mark.parametrize("fingerprint", ["actions", "action"])
async def test_actions_is_not_a_fingerprint(
    client: httpx.AsyncClient, acme: Tenant, fingerprint: str
) -> None:
    """app/models/machine.rb: ``fingerprint`` excludes ``EXCLUDED_ALIASES`` (app/models/
    application_record.rb: ``%w[actions action]``), "is reserved"."""
    license = await factories.license(client, acme)
    response = await factories.activate(client, acme, license["id"], fingerprint)
    error = jsonapi_error(response, 422, "FINGERPRINT_NOT_ALLOWED")["errors"][0]
    assert error["detail"] == "is reserved"
    assert error["source"] == {"pointer": "/data/attributes/fingerprint"}
    listed = await client.get(f"{acme.base}/machines", headers=bearer(acme.key))
    assert listed.json()["data"] == []


@pytest.mark.parametrize(
    ("attributes", "code"),
    [
        ({"cores": 0}, "CORES_INVALID"),
        ({"memory": 0}, "MEMORY_INVALID"),
        ({"disk": 0}, "DISK_INVALID"),
        ({"cores": 2_147_483_648}, "CORES_TOO_LARGE"),  # past its column: the integer bound rule
    ],
)
async def test_machine_sizes_below_one_or_past_the_limit_are_refused(
    client: httpx.AsyncClient, acme: Tenant, attributes: dict[str, Any], code: str
) -> None:
    """app/models/machine.rb: cores 1..2147483647, memory and disk 1..9223372036854775807."""
    license = await factories.license(client, acme)
    response = await factories.activate(client, acme, license["id"], "fp", **attributes)
    assert response.status_code in (400, 422), response.text
    assert response.json()["errors"][0]["code"] == code
    listed = await client.get(f"{acme.base}/machines", headers=bearer(acme.key))
    assert listed.json()["data"] == []


async def test_machine_memory_and_disk_go_up_to_a_64_bit_integer(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    license = await factories.license(client, acme, policy={"floating": True, "maxMachines": 3})
    big: dict[str, Any] = {"cores": 2_147_483_647, "memory": BIGINT, "disk": BIGINT}
    first = await factories.machine(client, acme, license["id"], "big-1", **big)
    # A second such machine on the license: the sums exceed 64 bits, and still no error.
    second = await factories.machine(client, acme, license["id"], "big-2", **big)
    for machine in (first, second):
        shown = await client.get(f"{acme.base}/machines/{machine['id']}", headers=bearer(acme.key))
        attributes = shown.json()["data"]["attributes"]
        assert (attributes["cores"], attributes["memory"], attributes["disk"]) == (
            2_147_483_647,
            BIGINT,
            BIGINT,
        )
    too_big = await factories.activate(client, acme, license["id"], "big-3", memory=BIGINT + 1)
    assert too_big.status_code in (400, 422), too_big.text


# -- signed keys ----------------------------------------------------------------------------


def _dataset(key: str) -> str:
    encoded = key.removeprefix("key/").partition(".")[0]
    return base64.urlsafe_b64decode(encoded).decode()


async def _signed(client: httpx.AsyncClient, acme: Tenant, policy_id: str, key: str) -> httpx.Response:
    body = factories.document("licenses", {"key": key}, policy=policy_id)
    return await client.post(f"{acme.base}/licenses", json=body, headers=bearer(acme.key))


async def test_ed25519_sign_signs_any_non_empty_dataset(client: httpx.AsyncClient, acme: Tenant) -> None:
    """app/models/license.rb: a key is at least 1 character, and at least 6 only ``if: -> {
    key.present? && !scheme? }``."""
    signing = await factories.policy(client, acme, scheme="ED25519_SIGN")
    one = await _signed(client, acme, signing, "a")
    assert one.status_code == 201, one.text
    assert _dataset(one.json()["data"]["attributes"]["key"]) == "a"
    jsonapi_error(await _signed(client, acme, signing, ""), 422, "KEY_TOO_SHORT")
    jsonapi_error(await _signed(client, acme, signing, "actions"), 422, "KEY_NOT_ALLOWED")

    plain = await factories.policy(client, acme)
    short = jsonapi_error(await _signed(client, acme, plain, "abcde"), 422, "KEY_TOO_SHORT")
    assert short["errors"][0]["detail"] == "is too short (minimum is 6 characters)"
    assert (await _signed(client, acme, plain, "abcdef")).status_code == 201


async def test_unknown_template_variables_are_blanked(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """app/services/template_format_service.rb: ``/{{(\\w+)}}/`` replaced by
    ``vars[$1.underscore.parameterize(separator: '_')]`` (nil, so blank, when unknown); the
    variables are license.rb ``crypt_key``'s."""
    signing = await factories.policy(client, acme, scheme="ED25519_SIGN", duration=86_400)
    template = "{{id}}|{{ID}}|{{license}}|{{owner}}|{{createdAt}}|{{nope}}|{{ id }}|{{user}}|{{duration}}"
    response = await _signed(client, acme, signing, template)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    license_id = data["id"]
    assert _dataset(data["attributes"]["key"]) == f"{license_id}|{license_id}|||||{{{{ id }}}}||86400"


# -- routes under both prefixes -------------------------------------------------------------


async def test_ping_answers_under_both_prefixes(client: httpx.AsyncClient, acme: Tenant) -> None:
    """config/routes.rb: ``get :ping`` is in ``concern :v1``, mounted under ``accounts/
    :account_id`` and bare."""
    for path in ("/v1/ping", f"{acme.base}/ping", f"/v1/accounts/{acme.id}/ping"):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == {"message": "pong"}
    unknown = await client.get(f"/v1/accounts/{uuid.uuid4()}/ping")
    assert unknown.status_code == 404


def test_a_stored_upper_case_interval_reads_as_keygens_word() -> None:
    """Rows written before the interval took Keygen's words (the migration lowers them; a
    row it has not reached yet still reads right)."""
    for stored, word in (("DAY", "day"), ("WEEK", "week"), ("MONTH", "month"), ("YEAR", "year")):
        assert CheckInInterval(stored) is CheckInInterval(word)
    with pytest.raises(ValueError, match="is not a valid"):
        CheckInInterval("Month")


async def test_a_licenses_machines_relationship_adds_them_up(client: httpx.AsyncClient, acme: Tenant) -> None:
    """app/serializers/license_serializer.rb: ``relationship :machines`` carries ``meta``
    ``{cores, memory, disk, count}`` (its machines' sums, 0 for none)."""
    license = await factories.license(client, acme, policy={"floating": True, "maxMachines": 5})
    key = license["attributes"]["key"]
    assert license["relationships"]["machines"]["meta"] == {"count": 0, "cores": 0, "memory": 0, "disk": 0}
    first = await factories.machine(client, acme, license["id"], "a", cores=4, memory=8_000, disk=100)
    await factories.machine(client, acme, license["id"], "b", cores=2, memory=2**40)
    await factories.machine(client, acme, license["id"], "c")
    three = {"count": 3, "cores": 6, "memory": 8_000 + 2**40, "disk": 100}

    def meta(data: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = data["relationships"]["machines"]["meta"]
        return found

    assert meta(await fetch(client, acme, license["id"])) == three
    listed = await client.get(f"{acme.base}/licenses", headers=bearer(acme.key))
    assert meta(listed.json()["data"][0]) == three
    validate_key = f"{acme.base}/licenses/actions/validate-key"
    for _ in range(2):  # the second answer may come from the lean handler's cache
        validated = await client.post(validate_key, json={"meta": {"key": key}})
        assert meta(validated.json()["data"]) == three
    assert (
        await client.delete(f"{acme.base}/machines/{first['id']}", headers=bearer(acme.key))
    ).status_code == 204
    two = {"count": 2, "cores": 2, "memory": 2**40, "disk": 0}
    assert meta(await fetch(client, acme, license["id"])) == two
    assert meta((await client.post(validate_key, json={"meta": {"key": key}})).json()["data"]) == two
