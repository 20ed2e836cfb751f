"""Keygen's list paging: ``limit``, ``page[number]``/``page[size]``, ``page[cursor]``.

Every list is newest first (``order=asc`` reverses it). Ids are time-ordered UUIDv7, so the
primary key is the sort key and the cursor alike, and an index on ``(account_id, id)``
serves every page. Out-of-range or malformed paging is a 400 naming the parameter.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from keyplane.errors import BadRequest

T = TypeVar("T")
MAX_SIZE = 100
MAX_NUMBER = 100
_HIDDEN = frozenset({"token", "auth"})


@dataclass(frozen=True, slots=True)
class Paging:
    mode: Literal["limit", "number", "cursor"]
    size: int
    number: int = 1
    cursor: uuid.UUID | None = None
    descending: bool = True


def _integer(value: str, name: str, low: int, high: int, hint: str = "") -> int:
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise BadRequest(
            f"must be a number between {low} and {high} (got {value!r}){hint}",
            "PARAMETERS_INVALID",
            parameter=name,
        )
    return number


def parse(request: Request) -> Paging:
    """The paging a list request asks for, or a 400."""
    query = request.query_params
    order = query.get("order", "desc").lower()
    if order not in ("asc", "desc"):
        raise BadRequest("must be one of: asc, desc", "PARAMETERS_INVALID", parameter="order")
    descending = order == "desc"
    page = {key[5:-1]: value for key, value in query.multi_items() if key.startswith("page[")}
    if "page" in query or any(key not in ("number", "size", "cursor") for key in page):
        raise BadRequest(
            "must be an object with a number or a cursor, and optionally a size",
            "PARAMETERS_INVALID",
            parameter="page",
        )
    limit = _integer(query["limit"], "limit", 1, MAX_SIZE) if "limit" in query else 10
    if not page:
        return Paging("limit", limit, descending=descending)
    size = _integer(page["size"], "page[size]", 1, MAX_SIZE) if "size" in page else limit
    if "cursor" in page:
        if "number" in page:
            raise BadRequest(
                "use page[number] or page[cursor], not both", "PARAMETERS_INVALID", parameter="page"
            )
        cursor = None
        if page["cursor"]:
            try:
                cursor = uuid.UUID(page["cursor"])
            except ValueError:
                raise BadRequest(
                    "must be the id of the last record of the previous page",
                    "PARAMETERS_INVALID",
                    parameter="page[cursor]",
                ) from None
        return Paging("cursor", size, cursor=cursor, descending=descending)
    if "number" not in page:
        raise BadRequest("page[number] or page[cursor] is required", "PARAMETERS_INVALID", parameter="page")
    hint = "; use page[cursor] to go deeper"
    number = _integer(page["number"], "page[number]", 1, MAX_NUMBER, hint)
    return Paging("number", size, number=number, descending=descending)


def _link(request: Request, **page: object) -> str:
    params = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k not in _HIDDEN and not k.startswith("page[")
    ]
    params += [(f"page[{name}]", str(value)) for name, value in page.items()]
    return f"{request.url.path}?{urlencode(sorted(params))}"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    links: dict[str, Any] | None
    """Top-level ``links`` of the document; None in ``limit`` mode (Keygen sends none)."""


async def fetch(
    session: AsyncSession,
    request: Request,
    paging: Paging,
    statement: Select[Any],
    id_column: InstrumentedAttribute[uuid.UUID],
    conditions: Sequence[ColumnElement[bool]],
) -> Page[Any]:
    """One page of ``statement`` (already filtered by ``conditions``) in the asked order."""
    statement = statement.where(*conditions)
    order = id_column.desc() if paging.descending else id_column.asc()
    if paging.mode == "limit":
        rows = (await session.scalars(statement.order_by(order).limit(paging.size))).all()
        return Page(rows, None)
    if paging.mode == "cursor":
        if paging.cursor is not None:
            beyond = id_column < paging.cursor if paging.descending else id_column > paging.cursor
            statement = statement.where(beyond)
        rows = list((await session.scalars(statement.order_by(order).limit(paging.size + 1))).all())
        more = len(rows) > paging.size
        rows = rows[: paging.size]
        cursor = "" if paging.cursor is None else str(paging.cursor)
        last_id = getattr(rows[-1], id_column.key) if rows else None
        links: dict[str, Any] = {
            "self": _link(request, cursor=cursor, size=paging.size),
            "next": _link(request, cursor=last_id, size=paging.size) if more else None,
        }
        return Page(rows, links)
    total = int(await session.scalar(select(func.count()).select_from(statement.subquery())) or 0)
    pages = max(1, math.ceil(total / paging.size))
    offset = (paging.number - 1) * paging.size
    rows = (await session.scalars(statement.order_by(order).offset(offset).limit(paging.size))).all()

    def at(number: int) -> str:
        return _link(request, number=number, size=paging.size)

    numbered: dict[str, Any] = {
        "self": at(paging.number),
        "prev": at(paging.number - 1) if paging.number > 1 else None,
        "next": at(paging.number + 1) if paging.number < pages else None,
        "first": at(1),
        "last": at(pages),
        "meta": {"pages": pages, "count": total},
    }
    return Page(rows, numbered)
