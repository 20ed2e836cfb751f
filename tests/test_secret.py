"""The server secret at start: a wrong or missing one stops every command in one line and
changes nothing; a rotation keeps every key, license and signature working.

``keyplane`` commands run as an operator runs them (subprocesses on the test's database);
the rotation runs the application in process, to read what it stored between steps.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from sqlalchemy import delete, select

from keyplane.accounts.service import bootstrap
from keyplane.accounts.signing import KeyRing, Signer
from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.credentials.engine import CredentialEngine
from keyplane.db import Database
from keyplane.kit.credentials import CredentialHasher, parse
from keyplane.models import Account, Base, Credential, Installation
from keyplane.secret.rules import verifier
from keyplane.secret.service import open_secrets
from keyplane.services import services_of
from tests import factories, live
from tests.conftest import CLIENT_ADDRESS
from tests.factories import PASSWORD, Tenant, api_key, bearer, tenant

OLD = "old-server-secret-" + "o" * 32
NEW = "new-server-secret-" + "n" * 32
EMAIL = "admin@acme.test"


@pytest.fixture
def emptied(database_url: str) -> Iterator[str]:
    """The test's database, emptied of every row once the test is done."""
    yield database_url
    asyncio.run(live.empty(database_url))


async def _rows(url: str) -> dict[str, list[str]]:
    """Every row of every table, to compare before and after."""
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            return {
                table.name: sorted(repr(tuple(row)) for row in await connection.execute(select(table)))
                for table in Base.metadata.sorted_tables
            }
    finally:
        await database.dispose()


def _commands() -> list[list[str]]:
    """Every command that uses the secret."""
    return [
        ["public-key"],
        ["init", "--account", "globex", "--email", "b@globex.test", "--password", PASSWORD],
        ["serve", "--port", str(live.free_port())],
    ]


def test_a_wrong_secret_refuses_to_start_and_changes_nothing(emptied: str, tmp_path: Path) -> None:
    made = live.init(live.environment(emptied, OLD, tmp_path), "acme", EMAIL, PASSWORD)
    before = asyncio.run(_rows(emptied))

    wrong = live.environment(emptied, NEW, tmp_path)
    for command in _commands():
        line = live.refused(live.run(wrong, *command), "KEYPLANE_SECRET_KEY", "backup")
        assert OLD not in line
        assert NEW not in line

    assert asyncio.run(_rows(emptied)) == before
    right = live.run(live.environment(emptied, OLD, tmp_path), "public-key")
    assert right.stdout.strip() == made["publicKey"], right.stderr


@pytest.mark.parametrize("verified", [True, False], ids=["verifier", "from-before-the-verifier"])
def test_a_missing_secret_file_over_an_existing_database_refuses(
    emptied: str, tmp_path: Path, verified: bool
) -> None:
    env = live.environment(emptied, "", tmp_path)
    del env["KEYPLANE_SECRET_KEY"]  # the secret comes from <data dir>/secret.key
    made = live.init(env, "acme", EMAIL, PASSWORD)
    secret_file = tmp_path / "secret.key"
    secret = secret_file.read_text()
    secret_file.unlink()  # a restore that forgot it
    if not verified:
        asyncio.run(_delete_installation(emptied))  # a backup made before the check existed
    before = asyncio.run(_rows(emptied))

    for command in _commands():
        live.refused(
            live.run(env, *command),
            f"restore {secret_file} from your backup or set KEYPLANE_SECRET_KEY",
        )

    # No new secret was made over the database, and nothing in it changed.
    assert not [path for path in tmp_path.iterdir() if "secret" in path.name]
    assert asyncio.run(_rows(emptied)) == before
    secret_file.write_text(secret)
    restored = live.run(env, "public-key")
    assert restored.stdout.strip() == made["publicKey"], restored.stderr


async def _delete_installation(url: str) -> None:
    database = Database(url)
    try:
        async with database.writer() as session:
            await session.execute(delete(Installation))
            await session.commit()
    finally:
        await database.dispose()


