"""Accounts and their people: a tenant with its admin, more users, and the bearer header."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import FastAPI

from keyplane.accounts.service import bootstrap
from keyplane.kit.passwords import hash_password
from keyplane.models import User
from keyplane.services import services_of

PASSWORD = "correct-horse-battery"
"""Every factory-made person's password."""


@dataclass(frozen=True)
class Tenant:
    id: uuid.UUID
    slug: str
    admin_id: uuid.UUID
    admin_email: str
    key: str
    """The admin's full-power API key."""

    @property
    def base(self) -> str:
        return f"/v1/accounts/{self.slug}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def tenant(app: FastAPI, slug: str) -> Tenant:
    """An account ``slug`` with an admin (``admin@<slug>.test``) and the admin's API key."""
    email = f"admin@{slug}.test"
    async with services_of(app).db.writer() as session:
        made = await bootstrap(
            session,
            services_of(app).credentials,
            services_of(app).keys,
            slug=slug,
            name=slug.title(),
            email=email,
            password=PASSWORD,
        )
        await session.commit()
    return Tenant(made.account.id, made.account.slug, made.admin.id, email, made.api_key)


_password_hash: list[str] = []


async def user(app: FastAPI, account: Tenant, role: str = "user", email: str | None = None) -> uuid.UUID:
    """A user with ``role`` whose password is ``PASSWORD`` (hashed once per run: Argon2 is slow)."""
    if not _password_hash:
        _password_hash.append(await hash_password(PASSWORD))
    async with services_of(app).db.writer() as session:
        row = User(
            account_id=account.id,
            email=email or f"{role}-{uuid.uuid4().hex[:8]}@{account.slug}.test",
            role=role,
            password_hash=_password_hash[0],
        )
        session.add(row)
        await session.commit()
        return row.id
