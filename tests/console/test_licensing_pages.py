"""The console's license and pool pages, in process on both databases: finding licenses, a
license's page and its actions (as the user, in the event log, refused with the reason), issuing
from a pool, and filling a pool with a per-line report."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from keyplane.kit.ids import uuid7
from keyplane.licensing.keystrings import digest
from keyplane.models import Event, License, Policy, PoolKey, User
from keyplane.services import services_of
from tests import factories
from tests.console.conftest import csrf_of, sign_in
from tests.factories import PASSWORD, Tenant, bearer


async def _signed_in(client: httpx.AsyncClient, email: str) -> str:
    """Sign in; the CSRF token of the user's forms."""
    assert (await sign_in(client, email, PASSWORD)).status_code == 303
    return csrf_of((await client.get("/console")).text)


async def _owned_license(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, **policy: object
) -> tuple[dict[str, object], str]:
    owner = f"buyer-{uuid.uuid4().hex[:6]}@example.test"
    owner_id = await factories.user(app, acme, "user", owner)
    made = await factories.license(
        client, acme, policy={"name": "Yearly", **policy}, owner=owner_id, metadata={"seat": "north"}
    )
    return made, owner


async def test_licenses_are_found_by_owner_email_key_id_and_metadata(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    made, owner = await _owned_license(app, client, acme)
    await factories.license(client, acme, policy={"name": "Other"})
    key, license_id = str(made["attributes"]["key"]), str(made["id"])  # type: ignore[index]
    await _signed_in(client, acme.admin_email)
    assert "2 licenses." in (await client.get("/console/licenses")).text  # every license, newest first
    for search in (owner.upper(), key, license_id, "seat=north"):
        found = await client.get("/console/licenses", params={"q": search})
        assert found.status_code == 200
        assert "1 license." in found.text, search
        assert f"/console/licenses/{license_id}" in found.text
    odd = await factories.license(client, acme, policy={"name": "Odd"}, key="ODD=KEY@WITH-SIGNS")
    found = await client.get("/console/licenses", params={"q": "ODD=KEY@WITH-SIGNS"})
    assert ("1 license." in found.text, f"/console/licenses/{odd['id']}" in found.text) == (True, True)
    for search in ("nobody@example.test", "NO-SUCH-KEY", "seat=south", "bad name!=north"):
        nothing = await client.get("/console/licenses", params={"q": search})
        assert "0 licenses." in nothing.text, search


async def test_a_license_page_and_its_actions_as_the_user_in_the_event_log(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    made, owner = await _owned_license(app, client, acme, duration=86_400 * 30, maxMachines=3, floating=True)
    license_id = str(made["id"])
    machine = await factories.machine(client, acme, license_id, "fp-desk-01", name="desk")
    token = await _signed_in(client, acme.admin_email)
    page = await client.get(f"/console/licenses/{license_id}")
    assert page.status_code == 200
    for shown in (
        owner,
        "Yearly",
        "fp-desk-01",
        "not_started",
        "1 of 3",
        "license.created",
    ):
        assert shown in page.text, shown
    for action in ("Suspend", "Renew", "Revoke", "Deactivate"):
        assert f">{action}</button>" in page.text, action

    suspended = await client.post(f"/console/licenses/{license_id}/suspend", data={"csrf": token})
    assert (suspended.status_code, suspended.headers["location"]) == (
        303,
        f"/console/licenses/{license_id}?done=suspended",
    )
    api = await client.get(f"{acme.base}/licenses/{license_id}", headers=bearer(acme.key))
    assert api.json()["data"]["attributes"]["status"] == "SUSPENDED"
    again = await client.post(f"/console/licenses/{license_id}/suspend", data={"csrf": token})
    assert again.status_code == 422
    assert "is already suspended" in again.text
    assert "LICENSE_SUSPENDED" in again.text
    reinstated = await client.post(f"/console/licenses/{license_id}/reinstate", data={"csrf": token})
    assert reinstated.status_code == 303
    renewed = await client.post(f"/console/licenses/{license_id}/renew", data={"csrf": token})
    assert renewed.status_code == 303
    gone = await client.post(
        f"/console/licenses/{license_id}/machines/{machine['id']}/deactivate", data={"csrf": token}
    )
    assert gone.status_code == 303
    machines = await client.get(f"{acme.base}/machines", headers=bearer(acme.key))
    assert machines.json()["data"] == []
    async with services_of(app).db.reader() as session:
        rows = (await session.execute(select(Event.event, Event.whodunnit_id).order_by(Event.id))).all()
    by_user = [name for name, who in rows if who == acme.admin_id]
    for name in ("license.suspended", "license.reinstated", "license.renewed", "machine.deleted"):
        assert name in by_user, name

    revoked = await client.post(f"/console/licenses/{license_id}/revoke", data={"csrf": token})
    assert (revoked.status_code, revoked.headers["location"]) == (303, "/console/licenses?done=revoked")
    missing = await client.get(f"/console/licenses/{license_id}")
    assert missing.status_code == 404


async def test_each_role_sees_the_buttons_it_may_use_and_is_refused_the_rest(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    made, _ = await _owned_license(app, client, acme, duration=86_400 * 30)
    license_id = str(made["id"])
    support = f"support-{uuid.uuid4().hex[:6]}@acme.test"
    await factories.user(app, acme, "support-agent", support)
    token = await _signed_in(client, support)
    page = await client.get(f"/console/licenses/{license_id}")
    assert ">Suspend</button>" in page.text
    assert ">Revoke</button>" not in page.text
    assert "Issue a license" not in (await client.get("/console/licenses")).text
    refused = await client.post(f"/console/licenses/{license_id}/revoke", data={"csrf": token})
    assert refused.status_code == 403
    assert "INSUFFICIENT_SCOPE" in refused.text
    assert (
        await client.post(f"/console/licenses/{license_id}/suspend", data={"csrf": token})
    ).status_code == 303

    viewer = f"viewer-{uuid.uuid4().hex[:6]}@acme.test"
    await factories.user(app, acme, "read-only", viewer)
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as other:
        token = await _signed_in(other, viewer)
        page = await other.get(f"/console/licenses/{license_id}")
        assert page.status_code == 200
        assert "</button>" not in page.text.split("<main", 1)[1].replace(">Sign out</button>", "")
        refused = await other.post(f"/console/licenses/{license_id}/reinstate", data={"csrf": token})
        assert refused.status_code == 403
        assert "INSUFFICIENT_SCOPE" in refused.text or "ACCESS_DENIED" in refused.text
    still = await client.get(f"{acme.base}/licenses/{license_id}", headers=bearer(acme.key))
    assert still.json()["data"]["attributes"]["suspended"] is True


async def test_issuing_from_a_pooled_policy_takes_its_key_and_an_empty_pool_issues_nothing(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, name="Beta", usePool=True)
    await factories.pool_key(client, acme, policy_id, "BETA-0001-XYZW")
    owner = f"buyer-{uuid.uuid4().hex[:6]}@example.test"
    await factories.user(app, acme, "user", owner)
    token = await _signed_in(client, acme.admin_email)
    form = await client.get("/console/licenses/new")
    assert "Product: Beta (pooled)" in form.text
    issued = await client.post(
        "/console/licenses", data={"csrf": token, "policy": policy_id, "owner": owner, "name": "for Ann"}
    )
    assert issued.status_code == 303, issued.text
    page = await client.get(issued.headers["location"])
    assert "BETA-0001-XYZW" in page.text
    assert owner in page.text
    empty = await client.post("/console/licenses", data={"csrf": token, "policy": policy_id})
    assert empty.status_code == 422
    assert "pool is empty (POLICY_POOL_EMPTY)" in empty.text
    unknown = await client.post(
        "/console/licenses", data={"csrf": token, "policy": policy_id, "owner": "nobody@example.test"}
    )
    assert unknown.status_code == 422
    assert "OWNER_NOT_FOUND" in unknown.text
    async with services_of(app).db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(License)) == 1


async def _pool_size(app: FastAPI, policy_id: str) -> int:
    async with services_of(app).db.reader() as session:
        statement = select(func.count()).select_from(PoolKey).where(PoolKey.policy_id == uuid.UUID(policy_id))
        return int(await session.scalar(statement) or 0)


async def test_pasted_keys_are_added_and_each_refused_line_says_why(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, name="Beta", usePool=True)
    await factories.pool_key(client, acme, policy_id, "TAKEN-0000-0000")
    licensed = await factories.license(client, acme, policy={"name": "Plain"}, key="LICENSED-KEY-0001")
    token = await _signed_in(client, acme.admin_email)
    lines = ["GOOD-0000-0001", "short", "", "GOOD-0000-0002", "GOOD-0000-0001", "TAKEN-0000-0000"]
    pasted = "\n".join([*lines, "LICENSED-KEY-0001", str(licensed["id"])])
    report = await client.post(f"/console/policies/{policy_id}/pool", data={"csrf": token, "keys": pasted})
    assert report.status_code == 200, report.text
    assert "2 keys added, 1 already in the pool, 4 refused." in report.text
    for line, code, why in (
        (2, "KEY_TOO_SHORT", "is too short (minimum is 8 characters)"),
        (5, "KEY_TAKEN", "duplicates line 1"),
        (7, "KEY_CONFLICT", "conflicts with an existing license"),
        (8, "KEY_CONFLICT", "conflicts with an existing license"),
    ):
        assert f"<tr><td>{line}</td>" in report.text, line
        assert f"<td>{why}</td><td><code>{code}</code></td>" in report.text, (line, code)
    assert "<tr><td>6</td>" not in report.text  # already in this pool: present, not refused
    assert await _pool_size(app, policy_id) == 3
    async with services_of(app).db.reader() as session:
        created = await session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.event == "key.created", Event.whodunnit_id == acme.admin_id)
        )
    assert created == 2
    page = await client.get(f"/console/policies/{policy_id}")
    assert "GOOD-0000-0002" in page.text