def test_rotation_from_the_command_line(emptied: str, tmp_path: Path) -> None:
    made = live.init(live.environment(emptied, OLD, tmp_path), "acme", EMAIL, PASSWORD)
    # Several former secrets may be listed, comma-separated.
    rotating = live.environment(emptied, NEW, tmp_path, secret_key_previous=f"unrelated-secret, {OLD}")
    rotated = live.run(rotating, "public-key")
    assert rotated.stdout.strip() == made["publicKey"], rotated.stderr

    # The signing key is re-sealed at once: the new secret alone opens it...
    after = live.run(live.environment(emptied, NEW, tmp_path), "public-key")
    assert after.stdout.strip() == made["publicKey"], after.stderr
    # ...and the old one no longer starts.
    live.refused(live.run(live.environment(emptied, OLD, tmp_path), "public-key"), "KEYPLANE_SECRET_KEY")


@asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(CLIENT_ADDRESS, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


async def _verify(client: httpx.AsyncClient, acme: Tenant, key: str) -> str:
    response = await client.post("/v1/api-keys/verify", json={"key": key}, headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    code: str = response.json()["code"]
    return code


async def _validate_signed(client: httpx.AsyncClient, acme: Tenant, license_key: str, public: bytes) -> None:
    """validate-key answers VALID, signed by the account's key as a Keygen client checks it."""
    target = f"{acme.base}/licenses/actions/validate-key"
    response = await client.post(target, json={"meta": {"key": license_key}})
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["code"] == "VALID"
    headers = response.headers
    digest = "sha-256=" + base64.b64encode(hashlib.sha256(response.content).digest()).decode()
    assert headers["digest"] == digest
    signed = f"(request-target): post {target}\nhost: testserver\ndate: {headers['date']}\ndigest: {digest}"
    signature = dict(part.split("=", 1) for part in headers["keygen-signature"].split(", "))["signature"]
    Ed25519PublicKey.from_public_bytes(public).verify(base64.b64decode(signature.strip('"')), signed.encode())


async def _stored(app: FastAPI, model: Any, column: Any, record_id: Any) -> Any:
    async with services_of(app).db.reader() as session:
        return await session.scalar(select(column).where(model.id == record_id))


async def test_rotation_keeps_keys_licenses_and_signatures(emptied: str, tmp_path: Path) -> None:
    old = Settings(database_url=emptied, secret_key=OLD, data_dir=tmp_path, usage_flush_seconds=3600)
    async with _running(old) as (app, client):
        acme = await tenant(app, "acme")
        backend = str((await api_key(client, acme, name="backend"))["key"])
        idle = str((await api_key(client, acme, name="idle"))["key"])
        policy = await factories.policy(client, acme)
        license_key = (await factories.license(client, acme, policy))["attributes"]["key"]
        account = await client.get(acme.base, headers=bearer(acme.key))
        public = bytes.fromhex(base64.b64decode(account.json()["meta"]["keys"]["ed25519"]).decode())
        await _validate_signed(client, acme, license_key, public)

    rotating = old.model_copy(update={"secret_key": NEW, "secret_key_previous": [OLD]})
    async with _running(rotating) as (app, client):
        # At start: the signing key re-sealed under the new secret, and its verifier written.
        sealed = await _stored(app, Account, Account.ed25519_private, acme.id)
        opened = KeyRing(NEW.encode()).unseal(acme.id, sealed)
        assert opened is not None
        assert Signer(opened[0]).public == public
        assert await _stored(app, Installation, Installation.secret_verifier, 1) == verifier(NEW.encode())
        # A key hashed under the old secret verifies, and is re-hashed when the batch is written.
        assert await _verify(client, acme, backend) == "VALID"
        await services_of(app).usage.flush()
        lookup = parse(backend)
        assert lookup is not None
        async with services_of(app).db.reader() as session:
            digest = await session.scalar(select(Credential.digest).where(Credential.lookup == lookup.lookup))
        assert digest == hmac.new(NEW.encode(), backend.encode(), hashlib.sha256).digest()
        await _validate_signed(client, acme, license_key, public)

    new_only = old.model_copy(update={"secret_key": NEW})
    async with _running(new_only) as (app, client):
        assert await _verify(client, acme, backend) == "VALID"
        await _validate_signed(client, acme, license_key, public)
        # A key nobody used while the previous secret was set still has its old digest: the
        # previous secret may go only once every key has been used (or re-issued).
        assert await _verify(client, acme, idle) == "NOT_FOUND"


async def test_a_process_left_on_the_old_secret_answers_503_not_500(emptied: str, tmp_path: Path) -> None:
    """A rolling restart: one process already runs with the new secret while another still
    runs with the old one alone. An answer the old one must sign with a key sealed under
    the new secret is a 503 with Retry-After (retried, it reaches a restarted process),
    never a 500."""
    old = Settings(database_url=emptied, secret_key=OLD, data_dir=tmp_path, usage_flush_seconds=3600)
    rotating = old.model_copy(update={"secret_key": NEW, "secret_key_previous": [OLD]})
    async with _running(old) as (_, left_behind), _running(rotating) as (app, client):
        globex = await tenant(app, "globex")  # sealed under the new secret
        policy = await factories.policy(client, globex)
        license_key = (await factories.license(client, globex, policy))["attributes"]["key"]
        target = f"{globex.base}/licenses/actions/validate-key"

        response = await left_behind.post(target, json={"meta": {"key": license_key}})

        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json()["errors"][0]["code"] == "SERVICE_UNAVAILABLE"
        assert license_key not in response.text
        served = await client.post(target, json={"meta": {"key": license_key}})
        assert served.json()["meta"]["code"] == "VALID"


async def test_a_write_the_process_cannot_sign_is_refused_before_it_commits(
    emptied: str, tmp_path: Path
) -> None:
    """A write is answered 503 only when it changed nothing: the signing key is opened
    before the write, not after its commit (a client told 503 does it again)."""
    old = Settings(database_url=emptied, secret_key=OLD, data_dir=tmp_path, usage_flush_seconds=3600)
    rotating = old.model_copy(update={"secret_key": NEW, "secret_key_previous": [OLD]})
    async with _running(old) as (_, left_behind), _running(rotating) as (app, client):
        globex = await tenant(app, "globex")
        policy = await factories.policy(
            client,
            globex,
            await factories.product(client, globex),
            floating=True,
            authenticationStrategy="LICENSE",
        )
        made = await factories.license(client, globex, policy)
        machine = {
            "data": {
                "type": "machines",
                "attributes": {"fingerprint": "fp-rolling-restart"},
                "relationships": {"license": factories.ref("licenses", made["id"])},
            }
        }
        as_license = {"Authorization": f"License {made['attributes']['key']}"}

        refused = await left_behind.post(f"{globex.base}/machines", json=machine, headers=as_license)

        assert refused.status_code == 503, refused.text
        listed = await client.get(f"{globex.base}/machines", headers=bearer(globex.key))
        assert listed.json()["data"] == []
        activated = await client.post(f"{globex.base}/machines", json=machine, headers=as_license)
        assert activated.status_code == 201, activated.text


async def test_concurrent_starts_write_one_verifier_and_rotate_once(emptied: str, tmp_path: Path) -> None:
    old = Settings(database_url=emptied, secret_key=OLD, data_dir=tmp_path)
    await _start_together(old)
    assert await _verifiers(emptied) == [verifier(OLD.encode())]

    database = Database(emptied)
    try:
        async with database.writer() as session:
            made = await bootstrap(
                session,
                CredentialEngine(CredentialHasher(OLD.encode())),
                KeyRing(OLD.encode()),
                slug="acme",
                name=None,
                email=EMAIL,
                password=PASSWORD,
            )
            await session.commit()
        await _start_together(old.model_copy(update={"secret_key": NEW, "secret_key_previous": [OLD]}))
        async with database.reader() as session:
            sealed = await session.scalar(select(Account.ed25519_private))
    finally:
        await database.dispose()
    assert await _verifiers(emptied) == [verifier(NEW.encode())]
    opened = KeyRing(NEW.encode()).unseal(made.account.id, sealed or b"")
    assert opened is not None
    assert Signer(opened[0]).public.hex() == made.account.ed25519_public


async def _start_together(settings: Settings, starters: int = 4) -> None:
    """``starters`` starts at once, each with a connection pool of its own, as processes."""
    databases = [Database(settings.resolved_database_url()) for _ in range(starters)]
    try:
        await asyncio.gather(*(open_secrets(settings, database) for database in databases))
    finally:
        for database in databases:
            await database.dispose()


async def _verifiers(url: str) -> list[str]:
    database = Database(url)
    try:
        async with database.reader() as session:
            return list(await session.scalars(select(Installation.secret_verifier)))
    finally:
        await database.dispose()
