"""The Python client's licensing resources (``licenses``, ``pool``, ``events``), sync and async,
against a live ``keyplane serve``: every call, paging across pages, and a typed error each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from keyplane_client import (
    BadRequest,
    Forbidden,
    License,
    NotFound,
    Refused,
    Unprocessable,
)

from tests.clients.python_client import KINDS, Connect, Keys, Kind, clients
from tests.clients.support import LiveAccount

pytestmark = pytest.mark.xdist_group("clients")
"""One worker runs these tests: the live server of ``conftest.live_account`` starts once per
module and database."""

MONTH = 30 * 86_400


@pytest.fixture(params=KINDS)
async def connect(request: pytest.FixtureRequest) -> AsyncIterator[Connect]:
    kind: Kind = request.param
    async with clients(kind) as made:
        yield made


@pytest.fixture
def admin(live_account: LiveAccount, connect: Connect) -> Keys:
    """The client acting with the account's admin key (every scope)."""
    return connect(live_account.base, live_account.api_key)


async def _reader(admin: Keys, connect: Connect, live_account: LiveAccount) -> Keys:
    """A client acting with a READ-only key of the admin's."""
    made = await admin.call("create", name="reader", scopes=["READ"])
    return connect(live_account.base, made.key)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12].upper()}"


# -- licenses --------------------------------------------------------------------------------------


async def test_a_license_is_issued_found_changed_suspended_renewed_and_revoked(
    live_account: LiveAccount, admin: Keys
) -> None:
    licenses, users = admin.of("licenses"), admin.of("users")
    policy = live_account.policy(live_account.product(), duration=MONTH)
    email = f"{uuid.uuid4().hex[:10]}@customer.test"
    owner = await users.call("create", email=email, password="a customer password")

    made: License = await licenses.call(
        "create", policy=policy, user=owner.id, name="Desk 1", metadata={"seats": 3}
    )
    assert (made.policy_id, made.owner_id, made.name, made.metadata) == (
        policy,
        owner.id,
        "Desk 1",
        {"seats": 3},
    )
    assert (made.status, made.suspended, made.uses) == ("ACTIVE", False, 0)
    assert made.key
    assert made.key not in repr(made)
    assert made.expiry is not None

    assert await licenses.call("get", made.id) == made
    assert (await licenses.call("get", made.key)).id == made.id
    assert [found.id for found in await licenses.call("find", key=made.key)] == [made.id]
    assert await licenses.call("find", key=_unique("NO-SUCH-KEY")) == []
    assert [found.id for found in await licenses.call("find", email=email)] == [made.id]
    with pytest.raises(ValueError, match="a key or an email"):
        await licenses.call("find")

    later = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    changed = await licenses.call("update", made.id, name=None, expiry=later, metadata={"seats": 5})
    assert (changed.name, changed.expiry, changed.metadata) == (None, later, {"seats": 5})
    assert (await licenses.call("get", made.id)).name is None

    suspended = await licenses.call("suspend", made.id)
    assert (suspended.suspended, suspended.status) == (True, "SUSPENDED")
    reinstated = await licenses.call("reinstate", made.id)
    assert (reinstated.suspended, reinstated.status) == (False, "ACTIVE")
    renewed = await licenses.call("renew", made.id)
    assert renewed.expiry == later + timedelta(seconds=MONTH)

    assert await licenses.call("revoke", made.id) is None
    with pytest.raises(NotFound):
        await licenses.call("get", made.id)
    other = await licenses.call("create", policy=policy)
    assert other.owner_id is None
    assert await licenses.call("delete", other.id) is None
    assert await licenses.call("find", key=other.key) == []


