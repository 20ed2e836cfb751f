"""Queries on policies."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kit import paging
from keyplane.models import Policy, Product
from keyplane.policies.schemas import PolicyFilters


async def page(
    session: AsyncSession,
    visible: list[ColumnElement[bool]],
    filters: PolicyFilters,
    paged: paging.Paging,
) -> paging.Page[Policy]:
    """A page of the policies in view that pass ``filters``."""
    conditions = list(visible)
    if filters.product is not None:
        conditions.append(Policy.product_id == filters.product)
    return await paging.fetch(session, paged, select(Policy), Policy.id, conditions)


async def product_of(session: AsyncSession, policy: Policy) -> Product | None:
    return await session.get(Product, policy.product_id)
