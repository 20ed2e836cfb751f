"""Keygen's list paging: ``limit``, ``page[number]``/``page[size]``, ``page[cursor]``.

Every list is newest first (``order=asc`` reverses it). Ids are time-ordered UUIDv7, so the
primary key is the sort key and the cursor alike, and an index on ``(account_id, id)``
serves every page. Out-of-range or malformed paging is a 400 naming the parameter.

Nothing here knows HTTP: the edge parses the query string into a ``Paging``, a service
fetches a ``Page``, and the edge builds the page's links from it and the request's path.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from keyplane.errors import BadRequest
from keyplane.kit.query import Items, Param, Spec, last, spec

T = TypeVar("T")
MAX_SIZE = 100
MAX_NUMBER = 100
_HIDDEN = frozenset({"token", "auth"})

PARAMETERS: Spec = spec(
    Param("limit", f"How many records (1 to {MAX_SIZE}, default 10), without page links"),
    Param("order", "asc or desc (the default: newest first)"),
    Param("page[number]", f"Page number (1 to {MAX_NUMBER}), with page[size]"),
    Param("page[size]", f"Records per page (1 to {MAX_SIZE})"),
    Param("page[cursor]", "Id of the last record of the previous page (empty for the first)"),
)
"""The paging parameters every Keygen-style list takes."""


@dataclass(frozen=True, slots=True)
class Paging:
    mode: Literal["limit", "number", "cursor"]
    size: int
    number: int = 1
    cursor: uuid.UUID | None = None
    descending: bool = True


DEFAULT = Paging("limit", 10)


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


def parse(query: Items) -> Paging:
    """The paging a list request asks for, or a 400."""
    order = (last(query, "order") or "desc").lower()
    if order not in ("asc", "desc"):
        raise BadRequest("must be one of: asc, desc", "PARAMETERS_INVALID", parameter="order")
    descending = order == "desc"
    page = {key[5:-1]: value for key, value in query if key.startswith("page[")}
    if last(query, "page") is not None or any(key not in ("number", "size", "cursor") for key in page):
        raise BadRequest(
            "must be an object with a number or a cursor, and optionally a size",
            "PARAMETERS_INVALID",
            parameter="page",
        )
    given = last(query, "limit")
    limit = _integer(given, "limit", 1, MAX_SIZE) if given is not None else 10
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


def _link(path: str, query: Items, **page: object) -> str:
    params = [(k, v) for k, v in query if k not in _HIDDEN and not k.startswith("page[")]
    params += [(f"page[{name}]", str(value)) for name, value in page.items()]
    return f"{path}?{urlencode(sorted(params))}"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, and what its links are made of."""

    items: Sequence[T]
    paging: Paging = DEFAULT
    next_cursor: uuid.UUID | None = None
    """Cursor mode: the id the next page starts after (None on the last page)."""
    total: int = 0
    """Number mode: how many records the whole list holds."""

    def links(self, path: str, query: Items) -> dict[str, Any] | None:
        """Top-level ``links`` of the document, for the request at ``path`` with ``query``;
        None in ``limit`` mode (Keygen sends none)."""
        paging = self.paging
        if paging.mode == "limit":
            return None
        if paging.mode == "cursor":
            cursor = "" if paging.cursor is None else str(paging.cursor)
            return {
                "self": _link(path, query, cursor=cursor, size=paging.size),
                "next": (
                    None
                    if self.next_cursor is None
                    else _link(path, query, cursor=self.next_cursor, size=paging.size)
                ),
            }
        pages = max(1, math.ceil(self.total / paging.size))

        def at(number: int) -> str:
            return _link(path, query, number=number, size=paging.size)

        return {
            "self": at(paging.number),
            "prev": at(paging.number - 1) if paging.number > 1 else None,
            "next": at(paging.number + 1) if paging.number < pages else None,
            "first": at(1),
            "last": at(pages),
            "meta": {"pages": pages, "count": self.total},
        }


async def fetch(
    session: AsyncSession,
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
        return Page(rows, paging)
    if paging.mode == "cursor":
        if paging.cursor is not None:
            beyond = id_column < paging.cursor if paging.descending else id_column > paging.cursor
            statement = statement.where(beyond)
        rows = list((await session.scalars(statement.order_by(order).limit(paging.size + 1))).all())
        more = len(rows) > paging.size
        rows = rows[: paging.size]
        last_id = getattr(rows[-1], id_column.key) if rows and more else None
        return Page(rows, paging, next_cursor=last_id)
    # Counted on the ids alone: the records' computed columns (a license's machine counts,
    # each a subquery per row) would otherwise be worked out for every record counted.
    counted = statement.with_only_columns(id_column, maintain_column_froms=True).subquery()
    total = int(await session.scalar(select(func.count()).select_from(counted)) or 0)
    offset = (paging.number - 1) * paging.size
    rows = (await session.scalars(statement.order_by(order).offset(offset).limit(paging.size))).all()
    return Page(rows, paging, total=total)


F = TypeVar("F")


@dataclass(frozen=True, slots=True)
class Listed(Generic[F]):
    """What a list request asks for: its paging and its filters (typed per list)."""

    paging: Paging
    filters: F


def listing_spec(*filters: Param) -> Spec:
    """The parameters of a list: the paging ones and its own filters."""
    return PARAMETERS + Spec(filters)


def parser(parameters: Spec, filters: Callable[[Items], F]) -> Callable[[Items], Listed[F]]:
    """How a list's query string becomes a ``Listed``: paging, then the one rule on unknown
    parameters, then the list's filters (each refusing a bad value with a 400)."""

    def parse_list(query: Items) -> Listed[F]:
        paged = parse(query)
        parameters.refuse_unknown(query)
        return Listed(paged, filters(query))

    return parse_list


def no_filters(query: Items) -> None:
    """The filters of a list that has none."""
    return None