async def test_the_license_list_iterates_over_every_page_with_its_filters(
    live_account: LiveAccount, admin: Keys
) -> None:
    licenses = admin.of("licenses")
    product = live_account.product()
    policy = live_account.policy(product)
    made = [(await licenses.call("create", policy=policy, name=f"n{n}")).id for n in range(3)]
    assert [found.id for found in await licenses.listed(policy=policy, page_size=1)] == made[::-1]
    assert [found.id for found in await licenses.listed(product=product, page_size=2)] == made[::-1]
    await licenses.call("suspend", made[1])
    assert [found.id for found in await licenses.listed(policy=policy, status="SUSPENDED")] == [made[1]]
    assert [found.id for found in await licenses.listed(policy=policy, status="ACTIVE")] == [made[2], made[0]]


async def test_license_refusals_raise_typed_errors(
    live_account: LiveAccount, admin: Keys, connect: Connect
) -> None:
    licenses = admin.of("licenses")
    with pytest.raises(NotFound) as missing:
        await licenses.call("get", str(uuid.uuid4()))
    assert (missing.value.status, missing.value.code) == (404, "NOT_FOUND")
    assert missing.value.request_id

    with pytest.raises(Unprocessable) as rule:
        await licenses.call("create", policy=str(uuid.uuid4()))
    assert (rule.value.code, rule.value.field) == ("POLICY_NOT_FOUND", "/data/relationships/policy")

    policy = live_account.policy(live_account.product())
    reader = (await _reader(admin, connect, live_account)).of("licenses")
    with pytest.raises(Forbidden) as refused:
        await reader.call("create", policy=policy)
    assert (refused.value.status, refused.value.code) == (403, "INSUFFICIENT_SCOPE")
    assert await licenses.listed(policy=policy) == []

    made = await licenses.call("create", policy=policy)
    with pytest.raises(Unprocessable) as not_suspended:
        await licenses.call("reinstate", made.id)
    assert not_suspended.value.code == "LICENSE_NOT_SUSPENDED"
    with pytest.raises(BadRequest) as bad_filter:
        await licenses.listed(policy="not-an-id")
    assert bad_filter.value.status == 400
    assert bad_filter.value.code in str(bad_filter.value)


# -- the pool --------------------------------------------------------------------------------------


async def test_an_import_adds_each_key_once_and_reports_every_line(
    live_account: LiveAccount, admin: Keys
) -> None:
    pool = admin.of("pool")
    product = live_account.product()
    policy = live_account.policy(product, usePool=True)
    other = live_account.policy(product, usePool=True)
    elsewhere = _unique("ELSEWHERE")
    assert (await pool.call("import_keys", other, [elsewhere])).added == 1
    prefix = _unique("IMPORTED")
    keys = [f"{prefix}-{n:05d}" for n in range(2_500)]
    keys[10], keys[1_500], keys[2_001], keys[2_002] = "short", elsewhere, keys[3], keys[2_000]

    report = await pool.call("import_keys", policy, iter(keys), batch=1_000)
    # Line 2,002 repeats line 4 of an earlier batch (present by then); line 2,003 repeats
    # line 2,001 of its own batch (a duplicate, refused).
    assert (report.added, report.present) == (2_496, [2_002])
    assert report.refused == [
        Refused(11, "short", "KEY_TOO_SHORT", "is too short (minimum is 8 characters)"),
        Refused(1_501, elsewhere, "KEY_TAKEN", "has already been taken"),
        Refused(2_003, keys[2_000], "KEY_TAKEN", "duplicates line 1"),
    ]
    assert keys[2_000] not in repr(report.refused[2])

    again = await pool.call("import_keys", policy, keys, batch=700)
    assert (again.added, [r.line for r in again.refused]) == (0, [11, 1_501])
    assert again.present == [line for line in range(1, 2_501) if line not in (11, 1_501)]
    assert len(await pool.listed(policy)) == 2_496


