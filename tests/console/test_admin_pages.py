"""The console's admin pages, in process on both databases: users (create, change role, reset a
password, delete), the event log and its filters, webhooks (endpoints and deliveries) and the
account. An admin sees and does them; others are refused with the reason."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from keyplane.config import Settings
from keyplane.models import ConsoleSession, Credential, Event, User, WebhookEndpoint, WebhookEvent
from keyplane.services import services_of
from tests import factories
from tests.console.conftest import csrf_of, sign_in
from tests.factories import PASSWORD, Tenant, bearer

HOOK = "https://93.184.216.34/hooks"
"""A public address (no name to resolve)."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The delivery worker stays idle: these tests read deliveries, they do not send them.
    return settings.model_copy(update={"webhooks_poll_seconds": 3600})


async def _admin(client: httpx.AsyncClient, acme: Tenant) -> str:
    """Sign the admin in; a CSRF token of their session."""
    assert (await sign_in(client, acme.admin_email, PASSWORD)).status_code == 303
    return csrf_of((await client.get("/console")).text)


async def _as(app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str) -> str:
    email = f"{role}-{uuid.uuid4().hex[:6]}@acme.test"
    await factories.user(app, acme, role, email)
    assert (await sign_in(client, email, PASSWORD)).status_code == 303
    return csrf_of((await client.get("/console")).text)


async def _user(app: FastAPI, email: str) -> User | None:
    async with services_of(app).db.reader() as session:
        return await session.scalar(select(User).where(User.email == email))


# -- users -------------------------------------------------------------------------------------


