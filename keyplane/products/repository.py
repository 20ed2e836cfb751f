"""Queries on products and their tokens."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kit import paging
from keyplane.models import Credential, Product


async def page(
    session: AsyncSession, visible: list[ColumnElement[bool]], paged: paging.Paging
) -> paging.Page[Product]:
    return await paging.fetch(session, paged, select(Product), Product.id, visible)


async def code_taken(session: AsyncSession, product: Product) -> bool:
    """Whether another product of the account has ``product``'s code."""
    if product.code is None:
        return False
    statement = select(Product.id).where(
        Product.account_id == product.account_id, Product.code == product.code, Product.id != product.id
    )
    # Not autoflushed: on update the product already carries the new code, and flushing it
    # first would hit the unique constraint instead of answering CODE_TAKEN.
    with session.no_autoflush:
        return await session.scalar(statement) is not None


async def tokens_page(
    session: AsyncSession, product: Product, paged: paging.Paging
) -> paging.Page[Credential]:
    """A page of the product's live tokens."""
    conditions = [
        Credential.account_id == product.account_id,
        Credential.product_id == product.id,
        Credential.deleted_at.is_(None),
    ]
    return await paging.fetch(session, paged, select(Credential), Credential.id, conditions)