async def test_a_csv_upload_fills_the_pool_and_a_request_error_adds_nothing(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, name="Beta", usePool=True)
    plain_id = await factories.policy(client, acme, name="Plain")
    token = await _signed_in(client, acme.admin_email)
    rows = "key,note\r\n" + "".join(f"CSV-KEY-{n:04d},batch 1\r\n" for n in range(20)) + "tiny,x\r\n"
    upload = await client.post(
        f"/console/policies/{policy_id}/pool",
        data={"csrf": token, "keys": ""},
        files={"file": ("keys.csv", rows.encode(), "text/csv")},
    )
    assert upload.status_code == 200, upload.text
    assert "20 keys added, 1 refused." in upload.text
    assert "<tr><td>22</td><td><code>tiny</code></td>" in upload.text
    assert await _pool_size(app, policy_id) == 20

    not_pooled = await client.post(
        f"/console/policies/{plain_id}/pool", data={"csrf": token, "keys": "PLAIN-KEY-0001"}
    )
    assert not_pooled.status_code == 422
    assert "POLICY_NOT_SUPPORTED" in not_pooled.text
    assert await _pool_size(app, plain_id) == 0
    nothing = await client.post(f"/console/policies/{policy_id}/pool", data={"csrf": token, "keys": "\n\n"})
    assert nothing.status_code == 422
    assert "KEYS_MISSING" in nothing.text
    forged = await client.post(
        f"/console/policies/{policy_id}/pool",
        data={"keys": "FORGED-KEY-0001"},
        files={"file": ("keys.csv", b"FORGED-KEY-0002\r\n", "text/csv")},
    )
    assert forged.status_code == 403
    assert await _pool_size(app, policy_id) == 20
    pools = await client.get("/console/pools")
    assert f"/console/policies/{policy_id}" in pools.text
    assert f"/console/policies/{plain_id}" not in pools.text