async def test_the_pool_is_listed_read_and_popped(live_account: LiveAccount, admin: Keys) -> None:
    pool = admin.of("pool")
    policy = live_account.policy(live_account.product(), usePool=True)
    keys = [_unique("POOLED") for _ in range(3)]
    await pool.call("import_keys", policy, keys)

    listed = await pool.listed(policy, page_size=2)
    assert [key.key for key in listed] == keys[::-1]  # newest first: the last imported
    assert all(key.policy_id == policy and key.key not in repr(key) for key in listed)
    assert await pool.call("get", policy, listed[1].id) == listed[1]
    popped = await pool.call("pop", policy)
    assert popped.id == listed[0].id
    assert [key.id for key in await pool.listed(policy)] == [key.id for key in listed[1:]]


async def test_pool_refusals_raise_typed_errors(
    live_account: LiveAccount, admin: Keys, connect: Connect
) -> None:
    pool = admin.of("pool")
    product = live_account.product()
    pooled, plain = live_account.policy(product, usePool=True), live_account.policy(product)
    with pytest.raises(NotFound):
        await pool.call("get", pooled, str(uuid.uuid4()))
    with pytest.raises(Unprocessable) as empty:
        await pool.call("pop", pooled)
    assert empty.value.code == "POOL_EMPTY"
    with pytest.raises(Unprocessable) as unpooled:
        await pool.call("import_keys", plain, [_unique("PLAIN")])
    assert (unpooled.value.code, unpooled.value.field) == (
        "POLICY_NOT_SUPPORTED",
        "/data/relationships/policy",
    )
    reader = (await _reader(admin, connect, live_account)).of("pool")
    with pytest.raises(Forbidden):
        await reader.call("import_keys", pooled, [_unique("READER")])
    assert await pool.listed(pooled) == []
    with pytest.raises(ValueError, match="batch"):
        await pool.call("import_keys", pooled, ["x"], batch=1_001)


# -- events ----------------------------------------------------------------------------------------


async def test_events_are_listed_newest_first_across_pages_with_filters(
    live_account: LiveAccount, admin: Keys, connect: Connect
) -> None:
    licenses, events = admin.of("licenses"), admin.of("events")
    made = await licenses.call("create", policy=live_account.policy(live_account.product()), name="logged")
    await licenses.call("update", made.id, name="logged again")
    await licenses.call("suspend", made.id)

    logged = await events.listed(resource_type="license", resource_id=made.id, page_size=1)
    assert [event.event for event in logged] == ["license.suspended", "license.updated", "license.created"]
    first = logged[-1]
    assert (first.resource_type, first.resource_id) == ("licenses", made.id)
    assert (first.whodunnit_type, first.request_id is not None) == ("api-keys", True)
    assert first.whodunnit_id
    assert logged[1].metadata["diff"]["name"] == ["logged", "logged again"]

    only = await events.listed(event="license.updated", resource_type="license", resource_id=made.id)
    assert [event.id for event in only] == [logged[1].id]
    by_key = await events.listed(
        whodunnit_type="api-key",
        whodunnit_id=first.whodunnit_id,
        resource_type="license",
        resource_id=made.id,
    )
    assert [event.id for event in by_key] == [event.id for event in logged]
    today = datetime.now(UTC).date()
    assert len(await events.listed(resource_type="license", resource_id=made.id, start=today, end=today)) == 3
    long_ago = today - timedelta(days=400)
    assert (
        await events.listed(resource_type="license", resource_id=made.id, start=long_ago, end=long_ago) == []
    )

    with pytest.raises(BadRequest) as bad:
        await events.listed(whodunnit_type="alien")
    assert bad.value.field == "whodunnit[type]"
    staff = await admin.of("users").call(
        "create", email=f"{_unique('agent').lower()}@vendor.test", role="support-agent"
    )
    agent = await admin.call("create", name="agent", scopes=["READ"], owner_id=staff.id)
    with pytest.raises(Forbidden) as not_admin:
        await connect(live_account.base, agent.key).of("events").listed()
    assert not_admin.value.code == "ACCESS_DENIED"