async def test_an_admin_creates_a_user_and_changes_their_role(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    token = await _admin(client, acme)
    listing = await client.get("/console/users")
    assert listing.status_code == 200
    assert acme.admin_email in listing.text
    assert "New user" in listing.text
    fields = {"csrf": token, "email": "Support@Acme.test", "role": "support-agent", "password": "long enough"}
    created = await client.post("/console/users", data=fields)
    assert created.status_code == 303, created.text
    user = await _user(app, "support@acme.test")
    assert user is not None
    assert user.role == "support-agent"
    assert created.headers["location"] == f"/console/users/{user.id}?done=created"
    again = await client.post("/console/users", data=fields)
    assert again.status_code == 422
    assert "EMAIL_TAKEN" in again.text
    short = await client.post("/console/users", data={**fields, "email": "x@acme.test", "password": "short"})
    assert short.status_code == 422
    assert "password" in short.text
    assert await _user(app, "x@acme.test") is None
    changed = await client.post(f"/console/users/{user.id}/role", data={"csrf": token, "role": "developer"})
    assert (changed.status_code, changed.headers["location"]) == (303, f"/console/users/{user.id}?done=role")
    after = await _user(app, "support@acme.test")
    assert after is not None
    assert after.role == "developer"
    async with services_of(app).db.reader() as session:
        names = (await session.scalars(select(Event.event).where(Event.resource_id == user.id))).all()
    assert sorted(names) == ["user.created", "user.updated"]


async def test_an_admin_cannot_change_their_own_role_nor_delete_themselves(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    token = await _admin(client, acme)
    page = await client.get(f"/console/users/{acme.admin_id}")
    assert page.status_code == 200
    assert "Change the role" not in page.text
    assert "Delete the user" not in page.text
    role = await client.post(
        f"/console/users/{acme.admin_id}/role", data={"csrf": token, "role": "read-only"}
    )
    assert role.status_code == 422
    assert "You cannot change your own role" in role.text
    gone = await client.post(f"/console/users/{acme.admin_id}/delete", data={"csrf": token})
    assert gone.status_code == 422
    assert "USER_NOT_ALLOWED" in gone.text
    admin = await _user(app, acme.admin_email)
    assert admin is not None
    assert admin.role == "admin"


async def test_a_password_reset_ends_the_users_tokens_and_console_sessions(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    email = f"dev-{uuid.uuid4().hex[:6]}@acme.test"
    user_id = await factories.user(app, acme, "developer", email)
    issued = await factories.token(client, acme, email)
    secret = issued["attributes"]["token"]
    assert (await client.get(f"{acme.base}/me", headers=bearer(secret))).status_code == 200
    transport = client._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as theirs:
        assert (await sign_in(theirs, email, PASSWORD)).status_code == 303
        assert (await theirs.get("/console")).status_code == 200
        token = await _admin(client, acme)
        short = await client.post(
            f"/console/users/{user_id}/password", data={"csrf": token, "password": "short"}
        )
        assert short.status_code == 422
        assert (await client.get(f"{acme.base}/me", headers=bearer(secret))).status_code == 200
        reset = await client.post(
            f"/console/users/{user_id}/password", data={"csrf": token, "password": "a brand new password"}
        )
        assert (reset.status_code, reset.headers["location"]) == (
            303,
            f"/console/users/{user_id}?done=password",
        )
        assert (await theirs.get("/console")).status_code == 303  # their session is over
    assert (await client.get(f"{acme.base}/me", headers=bearer(secret))).status_code == 401
    async with services_of(app).db.reader() as session:
        revoked = await session.scalar(select(Event).where(Event.event == "token.revoked"))
    assert revoked is not None
    assert (revoked.resource_id, revoked.whodunnit_id) == (uuid.UUID(issued["id"]), acme.admin_id)
    assert (await factories.login(client, acme, email, "a brand new password")).status_code == 201
    assert (await factories.login(client, acme, email, PASSWORD)).status_code == 401


async def test_deleting_a_user_takes_their_keys_and_sessions(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    email = f"gone-{uuid.uuid4().hex[:6]}@acme.test"
    user_id = await factories.user(app, acme, "developer", email)
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as theirs:
        assert (await sign_in(theirs, email, PASSWORD)).status_code == 303
    token = await _admin(client, acme)
    deleted = await client.post(f"/console/users/{user_id}/delete", data={"csrf": token})
    assert (deleted.status_code, deleted.headers["location"]) == (303, "/console/users?done=deleted")
    assert await _user(app, email) is None
    async with services_of(app).db.reader() as session:
        sessions = await session.scalar(
            select(func.count()).select_from(ConsoleSession).where(ConsoleSession.user_id == user_id)
        )
        credentials = await session.scalar(
            select(func.count()).select_from(Credential).where(Credential.user_id == user_id)
        )
    assert (sessions, credentials) == (0, 0)
    assert (await client.get(f"/console/users/{user_id}")).status_code == 404


@pytest.mark.parametrize("role", ["developer", "read-only", "support-agent"])
async def test_only_an_admin_manages_users(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str
) -> None:
    token = await _as(app, client, acme, role)
    overview = await client.get("/console")
    assert 'href="/console/users"' not in overview.text
    assert 'href="/console/events"' not in overview.text
    listing = await client.get("/console/users")
    assert listing.status_code == 403
    assert "Listing users needs the MANAGE scope" in listing.text
    assert (await client.get("/console/users/new")).status_code == 403
    made = await client.post(
        "/console/users", data={"csrf": token, "email": "sneak@acme.test", "role": "admin"}
    )
    assert made.status_code == 403
    assert await _user(app, "sneak@acme.test") is None
    reset = await client.post(
        f"/console/users/{acme.admin_id}/password", data={"csrf": token, "password": "x" * 12}
    )
    assert reset.status_code in (403, 404)
    assert (await factories.login(client, acme, acme.admin_email, PASSWORD)).status_code == 201


# -- the event log -----------------------------------------------------------------------------


async def test_the_event_log_filters_by_event_resource_whodunnit_and_days(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    key = await client.post(
        f"{acme.base}/api-keys", json={"name": "logged", "scopes": ["READ"]}, headers=bearer(acme.key)
    )
    key_id = key.json()["id"]
    await _admin(client, acme)
    everything = await client.get("/console/events")
    assert everything.status_code == 200
    assert "account.created" in everything.text
    assert "api-key.created" in everything.text
    by_event = await client.get("/console/events", params={"event": "account.created"})
    assert "account.created" in by_event.text
    assert "api-key.created" not in by_event.text
    by_resource = await client.get(
        "/console/events", params={"resource_type": "api-key", "resource_id": key_id}
    )
    assert by_resource.text.count(f"<code>{key_id}</code>") == 1
    assert "account.created" not in by_resource.text
    by_system = await client.get("/console/events", params={"who_type": "system"})
    assert "account.created" in by_system.text
    assert key_id not in by_system.text  # the admin's API key made it
    today = await client.get("/console/events", params={"start": "2000-01-01", "end": "2000-01-02"})
    assert "No events." in today.text
    too_long = await client.get("/console/events", params={"start": "2026-01-01", "end": "2026-03-01"})
    assert too_long.status_code == 400
    assert "date range must be between 1 and 31 days" in too_long.text
    half = await client.get("/console/events", params={"resource_id": key_id})
    assert half.status_code == 400
    assert "must be resource[type] with resource[id]" in half.text


async def test_the_event_log_pages_to_older_events(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    for number in range(51):
        made = await client.post(
            f"{acme.base}/api-keys", json={"name": f"k{number}"}, headers=bearer(acme.key)
        )
        assert made.status_code == 201
    await _admin(client, acme)
    first = await client.get("/console/events", params={"event": "api-key.created"})
    assert first.text.count("<td>api-key.created</td>") == 50
    older = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = await client.get(f"/console/events{older}")
    assert second.text.count("<td>api-key.created</td>") == 2  # the 51 made here and keyplane init's
    assert 'rel="next"' not in second.text


@pytest.mark.parametrize("role", ["developer", "read-only"])
async def test_only_an_admin_reads_the_event_log(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str
) -> None:
    await _as(app, client, acme, role)
    for query in ({}, {"start": "2026-01-01", "end": "2026-03-01"}):
        refused = await client.get("/console/events", params=query)
        assert refused.status_code == 403
        assert "Only an admin may read the event log" in refused.text


# -- webhooks ----------------------------------------------------------------------------------


async def _deliveries(app: FastAPI) -> list[WebhookEvent]:
    async with services_of(app).db.reader() as session:
        return list((await session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))).all())


async def test_an_admin_creates_edits_and_deletes_a_webhook_endpoint(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    token = await _admin(client, acme)
    assert "New endpoint" in (await client.get("/console/webhooks")).text
    private = await client.post(
        "/console/webhooks", data={"csrf": token, "url": "https://127.0.0.1/hooks", "subscriptions": ""}
    )
    assert private.status_code == 422
    assert "URL_NOT_ALLOWED" in private.text
    unknown = await client.post(
        "/console/webhooks", data={"csrf": token, "url": HOOK, "subscriptions": "no.such-event"}
    )
    assert unknown.status_code == 422
    assert "SUBSCRIPTIONS_NOT_ALLOWED" in unknown.text
    made = await client.post(
        "/console/webhooks", data={"csrf": token, "url": HOOK, "subscriptions": "user.created\nuser.deleted"}
    )
    assert made.status_code == 303, made.text
    async with services_of(app).db.reader() as session:
        endpoint = await session.scalar(select(WebhookEndpoint))
    assert endpoint is not None
    assert (endpoint.url, endpoint.subscriptions) == (HOOK, ["user.created", "user.deleted"])
    edited = await client.post(
        f"/console/webhooks/{endpoint.id}/edit",
        data={"csrf": token, "url": HOOK + "/v2", "subscriptions": ""},
    )
    assert (edited.status_code, edited.headers["location"]) == (
        303,
        f"/console/webhooks/{endpoint.id}?done=updated",
    )
    async with services_of(app).db.reader() as session:
        changed = await session.get(WebhookEndpoint, endpoint.id)
    assert changed is not None
    assert (changed.url, changed.subscriptions) == (HOOK + "/v2", ["*"])
    deleted = await client.post(f"/console/webhooks/{endpoint.id}/delete", data={"csrf": token})
    assert deleted.status_code == 303
    async with services_of(app).db.reader() as session:
        assert await session.get(WebhookEndpoint, endpoint.id) is None
        names = (await session.scalars(select(Event.event).where(Event.resource_id == endpoint.id))).all()
    assert sorted(names) == [
        "webhook-endpoint.created",
        "webhook-endpoint.deleted",
        "webhook-endpoint.updated",
    ]


async def test_a_delivery_shows_its_status_and_is_retried(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    await factories.webhook_endpoint(client, acme, HOOK, subscriptions=["user.created"])
    await factories.user(app, acme, "developer", "hooked@acme.test")
    made = await client.post(
        f"{acme.base}/users",
        json={"data": {"type": "users", "attributes": {"email": "hooked2@acme.test"}}},
        headers=bearer(acme.key),
    )
    assert made.status_code == 201
    [delivery] = await _deliveries(app)
    token = await _admin(client, acme)
    listing = await client.get("/console/webhooks")
    assert f"/console/webhooks/deliveries/{delivery.id}" in listing.text
    page = await client.get(f"/console/webhooks/deliveries/{delivery.id}")
    assert page.status_code == 200
    assert "DELIVERING" in page.text
    assert "Retry" in page.text
    retried = await client.post(f"/console/webhooks/deliveries/{delivery.id}/retry", data={"csrf": token})
    assert retried.status_code == 303
    first, again = await _deliveries(app)
    assert first.id == delivery.id
    assert (again.event_id, again.event) == (delivery.event_id, "user.created")
    assert retried.headers["location"] == f"/console/webhooks/deliveries/{again.id}?done=retried"


async def test_a_read_only_user_reads_webhooks_and_changes_none(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    made = await factories.webhook_endpoint(client, acme, HOOK)
    token = await _as(app, client, acme, "read-only")
    listing = await client.get("/console/webhooks")
    assert listing.status_code == 200
    assert HOOK in listing.text
    assert "New endpoint" not in listing.text
    page = await client.get(f"/console/webhooks/{made['id']}")
    assert page.status_code == 200
    assert "Delete the endpoint" not in page.text
    assert 'name="url"' not in page.text
    assert (await client.get("/console/webhooks/new")).status_code == 403
    refused = await client.post(f"/console/webhooks/{made['id']}/delete", data={"csrf": token})
    assert refused.status_code == 403
    assert "INSUFFICIENT_SCOPE" in refused.text
    async with services_of(app).db.reader() as session:
        assert await session.get(WebhookEndpoint, uuid.UUID(made["id"])) is not None


async def test_a_support_agent_is_refused_webhooks_with_the_reason(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    await _as(app, client, acme, "support-agent")
    refused = await client.get("/console/webhooks")
    assert refused.status_code == 403
    assert "You do not have permission to manage webhook endpoints (role support-agent)" in refused.text


# -- the account -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "read-only"])
async def test_the_account_page_shows_the_key_to_pin(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str
) -> None:
    if role == "admin":
        await _admin(client, acme)
    else:
        await _as(app, client, acme, role)
    page = await client.get("/console/account")
    assert page.status_code == 200
    document = (await client.get(acme.base, headers=bearer(acme.key))).json()
    pinned = document["meta"]["keys"]["ed25519"]
    assert f'value="{pinned}"' in page.text
    assert f'value="{base64.b64decode(pinned).decode()}"' in page.text
    assert 'data-copy="public-hex"' in page.text
    assert f"/v1/accounts/{acme.slug}" in page.text
    assert str(acme.id) in page.text
