"""The guards' rules (``keyplane_client.guard``), without HTTP: the answer to every code the
server can send, where the key is read from, which address is sent, what an outage or a
refusal of the guard's own key becomes, and the opt-in cache."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from typing import Any

import pytest
from keyplane_client import (
    Forbidden,
    KeyplaneError,
    RateLimited,
    RateLimitStatus,
    Unauthorized,
    Unavailable,
    Unprocessable,
    Unreachable,
    Verification,
)
from keyplane_client.guard import (
    ANSWERS,
    MAX_CACHE_TTL,
    Refusal,
    VerificationCache,
    cache_for,
    client_ip,
    failed,
    judge,
    presented_key,
    settings_from,
)
from packaging.requirements import Requirement

from keyplane.credentials.engine import Outcome
from tests.clients.guarded import Clock

NOW = 1_800_000_000.0


def test_the_guard_answers_every_code_the_server_sends() -> None:
    assert set(ANSWERS) == {outcome.value for outcome in Outcome}


def _verification(code: str, rate: RateLimitStatus | None = None) -> Verification:
    return Verification(valid=code == "VALID", code=code, detail="...", rate_limit=rate)


@pytest.mark.parametrize(
    ("code", "rate", "status", "retry_after"),
    [
        ("VALID", None, None, None),
        ("VALID", RateLimitStatus(limit=5, remaining=4, reset=int(NOW) + 60), None, None),
        ("MALFORMED", None, 401, None),
        ("NOT_FOUND", None, 401, None),
        ("REVOKED", None, 401, None),
        ("INACTIVE", None, 401, None),
        ("EXPIRED", None, 401, None),
        ("IP_NOT_ALLOWED", None, 403, None),
        ("INSUFFICIENT_SCOPE", None, 403, None),
        ("RATE_LIMITED", RateLimitStatus(limit=5, remaining=0, reset=int(NOW) + 42), 429, 42),
        ("RATE_LIMITED", RateLimitStatus(limit=5, remaining=0, reset=int(NOW)), 429, 1),
        ("RATE_LIMITED", None, 429, 1),
        ("A_CODE_FROM_A_NEWER_SERVER", None, 401, None),
    ],
)
def test_each_code_is_let_through_or_refused(
    code: str, rate: RateLimitStatus | None, status: int | None, retry_after: int | None
) -> None:
    refusal = judge(_verification(code, rate), NOW)

    if status is None:
        assert refusal is None
        return
    assert refusal is not None
    assert (refusal.status, refusal.code, refusal.retry_after) == (status, code, retry_after)
    assert refusal.body() == {"detail": {"code": code, "message": refusal.message}}


@pytest.mark.parametrize(
    ("authorization", "x_api_key", "key"),
    [
        ("Bearer kp_abc", None, "kp_abc"),
        ("bearer   kp_abc  ", None, "kp_abc"),
        (None, "kp_abc", "kp_abc"),
        ("Bearer kp_one", "kp_two", "kp_one"),
        ("Basic dXNlcjpwYXNz", "kp_two", "kp_two"),
        ("Basic dXNlcjpwYXNz", None, None),
        ("Bearer ", None, None),
        ("", "  ", None),
        (None, None, None),
    ],
)
def test_the_key_is_read_from_bearer_then_x_api_key(
    authorization: str | None, x_api_key: str | None, key: str | None
) -> None:
    assert presented_key(authorization, x_api_key) == key


@pytest.mark.parametrize(
    ("host", "sent"),
    [
        ("10.1.2.3", "10.1.2.3"),
        ("2001:DB8::1", "2001:db8::1"),
        ("testclient", None),
        ("", None),
        (None, None),
    ],
)
def test_only_an_ip_address_is_sent(host: str | None, sent: str | None) -> None:
    assert client_ip(host) == sent


def _error(kind: type[KeyplaneError], **details: Any) -> KeyplaneError:
    status = {Unauthorized: 401, Forbidden: 403, Unprocessable: 422, RateLimited: 429, Unavailable: 503}
    return kind("refused", code="SOME_CODE", status=status.get(kind), **details)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_error(Unreachable), Refusal(503, "KEYPLANE_UNAVAILABLE", "", 1)),
        (_error(Unavailable, retry_after=7), Refusal(503, "KEYPLANE_UNAVAILABLE", "", 7)),
        (_error(Unavailable, retry_after=None), Refusal(503, "KEYPLANE_UNAVAILABLE", "", 1)),
        (_error(Unauthorized), Refusal(503, "KEYPLANE_REFUSED", "", None)),
        (_error(Forbidden), Refusal(503, "KEYPLANE_REFUSED", "", None)),
        (_error(RateLimited, retry_after=3), Refusal(503, "KEYPLANE_REFUSED", "", 3)),
        (_error(Unprocessable, field="key"), Refusal(401, "MALFORMED", "", None)),
        (_error(Unprocessable, field="ip"), Refusal(503, "KEYPLANE_REFUSED", "", None)),
    ],
)
def test_a_key_keyplane_did_not_verify(error: KeyplaneError, expected: Refusal) -> None:
    refusal = failed(error)

    assert (refusal.status, refusal.code, refusal.retry_after) == (
        expected.status,
        expected.code,
        expected.retry_after,
    )
    assert refusal.message


@pytest.mark.parametrize("ttl", [-1.0, MAX_CACHE_TTL + 0.001, 5.0])
def test_a_cache_longer_than_the_revocation_bound_is_refused(ttl: float) -> None:
    with pytest.raises(ValueError, match="cache_ttl"):
        cache_for(ttl, Clock())


def test_no_cache_by_default_and_up_to_one_second_on_request() -> None:
    assert cache_for(0, Clock()) is None
    cache = cache_for(MAX_CACHE_TTL, Clock())
    assert cache is not None
    assert cache.ttl == 1.0


def test_the_cache_keeps_a_valid_answer_for_its_ttl_only() -> None:
    clock = Clock()
    cache = VerificationCache(0.5, clock=clock)
    cache.put("kp_a", "10.0.0.1", ["READ"], _verification("VALID"))

    clock.now += 0.49
    kept = cache.get("kp_a", "10.0.0.1", ["READ"])
    clock.now += 0.01
    gone = cache.get("kp_a", "10.0.0.1", ["READ"])

    assert kept == _verification("VALID")
    assert gone is None


def test_the_cache_tells_keys_addresses_and_scopes_apart() -> None:
    cache = VerificationCache(1.0, clock=Clock())
    cache.put("kp_a", "10.0.0.1", ["READ", "CREATE"], _verification("VALID"))

    assert cache.get("kp_a", "10.0.0.1", ["CREATE", "READ"]) is not None
    assert cache.get("kp_b", "10.0.0.1", ["READ", "CREATE"]) is None
    assert cache.get("kp_a", "10.0.0.2", ["READ", "CREATE"]) is None
    assert cache.get("kp_a", "10.0.0.1", ["READ"]) is None


def test_the_cache_keeps_no_refusal_and_no_rate_limited_key() -> None:
    cache = VerificationCache(1.0, clock=Clock())
    budget = RateLimitStatus(limit=5, remaining=4, reset=int(NOW) + 60)
    cache.put("kp_refused", None, [], _verification("REVOKED"))
    cache.put("kp_limited", None, [], _verification("VALID", budget))

    assert cache.get("kp_refused", None, []) is None
    assert cache.get("kp_limited", None, []) is None


def test_the_cache_is_bounded_and_drops_the_oldest_first() -> None:
    cache = VerificationCache(1.0, size=2, clock=Clock())
    for key in ("kp_1", "kp_2", "kp_3"):
        cache.put(key, None, [], _verification("VALID"))

    assert [cache.get(key, None, []) is not None for key in ("kp_1", "kp_2", "kp_3")] == [False, True, True]


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({}, "KEYPLANE_URL and KEYPLANE_API_KEY"),
        ({"KEYPLANE_URL": "http://k"}, "KEYPLANE_API_KEY"),
        ({"KEYPLANE_API_KEY": "kp_x", "KEYPLANE_URL": ""}, "KEYPLANE_URL"),
    ],
)
def test_missing_settings_are_named(values: dict[str, str | None], missing: str) -> None:
    with pytest.raises(ValueError, match=f"set {missing} "):
        settings_from(values)


def test_settings_are_read() -> None:
    assert settings_from({"KEYPLANE_URL": "http://k", "KEYPLANE_API_KEY": "kp_x"}) == ("http://k", "kp_x")


def test_the_frameworks_are_extras_and_the_base_install_needs_neither() -> None:
    needs: dict[str, set[str]] = {}
    for line in metadata.requires("keyplane-client") or []:
        requirement = Requirement(line)
        extra = "" if requirement.marker is None else str(requirement.marker).split('"')[1]
        needs.setdefault(extra, set()).add(requirement.name)

    assert needs == {
        "": {"httpx", "pydantic"},
        "fastapi": {"fastapi"},
        "django": {"django", "djangorestframework"},
    }


def test_the_client_and_the_guards_rules_import_no_web_framework() -> None:
    frameworks = ("fastapi", "starlette", "django", "rest_framework")
    code = (
        "import sys, keyplane_client, keyplane_client.guard; "
        f"print([name for name in {frameworks!r} if name in sys.modules])"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, our own fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert done.stdout.strip() == "[]"
