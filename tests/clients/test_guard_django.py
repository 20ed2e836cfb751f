"""The Django REST framework guard (``keyplane_client.django.KeyplanePermission``) on a DRF
view, driven with DRF's ``APIRequestFactory`` while the guard asks a live ``keyplane serve``:
the answer to each verification code, revocation seen on the next request, the opt-in cache,
and Keyplane out of reach. The sync client runs in a thread, as a WSGI worker's would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import django
import pytest
from django.conf import settings

# Django is configured here, in-test, before DRF's views are imported (their class attributes
# read its settings). Nothing else in the suite uses Django.
if not settings.configured:
    settings.configure(
        SECRET_KEY="guard-tests-" + "z" * 40,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["rest_framework"],
        REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": [], "UNAUTHENTICATED_USER": None},
    )
    django.setup()

from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from keyplane_client import Keyplane, Retries
from keyplane_client import django as guard_module
from keyplane_client.django import KeyplanePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from tests.clients.guarded import (
    ANSWERS,
    Clock,
    Expected,
    closed_port_url,
    created,
    key_for,
    readme_example,
    revoke,
)
from tests.clients.support import LiveAccount

pytestmark = pytest.mark.xdist_group("clients")
"""One worker runs these tests: the live server of ``conftest.live_account`` starts once per
module and database."""

View = Callable[..., Any]


def guarded_view(permission: type[KeyplanePermission]) -> View:
    """The README's DRF view: one GET that needs a key with READ."""

    class Reports(APIView):  # type: ignore[misc]  # DRF is untyped
        permission_classes = (permission,)
        required_scopes = ("READ",)

        def get(self, request: Request) -> Response:
            key = request.keyplane
            return Response({"code": key.code, "keyId": key.key_id, "ownerId": key.owner_id})

    view: View = Reports.as_view()
    return view


@pytest.fixture
def keyplane(live_account: LiveAccount) -> Iterator[Keyplane]:
    with Keyplane(live_account.base, live_account.api_key) as client:
        yield client


class Answer:
    def __init__(self, response: Any) -> None:
        response.render()
        self.status: int = response.status_code
        self.headers: dict[str, str] = dict(response.items())
        self.text: str = response.content.decode()
        self.body: Any = json.loads(self.text)


async def call(
    view: View, key: str | None, *, header: str = "Authorization", ip: str = "127.0.0.1"
) -> Answer:
    meta = {"REMOTE_ADDR": ip}
    if key is not None:
        meta |= (
            {"HTTP_AUTHORIZATION": f"Bearer {key}"} if header == "Authorization" else {"HTTP_X_API_KEY": key}
        )
    request = APIRequestFactory().get("/reports", **meta)
    return Answer(await asyncio.to_thread(view, request))


