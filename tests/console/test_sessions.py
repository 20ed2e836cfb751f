"""The console's rules, in process: sign-in and its throttle (the one of ``POST /tokens``),
sessions that sign-out and a password change end, CSRF on every form, and each role seeing and
doing what the API lets it."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from keyplane.models import ConsoleSession, Credential, Event
from keyplane.services import services_of
from tests import factories
from tests.console.conftest import ATTEMPTS, csrf_of, sign_in
from tests.factories import PASSWORD, Tenant, bearer


async def test_home_leads_to_the_console_and_the_console_to_sign_in(client: httpx.AsyncClient) -> None:
    home = await client.get("/")
    assert (home.status_code, home.headers["location"]) == (307, "/console")
    console = await client.get("/console")
    assert (console.status_code, console.headers["location"]) == (303, "/console/sign-in?next=/console")
    page = await client.get("/console/sign-in")
    assert page.status_code == 200
    assert 'name="password"' in page.text
    assert 'name="account"' not in page.text  # one account: no slug to ask for


async def test_signing_in_keeps_only_a_hash_of_the_session_and_a_strict_cookie(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    signed = await sign_in(client, acme.admin_email, PASSWORD)
    assert (signed.status_code, signed.headers["location"]) == (303, "/console")
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Path=/console" in cookie
    secret = client.cookies["keyplane_console"]
    overview = await client.get("/console")
    assert overview.status_code == 200
    assert acme.admin_email in overview.text
    async with services_of(app).db.reader() as session:
        rows = (await session.scalars(select(ConsoleSession))).all()
    assert [row.user_id for row in rows] == [acme.admin_id]
    assert secret.encode() not in rows[0].digest


async def test_a_wrong_password_is_refused_and_then_throttled_with_post_tokens(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    for _ in range(ATTEMPTS):
        wrong = await sign_in(client, acme.admin_email, "not the password")
        assert wrong.status_code == 401
        assert "The email or password is not right." in wrong.text
    throttled = await sign_in(client, acme.admin_email, PASSWORD)
    assert throttled.status_code == 429
    assert "Too many failed sign-ins" in throttled.text
    assert "keyplane_console" not in client.cookies
    # The very same budget as POST /tokens: the API refuses this email from this address too.
    token = await client.post(f"{acme.base}/tokens", auth=(acme.admin_email, PASSWORD))
    assert token.status_code == 429


async def test_several_accounts_ask_for_the_slug(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    other = await factories.tenant(app, "umbrella")
    page = await client.get("/console/sign-in")
    assert 'name="account"' in page.text
    unknown = await sign_in(client, other.admin_email, PASSWORD, account="nope")
    assert (unknown.status_code, "There is no account &#39;nope&#39;." in unknown.text) == (401, True)
    wrong_account = await sign_in(client, other.admin_email, PASSWORD, account="acme")
    assert wrong_account.status_code == 401
    signed = await sign_in(client, other.admin_email, PASSWORD, account="umbrella")
    assert signed.status_code == 303
    overview = await client.get("/console")
    assert "umbrella" in overview.text


async def test_sign_out_ends_the_session_even_for_a_copied_cookie(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    await sign_in(client, acme.admin_email, PASSWORD)
    secret = client.cookies["keyplane_console"]
    page = await client.get("/console")
    out = await client.post("/console/sign-out", data={"csrf": csrf_of(page.text)})
    assert (out.status_code, out.headers["location"]) == (303, "/console/sign-in?ended=1")
    client.cookies.set("keyplane_console", secret, path="/console")
    again = await client.get("/console")
    assert again.status_code == 303


async def test_a_password_change_ends_the_users_sessions(client: httpx.AsyncClient, acme: Tenant) -> None:
    await sign_in(client, acme.admin_email, PASSWORD)
    assert (await client.get("/console")).status_code == 200
    changed = await client.patch(
        f"{acme.base}/users/{acme.admin_id}",
        json={"data": {"type": "users", "attributes": {"password": "a brand new password"}}},
        headers=bearer(acme.key),
    )
    assert changed.status_code == 200, changed.text
    ended = await client.get("/console")
    assert (ended.status_code, ended.headers["location"]) == (303, "/console/sign-in?next=/console")
    renewed = await sign_in(client, acme.admin_email, "a brand new password")
    assert renewed.status_code == 303
    assert (await client.get("/console")).status_code == 200


async def _key_count(app: FastAPI) -> int:
    async with services_of(app).db.reader() as session:
        return len((await session.scalars(select(Credential).where(Credential.kind == "api_key"))).all())


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    await sign_in(client, acme.admin_email, PASSWORD)
    before = await _key_count(app)
    missing = await client.post("/console/api-keys", data={"name": "sneaky", "scopes": "READ"})
    forged = await client.post(
        "/console/api-keys", data={"name": "sneaky", "scopes": "READ", "csrf": "ab" * 32}
    )
    for refused in (missing, forged):
        assert refused.status_code == 403
        assert "CSRF_INVALID" in refused.text
    assert await _key_count(app) == before
    # A sign-in form's token is not a signed-in form's token either.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as stranger:
        token = csrf_of((await stranger.get("/console/sign-in")).text)
    stolen = await client.post("/console/api-keys", data={"name": "sneaky", "scopes": "READ", "csrf": token})
    assert stolen.status_code == 403


async def test_a_key_created_in_the_console_names_its_user_in_the_event_log(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    await sign_in(client, acme.admin_email, PASSWORD)
    token = csrf_of((await client.get("/console/api-keys/new")).text)
    created = await client.post(
        "/console/api-keys",
        data={"csrf": token, "name": "billing", "scopes": "READ", "networks": "10.0.0.0/8"},
    )
    assert created.status_code == 201
    async with services_of(app).db.reader() as session:
        key = await session.scalar(select(Credential).where(Credential.name == "billing"))
        assert key is not None
        event = await session.scalar(select(Event).where(Event.resource_id == key.id))
    assert event is not None
    assert (event.event, event.whodunnit_type, event.whodunnit_id) == (
        "api-key.created",
        "user",
        acme.admin_id,
    )
    assert key.whitelisted_ips == ["10.0.0.0/8"]
    shown = await client.get(f"/console/api-keys/{key.id}")
    assert key.start in shown.text
    # The secret was on the created page alone.
    secret = created.text.split("data-secret")[0].rsplit('value="', 1)[1].split('"')[0]
    assert secret.startswith(key.start)
    assert secret not in shown.text
    assert secret not in (await client.get("/console/api-keys")).text


async def test_a_read_only_user_sees_no_change_and_is_refused_one(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    email = f"viewer-{uuid.uuid4().hex[:6]}@acme.test"
    await factories.user(app, acme, "read-only", email)
    await sign_in(client, email, PASSWORD)
    listing = await client.get("/console/api-keys")
    assert listing.status_code == 200
    assert "New API key" not in listing.text
    page = await client.get("/console")
    token = csrf_of(page.text)
    refused = await client.post("/console/api-keys", data={"csrf": token, "name": "x", "scopes": "READ"})
    assert refused.status_code == 403
    assert "INSUFFICIENT_SCOPE" in refused.text
    new = await client.get("/console/api-keys/new")
    assert new.status_code == 403
    assert "Licenses active" in page.text  # staff: the licensing figures
    assert "Latest events" not in page.text  # the event log is for admins


async def test_a_user_sees_and_changes_only_their_own_keys(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    email = f"dev-{uuid.uuid4().hex[:6]}@acme.test"
    await factories.user(app, acme, "developer", email)
    admin_key = await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))
    admin_key_id = admin_key.json()["data"][0]["id"]
    await sign_in(client, email, PASSWORD)
    listing = await client.get("/console/api-keys")
    assert "0 keys." in listing.text
    hidden = await client.get(f"/console/api-keys/{admin_key_id}")
    assert hidden.status_code == 404
    token = csrf_of(listing.text)
    refused = await client.post(f"/console/api-keys/{admin_key_id}/deactivate", data={"csrf": token})
    assert refused.status_code == 404
    still = await client.get(f"{acme.base}/api-keys/{admin_key_id}", headers=bearer(acme.key))
    assert still.json()["status"] == "active"


async def test_editing_a_key_changes_what_was_changed_and_a_bad_value_changes_nothing(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    made = await client.post(
        f"{acme.base}/api-keys", json={"name": "edited", "scopes": ["READ"]}, headers=bearer(acme.key)
    )
    key_id = made.json()["id"]
    await sign_in(client, acme.admin_email, PASSWORD)
    form = await client.get(f"/console/api-keys/{key_id}/edit")
    token = csrf_of(form.text)
    fields = {"csrf": token, "name": "renamed", "description": "", "scopes": ["READ", "UPDATE"]}
    bad = await client.post(f"/console/api-keys/{key_id}/edit", data={**fields, "networks": "10.0.0.0/33"})
    assert bad.status_code == 422
    assert "10.0.0.0/33" in bad.text
    unchanged = (await client.get(f"{acme.base}/api-keys/{key_id}", headers=bearer(acme.key))).json()
    assert (unchanged["name"], unchanged["scopes"]) == ("edited", ["READ"])
    saved = await client.post(f"/console/api-keys/{key_id}/edit", data={**fields, "networks": "10.0.0.0/8"})
    assert (saved.status_code, saved.headers["location"]) == (303, f"/console/api-keys/{key_id}?done=updated")
    changed = (await client.get(f"{acme.base}/api-keys/{key_id}", headers=bearer(acme.key))).json()
    assert (changed["name"], changed["scopes"], changed["whitelistedIPs"]) == (
        "renamed",
        ["READ", "UPDATE"],
        ["10.0.0.0/8"],
    )
    history = await client.get(f"/console/api-keys/{key_id}")
    assert "api-key.updated" in history.text


async def test_the_list_finds_keys_by_name_owner_and_start(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    owner = f"owner-{uuid.uuid4().hex[:6]}@acme.test"
    owner_id = await factories.user(app, acme, "developer", owner)
    made = await client.post(
        f"{acme.base}/api-keys",
        json={"name": "payroll", "scopes": ["READ"], "userId": str(owner_id)},
        headers=bearer(acme.key),
    )
    start = made.json()["start"]
    await sign_in(client, acme.admin_email, PASSWORD)
    for search in ("PAYROLL", owner.split("@")[0], start):
        found = await client.get("/console/api-keys", params={"q": search})
        assert "1 key." in found.text, search
        assert "payroll" in found.text
    nothing = await client.get("/console/api-keys", params={"q": "no such key"})
    assert "0 keys." in nothing.text


async def test_over_https_the_session_cookie_is_secure(app: FastAPI, acme: Tenant) -> None:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as secure:
        signed = await sign_in(secure, acme.admin_email, PASSWORD)
        assert signed.status_code == 303
        assert "; Secure" in signed.headers["set-cookie"]
        assert (await secure.get("/console")).status_code == 200