async def test_a_read_only_user_sees_the_pool_without_the_form(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, name="Beta", usePool=True)
    viewer = f"viewer-{uuid.uuid4().hex[:6]}@acme.test"
    await factories.user(app, acme, "read-only", viewer)
    token = await _signed_in(client, viewer)
    page = await client.get(f"/console/policies/{policy_id}")
    assert page.status_code == 200
    assert "Add the keys" not in page.text
    refused = await client.post(
        f"/console/policies/{policy_id}/pool", data={"csrf": token, "keys": "VIEW-KEY-0001"}
    )
    assert refused.status_code == 403
    assert await _pool_size(app, policy_id) == 0


SEEDED = 3_000
"""Licenses in the account when the search's plans are read: enough for a planner to tell
an index from a scan of the whole account."""


async def _seed(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> tuple[str, str]:
    """``SEEDED`` licenses, three to each of a thousand customers, and one owned by a customer
    of its own; that customer's email and that license's key."""
    policy_id = uuid.UUID(await factories.policy(client, acme, name="Seeded"))
    email = f"needle-{uuid.uuid4().hex[:6]}@example.test"
    needle = await factories.user(app, acme, "user", email)
    async with services_of(app).db.writer() as session:
        policy = await session.get(Policy, policy_id)
        assert policy is not None
        crowd = [uuid7() for _ in range(SEEDED // 3)]
        people = [
            {"id": person, "account_id": acme.id, "email": f"crowd-{n}@example.test", "role": "user"}
            for n, person in enumerate(crowd)
        ]
        await session.execute(insert(User), people)
        rows: list[dict[str, Any]] = [
            {
                "id": uuid7(),
                "account_id": acme.id,
                "product_id": policy.product_id,
                "policy_id": policy.id,
                "owner_id": needle if n == 0 else crowd[n % len(crowd)],
                "key": f"SEED-{n:06d}",
                "key_digest": digest(f"SEED-{n:06d}"),
                "suspended": False,
                "uses": 0,
                "meta": {},
            }
            for n in range(SEEDED)
        ]
        await session.execute(insert(License), rows)
        await session.commit()
    engine = services_of(app).db.engine
    if engine.dialect.name == "postgresql":
        # PostgreSQL gathers statistics by itself (autovacuum), only later; SQLite only when
        # told, which a Keyplane install never is: its planner is read as it runs.
        async with engine.connect() as connection:
            await connection.exec_driver_sql("ANALYZE")
            await connection.commit()
    return email, "SEED-000000"


async def test_finding_licenses_by_owner_email_or_key_uses_an_index(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """The statements the search page runs read the licenses through the index on what was
    searched (the owner, the key), never the whole account's licenses: their plans, read with
    EXPLAIN over a few thousand licenses."""
    email, key = await _seed(app, client, acme)
    await _signed_in(client, acme.admin_email)
    engine = services_of(app).db.engine
    postgresql = engine.dialect.name == "postgresql"
    by_key = "uq_licenses_account_id_key_digest" if postgresql else "(account_id=? AND key_digest=?)"
    by_owner = ("ix_licenses_account_id_owner_id_id",)
    for search, wanted in ((email, by_owner), (key, (by_key,))):
        ran: list[tuple[str, Any]] = []

        def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "FROM licenses" in statement:
                ran.append((statement, parameters))  # noqa: B023 (read before the next search)

        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        try:
            found = await client.get("/console/licenses", params={"q": search})
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", seen)
        assert "1 license." in found.text, search
        assert ran, search
        plans = [await _plan(engine, statement, parameters) for statement, parameters in ran]
        # Every statement reads the licenses through an index on what was searched (the page
        # first looks the text up as a key), and one through the index of what it is.
        for plan in plans:
            assert any(marker in step for step in plan for marker in (by_key, *by_owner)), (search, plan)
        assert any(index in step for plan in plans for step in plan for index in wanted), (search, plans)


async def _plan(engine: AsyncEngine, statement: str, parameters: Any) -> list[str]:
    async with engine.connect() as connection:
        postgresql = engine.dialect.name == "postgresql"
        explain = "EXPLAIN" if postgresql else "EXPLAIN QUERY PLAN"
        rows = (await connection.exec_driver_sql(f"{explain} {statement}", parameters)).all()
    return [str(row[-1]) for row in rows]
