"""The console's pools: the pooled policies and their sizes, a policy's page (its pool's size
and keys, when pooled), and filling a pool by pasting lines or uploading a CSV file through
``keyplane.keys.service.add_many`` (the rule of ``POST /keys`` for each value, and a per-line
report of what it refused). Every read and change goes through the policies and keys
services as the signed-in user."""

from __future__ import annotations

import csv
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from keyplane.console import repository
from keyplane.console.license_endpoints import may
from keyplane.console.pages import PREFIX, Caller, ConsoleRoute, Form, render
from keyplane.errors import AppError
from keyplane.keys import service as keys
from keyplane.kit import paging
from keyplane.licensing.access import Action, authorize
from keyplane.policies import service as policies
from keyplane.web.dependencies import DbSession

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

POOL_PAGE = 50


@router.get("/pools")
async def list_pools(request: Request, session: DbSession, console: Caller) -> Response:
    bearer = console.bearer
    authorize(bearer, "policies", Action.READ)
    pools = await repository.pools(session, bearer.account.id)
    names = await repository.product_names(session, bearer.account.id, {p.product_id for p, _ in pools})
    return render(request, "pools/list.html", pools=pools, products=names)


def lines_of(text: str) -> list[tuple[int, str]]:
    """The keys of a pasted list or a CSV file, with their line numbers: the first column of
    each line, blank lines and a ``key`` header left out."""
    found = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        value = row[0].strip() if row else ""
        if value and not (number == 1 and value.lower() == "key"):
            found.append((number, value))
    return found


@router.get("/policies/{policy_id}")
async def show_policy(
    request: Request,
    policy_id: str,
    session: DbSession,
    console: Caller,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    done: str = "",
) -> Response:
    return await _policy_page(request, session, console, policy_id, page, done=done == "updated")


async def _policy_page(
    request: Request,
    session: DbSession,
    console: Caller,
    policy_id: str,
    page: int = 1,
    status_code: int = 200,
    **report: object,
) -> Response:
    bearer = console.bearer
    policy = await policies.get(session, bearer, policy_id)
    asked = paging.Listed(paging.Paging("number", POOL_PAGE, page), None)
    pool = await keys.pool(session, bearer, str(policy.id), asked)
    product = await repository.product_names(session, bearer.account.id, {policy.product_id})
    context: dict[str, object] = {
        "added": None,
        "present": 0,
        "refused": [],
        "problems": [],
        "pasted": "",
        "done": False,
    }
    context.update(report)
    return render(
        request,
        "pools/policy.html",
        status_code,
        policy=policy,
        product=product.get(policy.product_id, ""),
        keys=pool.items,
        size=pool.total,
        page=page,
        pages=max(1, -(-pool.total // POOL_PAGE)),
        may_add=policy.use_pool and may(bearer, "keys", Action.CREATE),
        may_update=may(bearer, "policies", Action.UPDATE),
        **context,
    )


@router.post("/policies/{policy_id}/pool")
async def add_keys(
    request: Request, policy_id: str, session: DbSession, console: Caller, form: Form
) -> Response:
    """Keys into the pool, from the pasted lines and the uploaded file: each value that
    breaks the rule is reported by line and the others are added; a request that cannot be
    taken (no keys, too many, a policy that is not pooled) adds nothing."""
    pasted, uploaded = form.get("keys"), form.get("file")
    lines = lines_of(uploaded) if uploaded.strip() else lines_of(pasted)
    try:
        done = await keys.add_many(session, console.bearer, policy_id, lines)
    except AppError as error:
        if error.status in (401, 403, 404):
            raise
        page = await _policy_page(
            request,
            session,
            console,
            policy_id,
            status_code=error.status,
            problems=[f"{error.detail} ({error.code})"],
            pasted=pasted,
        )
        await session.rollback()  # nothing of a refused request is kept (the page is made first)
        return page
    return await _policy_page(
        request,
        session,
        console,
        policy_id,
        added=len(done.added),
        present=len(done.present),
        refused=done.refused,
    )
