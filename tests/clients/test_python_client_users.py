"""The Python client's ``users``, sync and async, against a live ``keyplane serve``: every call,
paging across pages, a typed error each, and a password that is used but never shown."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from keyplane_client import Forbidden, NotFound, Unprocessable, User
from keyplane_client import _users as calls

from tests.clients.python_client import KINDS, Connect, Keys, Kind, clients
from tests.clients.support import LiveAccount

pytestmark = pytest.mark.xdist_group("clients")
"""One worker runs these tests: the live server of ``conftest.live_account`` starts once per
module and database."""

PASSWORD = "a customer's long password"


@pytest.fixture(params=KINDS)
async def connect(request: pytest.FixtureRequest) -> AsyncIterator[Connect]:
    kind: Kind = request.param
    async with clients(kind) as made:
        yield made


@pytest.fixture
def admin(live_account: LiveAccount, connect: Connect) -> Keys:
    """The client acting with the account's admin key (every scope)."""
    return connect(live_account.base, live_account.api_key)


def _email() -> str:
    return f"{uuid.uuid4().hex[:12]}@customer.test"


def _logs_in(live_account: LiveAccount, email: str, password: str) -> bool:
    """Whether ``POST /tokens`` with this email and password gives a token."""
    response = httpx.post(f"{live_account.base}/v1/tokens", auth=(email, password), timeout=30)
    return response.status_code == 201


async def test_a_user_is_created_read_changed_and_deleted(live_account: LiveAccount, admin: Keys) -> None:
    users = admin.of("users")
    email = _email()
    made: User = await users.call("create", email=email, password=PASSWORD, first_name="Ada", last_name="L")
    assert (made.email, made.role, made.full_name, made.status) == (email, "user", "Ada L", "ACTIVE")
    assert PASSWORD not in repr(made) + str(made.model_dump())
    assert _logs_in(live_account, email, PASSWORD)

    assert await users.call("get", made.id) == made
    assert (await users.call("get", email)).id == made.id

    changed = await users.call("update", made.id, first_name=None, role="support-agent")
    assert (changed.first_name, changed.last_name, changed.role) == (None, "L", "support-agent")
    await users.call("update", made.id, password="another long password")
    assert not _logs_in(live_account, email, PASSWORD)
    assert _logs_in(live_account, email, "another long password")

    assert await users.call("delete", made.id) is None
    with pytest.raises(NotFound) as gone:
        await users.call("get", made.id)
    assert (gone.value.status, gone.value.code) == (404, "NOT_FOUND")


async def test_the_user_list_iterates_over_every_page(admin: Keys) -> None:
    users = admin.of("users")
    made = [(await users.call("create", email=_email(), role="sales-agent")).id for _ in range(3)]
    listed = [user.id for user in await users.listed(role="sales-agent", page_size=1)]
    assert listed[:3] == made[::-1]  # newest first, each once
    assert len(listed) == len(set(listed))
    assert all(user.role == "sales-agent" for user in await users.listed(role="sales-agent", page_size=2))


async def test_user_refusals_raise_typed_errors_that_never_show_the_password(
    live_account: LiveAccount, admin: Keys, connect: Connect
) -> None:
    users = admin.of("users")
    email = _email()
    await users.call("create", email=email, password=PASSWORD)
    with pytest.raises(Unprocessable) as taken:
        await users.call("create", email=email, password=PASSWORD)
    assert (taken.value.code, taken.value.field) == ("EMAIL_TAKEN", "/data/attributes/email")
    assert PASSWORD not in str(taken.value)

    with pytest.raises(Unprocessable) as short:
        await users.call("create", email=_email(), password="Zq7!x")
    assert (short.value.status, short.value.field) == (422, "/data/attributes/password")
    assert "Zq7!x" not in str(short.value)

    reader = await admin.call("create", name="reader", scopes=["READ"])
    with pytest.raises(Forbidden) as refused:
        await connect(live_account.base, reader.key).of("users").call("create", email=_email())
    assert (refused.value.status, refused.value.code) == (403, "INSUFFICIENT_SCOPE")

    with pytest.raises(NotFound):
        await users.call("update", str(uuid.uuid4()), first_name="Nobody")
    assert PASSWORD not in repr(
        calls.create(email=email, password=PASSWORD, first_name=None, last_name=None, role=None)
    )
