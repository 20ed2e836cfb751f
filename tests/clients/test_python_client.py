"""The Python client (``keyplane_client``, sync and async) against a live ``keyplane serve``:
every call of the API-key API, every typed error, and a revoked key refused at the next
verification."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from keyplane_client import (
    BadRequest,
    CreatedApiKey,
    Forbidden,
    KeyplaneError,
    NotFound,
    RateLimit,
    RateLimited,
    Unauthorized,
    Unprocessable,
)

from tests.clients.python_client import KINDS, Connect, Keys, Kind, clients
from tests.clients.support import LiveAccount

pytestmark = pytest.mark.xdist_group("clients")
"""One worker runs these tests: the live server of ``conftest.live_account`` starts once per
module and database."""


@pytest.fixture(params=KINDS)
async def connect(request: pytest.FixtureRequest) -> AsyncIterator[Connect]:
    kind: Kind = request.param
    async with clients(kind) as made:
        yield made


@pytest.fixture
def admin(live_account: LiveAccount, connect: Connect) -> Keys:
    """The client acting with the account's admin key (every scope)."""
    return connect(live_account.base, live_account.api_key)


async def test_a_key_is_created_verified_read_updated_and_revoked(admin: Keys) -> None:
    created: CreatedApiKey = await admin.call(
        "create",
        name="billing service",
        scopes=["READ"],
        whitelisted_ips=["10.0.0.0/8"],
        rate_limit=RateLimit(limit=100, duration=3600),
    )
    assert created.key.startswith("kp_")
    assert created.key not in repr(created)
    assert (created.name, created.scopes, created.status) == ("billing service", ["READ"], "active")
    assert created.rate_limit == RateLimit(limit=100, duration=3600)

    verified = await admin.call("verify", created.key, ip="10.1.2.3", scopes=["READ"])
    assert (verified.valid, verified.code, verified.key_id) == (True, "VALID", created.id)
    assert (verified.owner_id, verified.scopes) == (created.owner_id, ["READ"])
    assert verified.rate_limit is not None
    assert (verified.rate_limit.limit, verified.rate_limit.remaining) == (100, 99)
    outside = await admin.call("verify", created.key, ip="192.0.2.1", scopes=["READ"])
    assert (outside.valid, outside.code) == (False, "IP_NOT_ALLOWED")
    beyond = await admin.call("verify", created.key, ip="10.1.2.3", scopes=["DELETE"])
    assert (beyond.valid, beyond.code) == (False, "INSUFFICIENT_SCOPE")

    updated = await admin.call("update", created.id, name="billing", whitelisted_ips=None)
    assert (updated.name, updated.whitelisted_ips, updated.scopes) == ("billing", None, ["READ"])
    stored = await admin.call("get", created.id)
    assert (stored.name, stored.whitelisted_ips, stored.rate_limit) == ("billing", None, created.rate_limit)
    anywhere = await admin.call("verify", created.key, ip="192.0.2.1")
    assert (anywhere.valid, anywhere.code) == (True, "VALID")

    assert await admin.call("delete", created.id) is None
    revoked = await admin.call("verify", created.key, ip="10.1.2.3")
    assert (revoked.valid, revoked.code) == (False, "REVOKED")


async def test_the_list_iterates_over_every_page(admin: Keys) -> None:
    prefix = f"paged-{uuid.uuid4().hex[:8]}"
    made = [(await admin.call("create", name=f"{prefix}-{n}", scopes=["READ"])).id for n in range(3)]
    listed = await admin.listed(name=prefix, page_size=1)
    assert [key.id for key in listed] == made[::-1]  # newest first, each once
    await admin.call("update", made[0], status="inactive")
    assert [key.id for key in await admin.listed(name=prefix, page_size=2)] == made[:0:-1]
    assert [key.id for key in await admin.listed(name=prefix, status="inactive")] == [made[0]]


async def test_refusals_raise_typed_errors(live_account: LiveAccount, admin: Keys, connect: Connect) -> None:
    with pytest.raises(Unauthorized) as unknown:
        await connect(live_account.base, "kp_" + "x" * 60).listed()
    assert unknown.value.status == 401
    assert unknown.value.request_id

    reader = await admin.call("create", name="reader", scopes=["READ"])
    with pytest.raises(Forbidden) as scope:
        await connect(live_account.base, reader.key).call("create", name="more", scopes=["READ"])
    assert (scope.value.status, scope.value.code) == (403, "INSUFFICIENT_SCOPE")

    with pytest.raises(NotFound) as missing:
        await admin.call("get", str(uuid.uuid4()))
    assert (missing.value.status, missing.value.code) == (404, "NOT_FOUND")

    with pytest.raises(Unprocessable) as rule:
        await admin.call("create", name="x" * 256)
    assert (rule.value.status, rule.value.field) == (422, "name")

    with pytest.raises(BadRequest) as malformed:
        await admin.call("get", "not-an-id")
    assert malformed.value.status == 400

    for error in (unknown, scope, missing, rule, malformed):
        assert isinstance(error.value, KeyplaneError)
        assert error.value.code in str(error.value)


async def _read_thrice(client: Keys, key_id: str) -> None:
    for _ in range(3):
        await client.call("get", key_id)


async def test_a_spent_rate_limit_raises_rate_limited(
    live_account: LiveAccount, admin: Keys, connect: Connect
) -> None:
    # A day-long window: of three calls, at most two fall on either side of its end.
    limited = await admin.call(
        "create", name="limited", scopes=["READ"], rate_limit=RateLimit(limit=1, duration=86_400)
    )
    with pytest.raises(RateLimited) as spent:
        await _read_thrice(connect(live_account.base, limited.key), limited.id)
    assert (spent.value.status, spent.value.code) == (429, "RATE_LIMITED")
    assert spent.value.retry_after is not None
    assert 0 < spent.value.retry_after <= 86_400
