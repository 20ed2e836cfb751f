"""``keyplane admin``: the operator's way back in (a lost password, a lost admin key), on
SQLite and PostgreSQL, through the same rules as the API, recorded as done by the system."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyplane.cli import prompts
from keyplane.config import Settings
from keyplane.kit.credentials import CREDENTIAL_PATTERN
from tests.auth.support import basic
from tests.cli.support import PASSWORD, api, empty, init, keyplane, operate, refused
from tests.factories import bearer

NEW_PASSWORD = "the new admin password"


@pytest.fixture
def operator(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Commands run on the test's database with its secret; every row goes afterwards."""
    operate(
        monkeypatch,
        tmp_path,
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        data_dir=str(tmp_path / "data"),
    )
    try:
        yield settings
    finally:
        empty(settings.database_url)


async def _system_events(
    http: httpx.AsyncClient, key: str, event: str, **filters: str
) -> list[dict[str, Any]]:
    response = await http.get(
        "/v1/accounts/acme/event-logs",
        params={"event": event, "whodunnit[type]": "system", **filters},
        headers=bearer(key),
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_reset_password_signs_in_with_the_new_one_and_ends_the_old_tokens(operator: Settings) -> None:
    made = init()

    async def before(http: httpx.AsyncClient) -> str:
        signed_in = await http.post("/v1/accounts/acme/tokens", headers=basic("a@acme.test", PASSWORD))
        assert signed_in.status_code == 201, signed_in.text
        token = str(signed_in.json()["data"]["attributes"]["token"])
        assert (await http.get("/v1/accounts/acme/me", headers=bearer(token))).status_code == 200
        return token

    token = api(operator, before)

    done = keyplane(
        "admin",
        "reset-password",
        "a@acme.test",
        "--account",
        "acme",
        "--password-stdin",
        input=f"{NEW_PASSWORD}\n",
    )

    assert done.exit_code == 0, done.output
    assert done.stdout == ""
    assert "a@acme.test" in done.stderr
    assert NEW_PASSWORD not in done.output

    async def after(http: httpx.AsyncClient) -> None:
        assert (await http.get("/v1/accounts/acme/me", headers=bearer(token))).status_code == 401
        old = await http.post("/v1/accounts/acme/tokens", headers=basic("a@acme.test", PASSWORD))
        assert old.status_code == 401
        new = await http.post("/v1/accounts/acme/tokens", headers=basic("a@acme.test", NEW_PASSWORD))
        assert new.status_code == 201, new.text
        # API keys are not the password's: the admin key still works.
        assert (await http.get("/v1/accounts/acme/me", headers=bearer(made["apiKey"]))).status_code == 200
        [updated] = await _system_events(http, made["apiKey"], "user.updated")
        assert updated["relationships"]["resource"]["data"] == {"type": "users", "id": made["userId"]}
        assert updated["attributes"]["metadata"]["diff"] == {"passwordHash": [None, None]}
        revoked = await _system_events(http, made["apiKey"], "token.revoked")
        assert len(revoked) == 1

    api(operator, after)


def test_reset_password_without_account_takes_the_only_one_and_asks_twice(
    operator: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    init()
    monkeypatch.setattr(prompts, "interactive", lambda: True)

    done = keyplane("admin", "reset-password", "A@Acme.test", input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")

    assert done.exit_code == 0, done.output
    assert NEW_PASSWORD not in done.output

    async def after(http: httpx.AsyncClient) -> None:
        new = await http.post("/v1/accounts/acme/tokens", headers=basic("a@acme.test", NEW_PASSWORD))
        assert new.status_code == 201, new.text

    api(operator, after)


@pytest.mark.parametrize(
    ("args", "typed", "expected"),
    [
        (
            ["nobody@acme.test", "--account", "acme"],
            NEW_PASSWORD,
            "no user 'nobody@acme.test' in account acme",
        ),
        (["a@acme.test", "--account", "globex"], NEW_PASSWORD, "no account 'globex'"),
        (["a@acme.test"], "short", "at least 8 characters"),
        (["a@acme.test"], "x" * 1025, "at most 1024 characters"),
        (["a@acme.test"], f"{NEW_PASSWORD}\n{NEW_PASSWORD}!", "the two new passwords differ"),
        (["a@acme.test"], "", "no new password on stdin"),
    ],
)
def test_reset_password_refusals_are_one_line_and_change_nothing(
    operator: Settings, monkeypatch: pytest.MonkeyPatch, args: list[str], typed: str, expected: str
) -> None:
    made = init()
    if "\n" in typed:
        monkeypatch.setattr(prompts, "interactive", lambda: True)  # asked twice, answered apart

    done = keyplane("admin", "reset-password", *args, input=f"{typed}\n")
    line = refused(done, expected, prompted="\n" in typed)

    assert NEW_PASSWORD not in line

    async def after(http: httpx.AsyncClient) -> None:
        old = await http.post("/v1/accounts/acme/tokens", headers=basic("a@acme.test", PASSWORD))
        assert old.status_code == 201, old.text
        assert await _system_events(http, made["apiKey"], "user.updated") == []

    api(operator, after)


def test_create_key_makes_a_recovery_key_that_verifies(operator: Settings) -> None:
    made = init()

    done = keyplane(
        "admin", "create-key", "--account", "acme", "--email", "a@acme.test", "--scopes", "READ,CREATE"
    )

    assert done.exit_code == 0, done.output
    key = done.stdout.strip()
    assert CREDENTIAL_PATTERN.fullmatch(key), done.stdout
    assert "shown this once" in done.stderr
    assert key not in done.stderr

    async def after(http: httpx.AsyncClient) -> None:
        admin = bearer(made["apiKey"])
        verified = await http.post(
            "/v1/accounts/acme/api-keys/verify", json={"key": key, "scopes": ["READ"]}, headers=admin
        )
        assert verified.status_code == 200, verified.text
        body = verified.json()
        assert (body["valid"], body["code"], body["userId"]) == (True, "VALID", made["userId"])
        assert body["scopes"] == ["READ", "CREATE"]
        beyond = await http.post(
            "/v1/accounts/acme/api-keys/verify", json={"key": key, "scopes": ["MANAGE"]}, headers=admin
        )
        assert beyond.json()["valid"] is False
        # The key works on Keyplane's own API too, as its owner.
        assert (await http.get("/v1/accounts/acme/me", headers=bearer(key))).status_code == 200
        by_key = {"resource[type]": "api-key", "resource[id]": body["keyId"]}
        [created] = await _system_events(http, made["apiKey"], "api-key.created", **by_key)
        assert created["relationships"]["whodunnit"] == {"data": None}

    api(operator, after)


def test_create_key_as_json(operator: Settings) -> None:
    made = init()
    done = keyplane(
        "admin", "create-key", "--account", "acme", "--email", "a@acme.test", "--scopes", "READ", "--json"
    )
    assert done.exit_code == 0, done.output
    assert done.stderr == ""
    result = httpx.Response(200, content=done.stdout).json()
    assert set(result) == {"id", "accountSlug", "userId", "key"}
    assert result["userId"] == made["userId"]
    assert CREDENTIAL_PATTERN.fullmatch(result["key"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--email", "a@acme.test", "--scopes", "READ,EVERYTHING"], "--scopes:"),
        (["--email", "nobody@acme.test", "--scopes", "READ"], "no user 'nobody@acme.test' in account acme"),
        (["--email", "a@acme.test", "--scopes", ""], "A key needs at least one scope"),
    ],
)
def test_create_key_refusals_are_one_line_and_make_nothing(
    operator: Settings, args: list[str], expected: str
) -> None:
    made = init()

    refused(keyplane("admin", "create-key", "--account", "acme", *args), expected)

    async def after(http: httpx.AsyncClient) -> None:
        listed = await http.get("/v1/accounts/acme/api-keys", headers=bearer(made["apiKey"]))
        assert listed.json()["total"] == 1  # the admin key of init alone

    api(operator, after)


def test_create_key_for_an_end_user_cannot_hold_what_their_role_cannot(operator: Settings) -> None:
    made = init()

    async def customer(http: httpx.AsyncClient) -> None:
        body = {"data": {"type": "users", "attributes": {"email": "c@acme.test", "role": "user"}}}
        created = await http.post("/v1/accounts/acme/users", json=body, headers=bearer(made["apiKey"]))
        assert created.status_code == 201, created.text

    api(operator, customer)

    refused(
        keyplane("admin", "create-key", "--account", "acme", "--email", "c@acme.test", "--scopes", "MANAGE"),
        "role 'user'",
    )