def refused_with(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer.text
    assert set(answer.body) == {"detail"}
    assert answer.body["detail"]["code"] == code
    assert answer.body["detail"]["message"]


@pytest.mark.parametrize("expected", ANSWERS, ids=lambda expected: expected.code)
async def test_each_verification_code_gets_its_answer(
    expected: Expected, live_account: LiveAccount, database_url: str, keyplane: Keyplane
) -> None:
    key = await key_for(expected.code, live_account, database_url)

    answer = await call(guarded_view(KeyplanePermission.using(client=keyplane)), key)

    if expected.status == 200:
        assert answer.status == 200, answer.text
        assert answer.body["code"] == "VALID"
        return
    refused_with(answer, expected.status, expected.code)
    assert "Retry-After" not in answer.headers
    if key is not None:
        assert key not in answer.text


async def test_the_view_receives_the_verification_from_either_header(
    live_account: LiveAccount, keyplane: Keyplane
) -> None:
    made = created(live_account)
    view = guarded_view(KeyplanePermission.using(client=keyplane))

    for header in ("Authorization", "X-API-Key"):
        answer = await call(view, made["key"], header=header)
        assert answer.status == 200, answer.text
        assert answer.body == {"code": "VALID", "keyId": made["id"], "ownerId": made["userId"]}


async def test_the_request_address_is_the_one_verified(live_account: LiveAccount, keyplane: Keyplane) -> None:
    key = created(live_account, whitelistedIPs=["10.0.0.0/8"])["key"]
    view = guarded_view(KeyplanePermission.using(client=keyplane))

    assert (await call(view, key, ip="10.1.2.3")).status == 200
    refused_with(await call(view, key, ip="192.0.2.1"), 403, "IP_NOT_ALLOWED")


async def test_a_revoked_key_is_refused_on_the_next_request(
    live_account: LiveAccount, keyplane: Keyplane
) -> None:
    made = created(live_account)
    view = guarded_view(KeyplanePermission.using(client=keyplane))
    assert (await call(view, made["key"])).status == 200

    revoke(live_account, made["id"])

    refused_with(await call(view, made["key"]), 401, "REVOKED")


async def test_a_rate_limited_key_gets_429_with_retry_after(
    live_account: LiveAccount, keyplane: Keyplane
) -> None:
    key = created(live_account, rateLimit={"limit": 1, "duration": 86400})["key"]
    view = guarded_view(KeyplanePermission.using(client=keyplane))
    assert (await call(view, key)).status == 200

    answer = await call(view, key)

    refused_with(answer, 429, "RATE_LIMITED")
    assert 1 <= int(answer.headers["Retry-After"]) <= 86400


async def test_the_opt_in_cache_lets_a_revoked_key_pass_until_its_ttl_ends(
    live_account: LiveAccount, keyplane: Keyplane
) -> None:
    made = created(live_account)
    clock = Clock()
    view = guarded_view(KeyplanePermission.using(client=keyplane, cache_ttl=0.5, clock=clock))
    assert (await call(view, made["key"])).status == 200
    revoke(live_account, made["id"])

    clock.now += 0.4
    kept = await call(view, made["key"])
    clock.now += 0.1
    expired = await call(view, made["key"])

    assert kept.status == 200, "a valid answer is reused within the TTL"
    refused_with(expired, 401, "REVOKED")


def test_a_cache_ttl_beyond_one_second_is_refused() -> None:
    with Keyplane("http://127.0.0.1:1", "kp_unused") as client, pytest.raises(ValueError, match="cache_ttl"):
        KeyplanePermission.using(client=client, cache_ttl=1.5)


async def test_keyplane_out_of_reach_is_503_or_passes_when_failing_open() -> None:
    with Keyplane(closed_port_url(), "kp_unused", retries=Retries(attempts=0)) as unreachable:
        closed = await call(guarded_view(KeyplanePermission.using(client=unreachable)), "kp_any")
        opened = await call(
            guarded_view(KeyplanePermission.using(client=unreachable, fail_open=True)), "kp_any"
        )

    refused_with(closed, 503, "KEYPLANE_UNAVAILABLE")
    assert closed.headers["Retry-After"] == "1"
    assert opened.status == 200, opened.text
    assert opened.body == {"code": "UNVERIFIED", "keyId": None, "ownerId": None}


async def test_keyplane_refusing_the_guards_own_key_is_503_even_failing_open(
    live_account: LiveAccount,
) -> None:
    guard_key = created(live_account)
    revoke(live_account, guard_key["id"])
    customer = created(live_account)["key"]

    with Keyplane(live_account.base, guard_key["key"]) as refused:
        answer = await call(guarded_view(KeyplanePermission.using(client=refused, fail_open=True)), customer)

    refused_with(answer, 503, "KEYPLANE_REFUSED")
    assert customer not in answer.text


async def test_the_readmes_view_is_guarded_with_the_keyplane_of_djangos_settings(
    live_account: LiveAccount,
) -> None:
    view = readme_example("The same with Django REST framework")["Reports"].as_view()
    made = created(live_account)
    guard_module.default_client.cache_clear()
    guard_module.default_guard.cache_clear()
    try:
        with override_settings(KEYPLANE_URL=live_account.base, KEYPLANE_API_KEY=live_account.api_key):
            passed = await call(view, made["key"])
            revoke(live_account, made["id"])
            refused = await call(view, made["key"])
    finally:
        if guard_module.default_client.cache_info().currsize:
            guard_module.default_client().close()
        guard_module.default_client.cache_clear()
        guard_module.default_guard.cache_clear()

    assert passed.status == 200, passed.text
    assert passed.body == {"owner": made["userId"]}
    refused_with(refused, 401, "REVOKED")


def test_a_project_without_keyplanes_settings_is_told_which_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KEYPLANE_URL", raising=False)
    monkeypatch.delenv("KEYPLANE_API_KEY", raising=False)
    guard_module.default_client.cache_clear()
    try:
        with (
            override_settings(KEYPLANE_URL="http://127.0.0.1:1"),
            pytest.raises(ImproperlyConfigured, match="KEYPLANE_API_KEY") as refused,
        ):
            guard_module.default_client()
    finally:
        guard_module.default_client.cache_clear()
    assert "KEYPLANE_URL" not in str(refused.value)
