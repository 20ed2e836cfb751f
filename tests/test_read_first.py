"""A credential that is not cached is read without a session (``Database.read_first``): on an
SQLite file at once, on the event loop (``read_now``), with no trips to aiosqlite's thread;
on PostgreSQL on a pooled connection in autocommit. On SQLite, a read that cannot be made at
once (it would wait for a lock, or fails) is made by the session as before. Either way the
answer is the same."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.app import Keyplane
from keyplane.db import Database
from keyplane.models import Credential
from keyplane.services import services_of
from tests import factories
from tests.api_keys.helpers import verify
from tests.factories import Tenant


def _count_sessions(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the read sessions ``database`` opens from now on for the calling task (a one-item
    list). The test client runs the app in the caller's task; background work (the webhook
    deliverer looking for what is due) runs in tasks of its own and is not counted."""
    opened = [0]
    make: Callable[[], AsyncSession] = database.reader
    caller = asyncio.current_task()

    def counted() -> AsyncSession:
        if asyncio.current_task() is caller:
            opened[0] += 1
        return make()

    monkeypatch.setattr(database, "reader", counted)
    return opened


def _status_of(credential_id: uuid.UUID) -> Any:
    return select(Credential.status).where(Credential.id == credential_id)


async def test_a_credential_not_cached_is_read_without_a_session(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await factories.api_key(client, acme, name="cold")
    assert (await verify(client, acme, {"key": created["key"]}))["code"] == "VALID"
    services_of(app).credentials._known.clear()
    opened = _count_sessions(services_of(app).db, monkeypatch)

    answer = await verify(client, acme, {"key": created["key"]})

    assert (answer["code"], answer["keyId"]) == ("VALID", created["id"])
    assert opened[0] == 0  # both the caller's key and the verified one were read without one


async def test_a_read_without_a_session_sees_every_commit_before_it(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, database_url: str
) -> None:
    database: Database = services_of(app).db
    created = await factories.api_key(client, acme, name="changing")
    key_id = uuid.UUID(str(created["id"]))
    assert await database.read_first(_status_of(key_id), {}) == (True, ("active",))

    async with database.writer() as session:
        await session.execute(update(Credential).where(Credential.id == key_id).values(status="inactive"))
        await session.commit()

    # The connection it reads on keeps no snapshot between reads.
    assert await database.read_first(_status_of(key_id), {}) == (True, ("inactive",))
    services_of(app).credentials._known.clear()
    assert (await verify(client, acme, {"key": created["key"]}))["code"] == "INACTIVE"
    if database_url.startswith("sqlite"):
        # A read that fails is left to a session; the next one is made on a new connection.
        assert database.read_now(text("SELECT status FROM no_such_table"), {}) == (False, None)
        assert database.read_now(_status_of(key_id), {}) == (True, ("inactive",))
    else:
        assert database.read_now(_status_of(key_id), {}) == (False, None)  # SQLite's alone


async def test_on_sqlite_a_read_that_cannot_be_made_at_once_is_left_to_the_session(
    app: FastAPI,
    client: httpx.AsyncClient,
    acme: Tenant,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database: Database = services_of(app).db
    created = await factories.api_key(client, acme, name="fallback")
    # A reader that cannot open its file (as when it would have to wait for a lock).
    monkeypatch.setattr(database, "_quick", create_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}"))
    monkeypatch.setattr(database, "_quick_local", threading.local())
    sqlite = database_url.startswith("sqlite")
    read = await database.read_first(_status_of(uuid.UUID(str(created["id"]))), {})
    assert read == ((False, None) if sqlite else (True, ("active",)))  # PostgreSQL: unaffected
    services_of(app).credentials._known.clear()
    opened = _count_sessions(database, monkeypatch)

    answer = await verify(client, acme, {"key": created["key"]})

    assert (answer["code"], answer["keyId"]) == ("VALID", created["id"])
    assert opened[0] == (1 if sqlite else 0)


async def test_a_license_not_cached_is_read_without_a_session_on_sqlite(
    app: FastAPI,
    client: httpx.AsyncClient,
    acme: Tenant,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """validate-key reads a license, its policy, machines and owner on a miss: at once on
    SQLite (``Database.read``), through one session on PostgreSQL; the same answer."""
    policy = await factories.policy(client, acme)
    made = await factories.license(client, acme, policy, name="cold")
    services_of(app).licenses.clear()
    opened = _count_sessions(services_of(app).db, monkeypatch)

    response = await client.post(
        f"{acme.base}/licenses/actions/validate-key", json={"meta": {"key": made["attributes"]["key"]}}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["meta"]["code"], body["data"]["id"]) == ("VALID", made["id"])
    assert "keygen-signature" in response.headers
    assert opened[0] == (0 if database_url.startswith("sqlite") else 1)
    assert isinstance(app, Keyplane)
    assert app.hot is not None
    assert app.hot.answered == 1  # the lean handler answered it


async def test_an_api_key_document_not_cached_is_read_without_a_session_on_sqlite(
    app: FastAPI,
    client: httpx.AsyncClient,
    acme: Tenant,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created = await factories.api_key(client, acme, name="document")
    assert (await verify(client, acme, {"key": acme.key}))["code"] == "VALID"  # the caller cached
    services_of(app).api_keys.clear()
    opened = _count_sessions(services_of(app).db, monkeypatch)

    response = await client.get(f"{acme.base}/api-keys/{created['id']}", headers=factories.bearer(acme.key))

    assert response.status_code == 200, response.text
    assert {key: response.json()[key] for key in ("id", "name", "start")} == {
        key: created[key] for key in ("id", "name", "start")
    }
    assert opened[0] == (0 if database_url.startswith("sqlite") else 1)
