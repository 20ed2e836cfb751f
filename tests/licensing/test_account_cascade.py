"""Deleting an account takes everything of it along, and nothing of another account."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, func, select

from keyplane.models import Account, Credential, License, Policy, PoolKey, Product, User
from keyplane.services import services_of
from tests import factories
from tests.factories import Tenant

TABLES = (Product, Policy, PoolKey, License, Credential, User)


async def _fill(client: httpx.AsyncClient, account: Tenant) -> None:
    product = await factories.product(client, account)
    pooled = await factories.policy(client, account, product, usePool=True)
    plain = await factories.policy(client, account, product)
    await factories.pool_key(client, account, pooled, f"POOL-KEY-{account.slug}-1")
    await factories.pool_key(client, account, pooled, f"POOL-KEY-{account.slug}-2")
    await factories.license(client, account, pooled)
    await factories.license(client, account, plain)
    await factories.product_token(client, account, product)


async def _counts(app: FastAPI, account: Tenant) -> dict[str, int]:
    async with services_of(app).db.reader() as session:
        return {
            model.__tablename__: int(
                await session.scalar(
                    select(func.count()).select_from(model).where(model.account_id == account.id)
                )
                or 0
            )
            for model in TABLES
        }


async def test_deleting_an_account_leaves_no_orphans(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    globex = await factories.tenant(app, "globex")
    await _fill(client, acme)
    await _fill(client, globex)
    before = await _counts(app, globex)
    assert all(before.values())

    async with services_of(app).db.writer() as session:
        await session.execute(delete(Account).where(Account.id == acme.id))
        await session.commit()

    assert set((await _counts(app, acme)).values()) == {0}
    assert await _counts(app, globex) == before
